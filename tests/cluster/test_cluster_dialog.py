"""The Cluster setting: test connection lists the nodes of a real local Ray instance."""

from __future__ import annotations

import importlib.util
import os

import pytest

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra"),
              pytest.mark.enable_socket]


def test_dialog_tests_connection_and_saves_address(ray_cluster, qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from workbench.gui.cluster_dialog import SETTING, ClusterDialog

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    dialog = ClusterDialog(settings=settings)
    qtbot.addWidget(dialog)
    dialog.address.setText("local")
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=60000)
    assert dialog.status.text().startswith("Connected."), dialog.status.text()
    assert dialog.nodes.rowCount() == 1
    assert dialog.nodes.item(0, 0).text() == "127.0.0.1" and dialog.nodes.item(0, 1).text() == "2"
    if os.environ.get("WB_SHOTS"):
        dialog.grab().save(os.path.join(os.environ["WB_SHOTS"], "cluster_dialog.png"))
    dialog.save()
    assert settings.value(SETTING) == "local"

    dialog.address.setText("head:notaport")
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=10000)
    assert "Cannot connect" in dialog.status.text() and "not a port" in dialog.status.text()
