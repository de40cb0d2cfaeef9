"""Credentials, Plugins and About dialogs."""

from __future__ import annotations

import platform

from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from workbench import APP_NAME
from workbench.core import secrets
from workbench.core.errors import SecretsUnavailableError
from workbench.core.versions import versions


class CredentialsDialog(QDialog):
    """Names stored for this project; values only on an explicit Reveal."""

    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Credentials")
        self.resize(520, 360)
        layout = QVBoxLayout(self)
        ok, info = secrets.available()
        self.status = QLabel(
            f"Secrets for <b>{project.name}</b> live in the OS keyring ({info}); "
            "the project file keeps only their names." if ok else info)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.RichText if ok else Qt.PlainText)
        if not ok:
            self.status.setStyleSheet("color: #b03a2e; font-weight: bold;")
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.list = QListWidget()
        row.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        self.add_button = QPushButton("&Add…")
        self.reveal_button = QPushButton("&Reveal")
        self.delete_button = QPushButton("&Delete")
        for b in (self.add_button, self.reveal_button, self.delete_button):
            buttons.addWidget(b)
            b.setEnabled(ok)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)
        self.revealed = QLineEdit()
        self.revealed.setReadOnly(True)
        self.revealed.setPlaceholderText("Select a name and press Reveal to show its value here.")
        layout.addWidget(self.revealed)
        box = QDialogButtonBox(QDialogButtonBox.Close)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self.add_button.clicked.connect(self._add)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.list.currentItemChanged.connect(lambda *_: self.revealed.clear())
        self.available = ok
        if ok:
            self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        try:
            listed = secrets.list_secrets(self.project)
        except Exception as exc:  # the keyring can fail at any time (locked, D-Bus gone)
            self.status.setText(f"The keyring failed: {exc}")
            return
        for name, present in listed:
            item = QListWidgetItem(name if present else f"{name}  (missing from the keyring)")
            item.setData(Qt.UserRole, name)
            self.list.addItem(item)

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item else None

    def add_secret(self, name: str, value: str) -> None:
        secrets.set_secret(self.project, name, value)
        self.refresh()

    def _add(self) -> None:
        name, ok = QInputDialog.getText(self, "Add secret", "Name (e.g. openai_api_key):")
        if not ok or not name.strip():
            return
        value, ok = QInputDialog.getText(self, "Add secret", f"Value for {name}:", QLineEdit.Password)
        if not ok or not value:
            return
        try:
            self.add_secret(name.strip(), value)
        except (SecretsUnavailableError, ValueError) as exc:
            QMessageBox.critical(self, "Credentials", str(exc))

    def reveal_selected(self) -> None:
        name = self.selected_name()
        if name:
            try:
                value = secrets.get_secret(self.project, name)
            except Exception as exc:  # locked or vanished keyring: say so, do not crash
                self.revealed.setText(f"(the keyring failed: {exc})")
                return
            self.revealed.setText(value if value is not None else "(not in the keyring)")

    def delete_selected(self, confirm: bool = True) -> None:
        name = self.selected_name()
        if not name:
            return
        if confirm and QMessageBox.question(self, "Delete secret", f"Delete '{name}' from the OS keyring?") \
                != QMessageBox.Yes:
            return
        secrets.delete_secret(self.project, name)
        self.revealed.clear()
        self.refresh()


class PluginsDialog(QDialog):
    def __init__(self, registry, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.resize(760, 300)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(registry.statuses), 5)
        self.table.setHorizontalHeaderLabels(["Plugin", "Title", "Version", "Status", "Error"])
        for i, s in enumerate(registry.statuses):
            values = [s.name, s.plugin.title if s.loaded else s.value, s.version or "",
                      "loaded" if s.loaded else "failed", s.error or ""]
            for j, v in enumerate(values):
                item = QTableWidgetItem(v)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                if not s.loaded:
                    item.setForeground(Qt.red)
                    item.setToolTip(getattr(s, "traceback", s.error or ""))
                self.table.setItem(i, j, item)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.Stretch)
        self.table.resizeColumnsToContents()
        layout.addWidget(self.table)
        box = QDialogButtonBox(QDialogButtonBox.Close)
        box.rejected.connect(self.reject)
        layout.addWidget(box)


def about_text() -> str:
    v = versions()
    v["Qt"] = qVersion()
    rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{val}</td></tr>" for k, val in v.items())
    return (f"<h3>{APP_NAME}</h3><p>Audits code, anonymises data, attacks models and watches systems, "
            f"offline. Running on {platform.system()}.</p><table>{rows}</table>")


class AboutDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        layout = QFormLayout(self)
        self.label = QLabel(about_text())
        self.label.setTextFormat(Qt.RichText)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addRow(self.label)
        box = QDialogButtonBox(QDialogButtonBox.Ok)
        box.accepted.connect(self.accept)
        layout.addRow(box)
