"""Start-up as `workbench gui` does it: the window paints first, then opens the project and shows
its Overview, then walks the audit log; no heavy library is imported on the way."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

from workbench.core.plugins import load_plugins
from workbench.core.project import Project

HEAVY = ("torch", "pandas", "numpy", "pyqtgraph", "bandit", "ray", "reportlab", "keyring", "multiprocessing",
         "workbench.gui.findings_view")

CHILD = """
import json, sys
from PySide6.QtCore import QEvent, QObject, QTimer
from workbench.gui.app import create_window

HEAVY = {heavy!r}
LATER = ("workbench.gui.events_dock", "workbench.gui.findings_view")
app, win = create_window(sys.argv[1], reopen_last=False, open_after_paint=True)
seen = {{}}

def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)

class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint and "paint" not in seen:
            seen["paint"] = {{"project": win.project is not None, "modules": loaded(),
                             "later": sorted(m for m in LATER if m in sys.modules)}}
        return False

def opened(project):
    if project is not None and "open" not in seen:
        seen["open"] = {{"events": win.events.model.rowCount(), "runs": win.overview.runs_model.rowCount(),
                        "modules": loaded(), "banner": not win.events.banner.isHidden()}}

def done():
    if "after" in seen:
        return
    seen["after"] = {{"events": win.events.model.rowCount(), "banner": not win.events.banner.isHidden(),
                     "banner_text": win.events.banner.text(), "findings_built": win._findings_view is not None}}
    print(json.dumps(seen), flush=True)
    app.quit()

def walked():
    # the events dock fills its rows last, after the chain check set the banner: the log was walked
    if win.events.model.rowCount() > 0:
        done()

painted = Painted()
win.tabs.tabBar().installEventFilter(painted)
win.project_changed.connect(opened)
win.show()
poll = QTimer()
poll.timeout.connect(walked)
poll.start(20)
QTimer.singleShot(60000, done)  # only so that a start-up that never walks the log ends; the asserts then fail
app.exec()
"""


def start(path, tmp_path) -> dict:
    env = dict(os.environ, WORKBENCH_SETTINGS_DIR=str(tmp_path / "settings"))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD.format(heavy=HEAVY)), str(path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_project(path):
    with Project.create(path, plugins=load_plugins().plugins) as p:
        run = p.create_run("code_audit", "audit", {"target": "/src"}, title="audit src", target="/src")
        p.start_run(run)
        p.finish_run(run, "done", summary={"files": 1})
    return path


def test_window_paints_before_the_project_opens_and_the_log_is_checked_after(tmp_path):
    seen = start(make_project(tmp_path / "p.wbproj"), tmp_path)
    assert seen["paint"]["project"] is False  # the first paint did not wait for the project
    assert seen["paint"]["modules"] == [], seen["paint"]
    assert seen["paint"]["later"] == [], seen["paint"]  # built when needed, after the first paint
    assert seen["open"]["runs"] == 1  # the Overview shows the project when it is opened
    assert seen["open"]["events"] == 0  # ... and the audit log is read after that
    assert seen["open"]["modules"] == [], seen["open"]
    assert seen["after"]["events"] >= 2 and not seen["after"]["banner"]
    assert seen["after"]["findings_built"] is False  # the Findings tab is built when first shown


def test_a_tampered_log_is_still_reported_at_start_up(tmp_path):
    path = make_project(tmp_path / "t.wbproj")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET message = 'nothing happened' WHERE id = 2")
    conn.commit()
    conn.close()
    seen = start(path, tmp_path)
    assert seen["after"]["banner"] and "event 2" in seen["after"]["banner_text"]


def test_findings_tab_is_built_when_first_shown(window, tmp_path, qtbot):
    from workbench.gui.findings_view import FindingsView

    window.open_project(make_project(tmp_path / "f.wbproj"))
    assert window._findings_view is None
    index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Findings")
    window.tabs.setCurrentIndex(index)
    assert isinstance(window.tabs.widget(index), FindingsView) and window.tabs.currentIndex() == index
    assert window.findings_view is window.tabs.widget(index)
    assert window.tabs.tabText(index) == "Findings"
