"""A JobPanel whose target is no path (``browse=None``: an entry point, a URL): the message for an
empty target names the target, and a dropped file does not land in it."""

from __future__ import annotations

from form_plugin import TargetParams, form_plugin


def _drop(panel, path):
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    panel.dragEnterEvent(enter)
    panel.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    return enter.isAccepted()


def test_no_browse_names_the_target_and_refuses_drops(window, qtbot, tmp_path):
    from workbench.gui.api import JobPanel, TabHost

    plugin = form_plugin("nobrowse", "No browse", "probe", TargetParams)
    panel = JobPanel(plugin, TabHost(window, plugin), "probe", browse=None, target_label="Endpoint URL:")
    qtbot.addWidget(panel)
    assert panel.start() is None
    assert panel.error.text() == "Give the endpoint URL first."
    assert "None" not in panel.target.placeholderText() and panel.browse_button.isHidden()
    panel.target.setText("http://127.0.0.1:8080/v1")
    assert not _drop(panel, tmp_path)
    assert panel.target.text() == "http://127.0.0.1:8080/v1"  # not replaced by the dropped folder


def test_with_browse_a_drop_still_lands(window, qtbot, tmp_path):
    from workbench.gui.api import JobPanel, TabHost

    plugin = form_plugin("withbrowse", "With browse", "scan", TargetParams)
    panel = JobPanel(plugin, TabHost(window, plugin), "scan", browse="file")
    qtbot.addWidget(panel)
    assert panel.start() is None and panel.error.text().startswith("Choose a file first")
    assert _drop(panel, tmp_path / "x.py") and panel.target.text() == str(tmp_path / "x.py")
