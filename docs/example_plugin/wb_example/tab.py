"""The example plugin's tab: the kit's JobPanel for the job, and the files of the latest run."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QVBoxLayout

from workbench.gui.api import JobPanel, PluginTab


class ExampleTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        # folder picker, a form from CountParams (max line), Run/Cancel, progress, ETA, errors;
        # Run is disabled in a read-only window
        self.panel = JobPanel(plugin, host, "count")
        self.folder, self.run_button = self.panel.target, self.panel.run_button
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Lines", "Longest line"])
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(self.table, 1)
        self.panel.finished.connect(lambda job: self.refresh())

    def start(self):
        return self.panel.start()

    def refresh(self) -> None:
        run = self.store.latest_run(job="count") if self.store is not None else None
        rows = self.store.query("SELECT path, lines, longest FROM example_files WHERE run_id=? ORDER BY path",
                                (run["id"],)) if run else []
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for j, key in enumerate(("path", "lines", "longest")):
                self.table.setItem(i, j, QTableWidgetItem(str(r[key])))
