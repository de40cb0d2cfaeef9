"""The example plugin's tab: the kit's JobPanel for the job, and the files of the latest run."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout

from workbench.gui.api import JobPanel, PluginTab, table_model, table_view

from .store import files


class ExampleTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        # folder picker, a form from CountParams (max line), Run/Cancel, progress, ETA, errors;
        # Run is disabled in a read-only window
        self.panel = JobPanel(plugin, host, "count")
        self.folder, self.run_button = self.panel.target, self.panel.run_button
        self.table = table_view()  # read-only rows, sorted by a header click (numbers as numbers)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(self.table, 1)
        self.panel.finished.connect(lambda job: self.refresh())

    def start(self):
        return self.panel.start()

    def refresh(self) -> None:
        run = self.store.latest_run(job="count") if self.store is not None else None
        rows = files(self.store, run.id) if run else []
        self.table.setModel(table_model(["File", "Lines", "Longest line"],
                                        [(r["path"], r["lines"], r["longest"]) for r in rows]))
