"""Credentials, Plugins and About dialogs."""

from __future__ import annotations

import html
import platform

from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QComboBox,
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
from workbench.core.jobs import share_unlocked_secrets
from workbench.core.versions import versions


class CredentialsDialog(QDialog):
    """Names stored for this project; values only on an explicit Reveal."""

    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Credentials")
        self.resize(520, 360)
        layout = QVBoxLayout(self)
        # Where values go: chosen here explicitly, never switched silently.
        where = QHBoxLayout()
        where.addWidget(QLabel("Secrets go to:"))
        self.backend_box = QComboBox()
        self.backend_box.addItem("the OS keyring", "os")
        self.backend_box.addItem("an encrypted file (passphrase)", "encrypted-file")
        where.addWidget(self.backend_box, 1)
        self.unlock_button = QPushButton("&Unlock…")
        where.addWidget(self.unlock_button)
        layout.addLayout(where)
        self.status = QLabel()
        self.status.setWordWrap(True)
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
        self.unlock_button.clicked.connect(self._ask_passphrase)
        self.update_state()
        self.backend_box.currentIndexChanged.connect(self._backend_chosen)

    def update_state(self) -> None:
        """Show which backend is in use and whether it can be used now; enable what works."""
        try:
            chosen = secrets.chosen_backend()
            locked = secrets.needs_passphrase()
        except SecretsUnavailableError as exc:  # a damaged choice file: say so, pick nothing
            chosen, locked = None, False
            self.status_error(str(exc))
        else:
            ok, info = secrets.available()
            if ok:
                self.status.setTextFormat(Qt.RichText)
                self.status.setStyleSheet("")
                self.status.setText(
                    f"Secrets for <b>{html.escape(self.project.name)}</b> live in "
                    f"{html.escape(secrets.backend_description())}; the project file keeps only their names.")
            else:
                self.status_error(info)
        self.backend_box.blockSignals(True)
        self.backend_box.setCurrentIndex(max(0, self.backend_box.findData(chosen)))
        self.backend_box.blockSignals(False)
        self.unlock_button.setVisible(chosen == "encrypted-file")
        self.unlock_button.setEnabled(locked)
        self.available = chosen is not None and secrets.available()[0]
        for b in (self.add_button, self.reveal_button, self.delete_button):
            b.setEnabled(self.available)
        if getattr(self.project, "readonly", False):
            # A read-only view may look at values but cannot record a new name or forget one.
            for b in (self.add_button, self.delete_button):
                b.setEnabled(False)
                b.setToolTip("The project is open read-only")
        self.list.clear()
        if self.available:
            self.refresh()

    def status_error(self, message: str) -> None:
        self.status.setTextFormat(Qt.PlainText)
        self.status.setStyleSheet("color: #b03a2e; font-weight: bold;")
        self.status.setText(message)

    def choose_backend(self, name: str) -> None:
        secrets.choose_backend(name)
        self.update_state()

    def unlock(self, passphrase: str) -> None:
        """Unlock the encrypted file (tests call this; the button asks first)."""
        secrets.unlock(passphrase)
        share_unlocked_secrets()
        self.update_state()

    def _backend_chosen(self, index: int) -> None:
        try:
            self.choose_backend(self.backend_box.itemData(index))
        except (SecretsUnavailableError, ValueError) as exc:
            QMessageBox.critical(self, "Credentials", str(exc))
        if secrets.needs_passphrase():
            self._ask_passphrase()

    def _ask_passphrase(self) -> None:
        def ask(prompt: str):
            text, ok = QInputDialog.getText(self, "Encrypted secrets file", prompt, QLineEdit.Password)
            return text if ok else None

        try:
            if secrets.prompt_unlock(ask):
                share_unlocked_secrets()  # jobs already running need it too
        except (SecretsUnavailableError, ValueError) as exc:  # wrong passphrase, damaged file, too short
            QMessageBox.critical(self, "Credentials", str(exc))
        self.update_state()

    def refresh(self) -> None:
        self.list.clear()
        try:
            listed = secrets.list_secrets(self.project)
        except Exception as exc:  # the keyring can fail at any time (locked, D-Bus gone, file altered)
            self.status_error(f"The secrets backend failed: {exc}")
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
        if confirm and QMessageBox.question(
                self, "Delete secret", f"Delete '{name}' from {secrets.backend_description()}?") != QMessageBox.Yes:
            return
        secrets.delete_secret(self.project, name)
        self.revealed.clear()
        self.refresh()


class PluginsDialog(QDialog):
    """Every plugin with its load status, and whether it can use the open project."""

    def __init__(self, registry, parent=None, project=None):
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.resize(760, 300)
        layout = QVBoxLayout(self)
        failures = getattr(project, "plugin_failures", {}) if project is not None else {}
        self.table = QTableWidget(len(registry.statuses), 5)
        self.table.setHorizontalHeaderLabels(["Plugin", "Title", "Version", "Status", "Error"])
        for i, s in enumerate(registry.statuses):
            plugin_id = s.plugin.id if s.loaded else None
            status = "loaded" if s.loaded else "failed"
            error = s.error or ""
            if plugin_id in failures:
                status, error = "cannot use this project", failures[plugin_id]
            values = [s.name, s.plugin.title if s.loaded else s.value, s.version or "", status, error]
            for j, v in enumerate(values):
                item = QTableWidgetItem(v)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                if not s.loaded or plugin_id in failures:
                    item.setForeground(Qt.red)
                    item.setToolTip(getattr(s, "traceback", s.error or ""))
                self.table.setItem(i, j, item)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.Stretch)
        self.table.resizeColumnsToContents()
        layout.addWidget(self.table)
        box = QDialogButtonBox(QDialogButtonBox.Close)
        box.rejected.connect(self.reject)
        layout.addWidget(box)


def capabilities_line(registry) -> str:
    """What this installation can do: the titles of the plugins that loaded, nothing more.
    A pillar whose plugin is missing or failed is not claimed."""
    loaded = [p.title for p in registry.plugins]
    failed = [s.name for s in registry.statuses if not s.loaded]
    text = (f"Installed and working: {', '.join(loaded)}." if loaded
            else "No plugin is installed and working, so there is nothing to run yet.")
    if failed:
        text += f" Failed to load: {', '.join(failed)} (Help → Plugins)."
    return text + " Works offline."


def about_text(registry=None) -> str:
    if registry is None:
        from workbench.core.plugins import load_plugins

        registry = load_plugins()
    v = versions()
    v["Qt"] = qVersion()
    rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{html.escape(str(val))}</td></tr>"
                   for k, val in v.items())
    return (f"<h3>{APP_NAME}</h3><p>{html.escape(capabilities_line(registry))} "
            f"Running on {platform.system()}.</p><table>{rows}</table>")


class AboutDialog(QDialog):
    def __init__(self, parent=None, registry=None):
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        layout = QFormLayout(self)
        self.label = QLabel(about_text(registry))
        self.label.setTextFormat(Qt.RichText)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addRow(self.label)
        box = QDialogButtonBox(QDialogButtonBox.Ok)
        box.accepted.connect(self.accept)
        layout.addRow(box)
