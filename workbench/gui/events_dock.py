"""The audit log, newest first, with a filter and a banner when the chain is broken."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from workbench.core.summary import _fmt_time
from workbench.gui.records_model import RecordsModel, records_view

#: the dock shows the newest entries; `workbench info` and the file hold them all
EVENTS_SHOWN = 5000


class EventsDockWidget(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #b03a2e; color: white; padding: 4px; font-weight: bold;")
        self.banner.hide()
        layout.addWidget(self.banner)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter events (kind, plugin or text)…")
        self.filter.setClearButtonEnabled(True)
        layout.addWidget(self.filter)
        self.model = RecordsModel([("ts", "Time"), ("kind", "Kind"), ("plugin", "Plugin"), ("message", "Event")],
                                  formatters={"ts": _fmt_time})
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = records_view(self.proxy, stretch_column=3)
        layout.addWidget(self.view)
        self._last_id = None

    def set_project(self, project) -> None:
        """Show *project*'s log; returns the hash-chain check it made (None without a project)."""
        self.project = project
        self._last_id = None
        self.banner.hide()
        if project is None:
            self.model.set_rows([])
            return None
        chain = project.verify_events()
        if not chain.ok:
            self.banner.setText(f"Audit log tampered with: {chain.message} (first broken entry: "
                                f"{chain.first_broken_id}).")
            self.banner.show()
        self.refresh()
        return chain

    def refresh(self, force: bool = False) -> None:
        project = getattr(self, "project", None)
        if project is None or project.conn is None:
            return
        top = project.last_event_id()
        if top == self._last_id and not force:
            return
        self._last_id = top
        self.model.set_rows(project.events(limit=EVENTS_SHOWN))
        for column in (0, 1, 2):  # time, kind, plugin: their contents; the event text takes the rest
            self.view.resizeColumnToContents(column)
