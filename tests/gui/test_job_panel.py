"""JobPanel of workbench.gui.api: a form from the job's params dataclass, a real job in a worker
process (the core test plugin), errors in place, Run disabled in a read-only window."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from form_plugin import TargetParams, form_plugin


@dataclass
class ShapeParams(TargetParams):
    rate: float = 0.5
    strict: bool = True
    mode: Literal["fast", "thorough"] = "thorough"
    note: str = "hello"
    limit: int | None = None
    tags: list[str] = field(default_factory=list)
    steps: int = field(default=10, metadata={"label": "Steps (1-99):", "min": 1, "max": 99, "help": "how many"})


def _registry_plugin(window, plugin_id):
    return next(p for p in window.registry.plugins if p.id == plugin_id)


def test_form_from_the_params_dataclass_and_errors_in_place(window, qtbot, tmp_path):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

    from workbench.gui.api import JobPanel, TabHost

    plugin = form_plugin("shapetest", "Shapes", "shape", ShapeParams)
    panel = JobPanel(plugin, TabHost(window, plugin), "shape")
    qtbot.addWidget(panel)
    kinds = {name: type(w) for name, w in panel.fields.items()}
    assert kinds == {"depth": QSpinBox, "rate": QDoubleSpinBox, "strict": QCheckBox, "mode": QComboBox,
                     "note": QLineEdit, "limit": QLineEdit, "tags": QLineEdit, "steps": QSpinBox}
    assert panel.target is not None and "target" not in panel.fields  # the target is the picker
    assert [panel.fields["mode"].itemText(i) for i in range(2)] == ["fast", "thorough"]
    assert panel.fields["mode"].currentText() == "thorough" and panel.fields["strict"].isChecked()
    assert (panel.fields["steps"].minimum(), panel.fields["steps"].maximum()) == (1, 99)
    assert panel.fields["steps"].toolTip() == "how many"
    panel.set_values(target=str(tmp_path), depth=5, mode="fast", tags=["a", "b"], limit=7, strict=False)
    assert panel.values() == {"target": str(tmp_path), "depth": 5, "rate": 0.5, "strict": False, "mode": "fast",
                              "note": "hello", "limit": 7, "tags": ["a", "b"], "steps": 10}
    panel.fields["limit"].clear()
    assert panel.values()["limit"] is None  # an empty optional is None
    # errors are shown under the form, nothing is started
    panel.fields["limit"].setText("many")
    assert panel.start() is None and "limit" in panel.error.text() and not panel.error.isHidden()
    panel.fields["limit"].clear()
    panel.fields["depth"].setValue(0)
    assert panel.start() is None and "depth must be at least 1" in panel.error.text()
    panel.fields["depth"].setValue(2)
    window.close_project()
    assert panel.start() is None and "Open or create a project first" in panel.error.text()
    panel.target.clear()
    assert panel.start() is None and "Choose a folder" in panel.error.text()
    # a folder dropped on the panel becomes the target (its path, not its URL)
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    panel.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert panel.target.text() == str(tmp_path)


def test_runs_a_real_job_with_progress_and_signals(window, qtbot, tmp_path):
    from workbench.gui.api import JobPanel, TabHost

    assert window.new_project(tmp_path / "p.wbproj")
    plugin = _registry_plugin(window, "testplugin")
    panel = JobPanel(plugin, TabHost(window, plugin), "batches")
    qtbot.addWidget(panel)
    assert panel.target is None and set(panel.fields) == {"batches", "size", "pause"}
    panel.set_values(batches=4, size=3, pause=0.2)
    started, finished = [], []
    panel.started.connect(started.append)
    panel.finished.connect(finished.append)
    job = panel.start()
    assert job is not None and job.pid != os.getpid() and started == [job]
    assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: finished == [job], timeout=60000)
    assert job.status == "done", job.result
    assert panel.progress.format() == "done" and panel.progress.value() == panel.progress.maximum()
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.error.isHidden()
    store = window.project.store("testplugin")
    assert len(store.findings(run_id=job.run_id)) == 12
    assert store.run(job.run_id)["params"] == {"batches": 4, "size": 3, "pause": 0.2}


def test_a_failed_run_is_shown_in_place_and_cancel_works(window, qtbot, tmp_path):
    from workbench.gui.api import JobPanel, TabHost

    assert window.new_project(tmp_path / "p.wbproj")
    plugin = _registry_plugin(window, "testplugin")
    host = TabHost(window, plugin)
    failing = JobPanel(plugin, host, "fail_clearly")
    qtbot.addWidget(failing)
    job = failing.start()
    qtbot.waitUntil(lambda: job.finished, timeout=60000)
    qtbot.waitUntil(lambda: not failing.error.isHidden(), timeout=5000)
    assert job.status == "failed" and failing.error.text().startswith("The run failed:")
    slow = JobPanel(plugin, host, "batches")
    qtbot.addWidget(slow)
    slow.set_values(batches=400, size=1, pause=0.05)
    job = slow.start()
    qtbot.waitUntil(lambda: job.tracker.done >= 1, timeout=60000)
    slow.cancel_button.click()
    qtbot.waitUntil(lambda: job.finished, timeout=60000)
    assert job.status == "cancelled" and slow.run_button.isEnabled()


def test_run_is_disabled_in_a_read_only_window(tmp_path, qtbot, monkeypatch):
    from workbench.core.project import Project
    from workbench.gui.api import JobPanel, TabHost, open_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    path = tmp_path / "ro.wbproj"
    Project.create(path).close()
    window = open_window(path, read_only=True, size=(1280, 800))
    qtbot.addWidget(window)
    try:
        plugin = _registry_plugin(window, "testplugin")
        panel = JobPanel(plugin, TabHost(window, plugin), "batches")
        qtbot.addWidget(panel)
        assert not panel.run_button.isEnabled()
    finally:
        window.close_project()
