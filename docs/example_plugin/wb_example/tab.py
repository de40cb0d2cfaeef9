"""The example plugin's tab: a folder, Run and Cancel, and the files of the selected run."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout

from workbench.gui.api import PluginTab


class ExampleTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job = None
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("Folder to read")
        self.run_button = QPushButton("Run ▶")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel ■")
        self.cancel_button.clicked.connect(lambda: self.job and self.job.cancel())
        self.progress = QProgressBar()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Lines", "Longest line"])
        top = QHBoxLayout()
        for w in (self.folder, self.run_button, self.cancel_button, self.progress):
            top.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        host.writes(self.run_button)  # disabled while the project is open read-only
        host.job_updated.connect(self._updated)
        host.job_finished.connect(lambda job: self.refresh())

    def start(self):
        self.job = self.host.start_job(self.plugin.job_spec("count", target=self.folder.text()))
        return self.job

    def _updated(self, job) -> None:
        if job.tracker.total:
            self.progress.setRange(0, int(job.tracker.total))
            self.progress.setValue(int(job.tracker.done))

    def refresh(self) -> None:
        run = self.store.latest_run(job="count") if self.store is not None else None
        rows = self.store.query("SELECT path, lines, longest FROM example_files WHERE run_id=? ORDER BY path",
                                (run["id"],)) if run else []
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for j, key in enumerate(("path", "lines", "longest")):
                self.table.setItem(i, j, QTableWidgetItem(str(r[key])))
