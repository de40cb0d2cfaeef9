"""The Cluster setting: a Ray cluster's address, "Test connection", and its nodes with CPUs and GPUs.

The address is kept in the window's settings (``cluster/address``); an empty address means the
jobs run on this machine. Testing connects in a background thread (Ray is imported only then)
and lists the nodes; nothing is sent to the cluster but the connection itself.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

SETTING = "cluster/address"


class _Relay(QObject):
    done = Signal(bool, str, list)


def tested(address: str) -> tuple[bool, str, list]:
    """(ok, text, nodes) for *address*: what the dialog shows."""
    from workbench.core import cluster

    ok, text = cluster.test_connection(address)
    nodes = cluster.connected().nodes() if ok and cluster.connected() is not None else []
    return ok, text, nodes


class ClusterDialog(QDialog):
    def __init__(self, parent=None, settings: QSettings | None = None):
        super().__init__(parent)
        self.setWindowTitle("Cluster")
        self.settings = settings
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.address = QLineEdit(str(settings.value(SETTING, "") or "") if settings is not None else "")
        self.address.setPlaceholderText("HOST:PORT, ray://HOST:PORT, auto, or empty: run on this machine")
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        row.addWidget(self.test_button)
        form.addRow("Ray address", row)
        layout.addLayout(form)
        self.status = QLabel("Without an address, audits, sweeps and anonymisation run on this machine.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.nodes = QTableWidget(0, 4)
        self.nodes.setHorizontalHeaderLabels(["Node", "CPUs", "GPUs", "Memory (GB)"])
        self.nodes.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.nodes.verticalHeader().setVisible(False)
        layout.addWidget(self.nodes)
        note = QLabel("Only the cluster's host is allowed through the offline guard. Files to audit and model "
                      "weights travel to the workers; secrets and the project file stay here.")
        note.setWordWrap(True)
        layout.addWidget(note)
        box = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self._relay = _Relay()
        self._relay.done.connect(self.show_result)
        self.resize(560, 360)

    def address_text(self) -> str:
        return self.address.text().strip()

    def test_connection(self) -> None:
        address = self.address_text()
        if not address:
            self.status.setText("No address: the jobs run on this machine.")
            return
        self.test_button.setEnabled(False)
        self.status.setText(f"Connecting to {address}…")

        def work():
            try:
                ok, text, nodes = tested(address)
            except Exception as exc:  # shown as is
                ok, text, nodes = False, str(exc), []
            self._relay.done.emit(ok, text, nodes)

        threading.Thread(target=work, daemon=True, name="cluster-test").start()

    def show_result(self, ok: bool, text: str, nodes: list) -> None:
        self.test_button.setEnabled(True)
        self.status.setText(("Connected. " if ok else "Cannot connect: ") + text)
        self.show_nodes(nodes)

    def show_nodes(self, nodes: list) -> None:
        self.nodes.setRowCount(len(nodes))
        for i, n in enumerate(nodes):
            for j, value in enumerate((n["address"], n["cpus"], n["gpus"], n["memory_gb"])):
                self.nodes.setItem(i, j, QTableWidgetItem(str(value)))

    def save(self) -> None:
        if self.settings is not None:
            self.settings.setValue(SETTING, self.address_text())
        self.accept()
