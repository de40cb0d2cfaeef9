"""Start-up builds only what the Overview shows: the report module, the docks' WorkbenchStyle and
their title-bar glyphs, the Overview's Targets and Runs views come after its first paint (or when
first shown), and look the same as when they were built at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtWidgets import QAbstractButton, QApplication

from test_main_window import make_project

CHILD = """
import json, sys
from PySide6.QtCore import QTimer
from workbench.gui import theme
from workbench.gui.app import create_window

app, win = create_window(sys.argv[1], theme=sys.argv[2], reopen_last=False, open_after_paint=True)
seen = {}

def state():
    side = win.overview.side
    return {"report": "workbench.core.report" in sys.modules,
            "style_class": theme._WorkbenchStyle is not None, "painted_glyphs": len(theme._painted),
            "views": sorted(win.overview._views),
            "tabs": [side.tabText(i) for i in range(side.count())], "current": side.currentIndex()}

def opened(project):
    if project is not None and "open" not in seen:
        win.repaint()
        seen["open"] = state()
        QTimer.singleShot(200, later)

def later():
    seen["after"] = state()
    seen["after"]["targets"] = [r["target"] for r in win.overview._targets_model._rows]
    win.set_dock_open("events", True)
    QTimer.singleShot(100, docks)

def docks():
    button = win.events_dock.findChild(theme.QAbstractButton, "qt_dockwidget_closebutton")
    seen["dock"] = {"style": type(win.events_dock.style()).__name__,
                    "glyph": button.icon().pixmap(16, 16).toImage() == theme.title_bar_icon("close").pixmap(16, 16).toImage()}
    print(json.dumps(seen), flush=True)
    app.quit()

win.project_changed.connect(opened)
win.show()
QTimer.singleShot(60000, app.quit)
app.exec()
"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_overview_shown_before_the_report_the_dock_style_and_the_hidden_views(tmp_path, theme):
    path = make_project(tmp_path / "p.wbproj", n_findings=12)
    env = dict(os.environ, WORKBENCH_SETTINGS_DIR=str(tmp_path / "settings"))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(path), theme],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    tabs = ["Open findings", "Targets", "Runs"]
    assert seen["open"] == {"report": False, "style_class": False, "painted_glyphs": 0,
                            "views": [], "tabs": tabs, "current": 0}
    # just after the Overview's paint: the hidden views are built (in their places) and filled
    after = seen["after"]
    assert after["views"] == ["runs", "targets"] and after["tabs"] == tabs and after["current"] == 0
    assert after["targets"] == ["/src"]
    assert after["report"]  # the chart's renderer imports it, after the paint
    # a dock shown draws its title buttons with WorkbenchStyle's glyphs
    assert seen["dock"] == {"style": "WorkbenchStyle", "glyph": True}


def test_title_bar_glyphs_painted_once_per_theme(qtbot, monkeypatch):
    from workbench.gui import theme

    painted = []
    paint = theme._paint_title_bar_icon
    monkeypatch.setattr(theme, "_paint_title_bar_icon", lambda *a: painted.append(a[0]) or paint(*a))
    monkeypatch.setattr(theme, "_painted", {})
    light, dark = QApplication.palette(), theme.dark_palette()
    first = theme.title_bar_icon("close", light).pixmap(16, 16).toImage()
    again = theme.title_bar_icon("close", light)
    again.addPixmap(again.pixmap(8, 8))  # a caller's change stays its own
    assert theme.title_bar_icon("close", light).pixmap(16, 16).toImage() == first
    assert theme.title_bar_icon("close", dark).pixmap(16, 16).toImage() != first
    theme.title_bar_icon("float", dark)
    assert painted == ["close", "close", "float"]


def test_a_dock_pinned_open_has_the_workbench_glyphs_from_the_start(qtbot, settings_dir, tmp_path):
    from PySide6.QtCore import QSettings

    from workbench.gui import theme
    from workbench.gui.app import configure_settings, create_window

    configure_settings()
    QSettings().setValue("docks/events_pinned", True)
    _, win = create_window(None, theme="dark", reopen_last=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    try:
        assert win.events_dock.isVisible() and win.jobs_dock.isHidden()
        assert isinstance(win.events_dock.style(), theme.WorkbenchStyle)
        for name, kind in theme.DOCK_BUTTONS.items():
            button = win.events_dock.findChild(QAbstractButton, name)
            assert button.icon().pixmap(16, 16).toImage() == theme.title_bar_icon(kind).pixmap(16, 16).toImage()
        # the jobs dock gets its style when it first shows (a job, or its indicator)
        assert not isinstance(win.jobs_dock.style(), theme.WorkbenchStyle)
        win.set_dock_open("jobs", True)
        QApplication.processEvents()
        assert isinstance(win.jobs_dock.style(), theme.WorkbenchStyle)
    finally:
        theme.apply_theme(QApplication.instance(), "light")


def test_report_still_exports_the_overview_helpers():
    from workbench.core import report, summary

    for name in ("SEVERITY_COLORS", "SEVERITY_WEIGHT", "CONFIDENCE_WEIGHT", "_duration", "_fmt_time", "_where",
                 "readable_title", "risk_rank", "score_trend", "top_risks"):
        assert getattr(report, name) is getattr(summary, name), name
