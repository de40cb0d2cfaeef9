"""The Jobs and Events docks take no height while idle: status-bar indicators say what they would
show and open them; a job opens the jobs dock and it collapses again when the jobs are done, unless
the user pinned it open; the pins and the layout are remembered."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from workbench.core.jobs import JobSpec
from workbench.core.plugins import load_plugins
from workbench.core.project import Project


def make_project(path: Path) -> Path:
    Project.create(path, plugins=load_plugins().plugins).close()
    return path


def quick_job(window, batches: int = 60):
    return window.start_job(JobSpec("testplugin", "batches", {"batches": batches, "size": 5, "pause": 0.05},
                                    title="batches"))


def open_window(qtbot, path=None):
    from workbench.gui.app import create_window

    _, win = create_window(str(path) if path else None, theme="light", reopen_last=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    return win


def test_idle_docks_take_no_height_and_indicators_open_them(qtbot, settings_dir, tmp_path):
    win = open_window(qtbot, make_project(tmp_path / "p.wbproj"))
    assert win.jobs_dock.isHidden() and win.events_dock.isHidden()
    # the tabs have the window's height but for the menu and the status bar
    assert win.tabs.height() >= win.height() - win.menuBar().height() - win.statusBar().height() - 60
    assert win.status_jobs.text() == "Jobs: idle" and win.status_jobs.isVisible()
    assert win.status_events.text() == "Events"  # the entries of the project as opened are not new

    win.project.log_event("file", "something happened")
    win.project.log_event("file", "and again")
    win._refresh_events()
    assert win.status_events.text() == "Events: 2 new"
    assert win.events.model.rowCount() == 0 or all(
        "again" not in win.events.model.row_record(i)["message"] for i in range(win.events.model.rowCount()))

    win.status_events.click()  # opens (and pins) the events dock: the entries are shown, none new now
    QApplication.processEvents()
    assert win.events_dock.isVisible() and win.pinned["events"] and win.status_events.isChecked()
    messages = [win.events.model.row_record(i)["message"] for i in range(win.events.model.rowCount())]
    assert "and again" in messages
    assert win.status_events.text() == "Events"
    win.status_events.click()
    QApplication.processEvents()
    assert win.events_dock.isHidden() and not win.pinned["events"]


def test_a_job_opens_the_jobs_dock_which_collapses_when_done(qtbot, settings_dir, tmp_path):
    win = open_window(qtbot, make_project(tmp_path / "p.wbproj"))
    tabs_idle = win.tabs.height()
    job = quick_job(win, batches=400)
    qtbot.waitUntil(lambda: win.jobs_dock.isVisible(), timeout=5000)
    assert win.status_jobs.text() == "Jobs: 1 running"
    qtbot.waitUntil(lambda: win.tabs.height() < tabs_idle, timeout=5000)  # the dock took room for its row
    job.cancel()
    qtbot.waitUntil(lambda: job.finished, timeout=30000)
    # the ended row stays readable a few seconds, then the dock collapses and the tabs get the room back
    qtbot.waitUntil(lambda: win.jobs_dock.isHidden(), timeout=10000)
    assert win.status_jobs.text() == "Jobs: idle"
    qtbot.waitUntil(lambda: win.tabs.height() >= tabs_idle, timeout=5000)
    win.jobs.wait_all()


def test_a_pinned_jobs_dock_stays_open_and_pins_are_remembered(qtbot, settings_dir, tmp_path):
    path = make_project(tmp_path / "p.wbproj")
    first = open_window(qtbot, path)
    first.status_jobs.click()  # the user opens the jobs dock: pinned
    QApplication.processEvents()
    assert first.jobs_dock.isVisible() and first.pinned["jobs"]
    assert "No jobs running" in first.jobs_widget.empty.text() and first.jobs_widget.empty.isVisible()
    job = quick_job(first, batches=4)
    qtbot.waitUntil(lambda: job.finished, timeout=30000)
    qtbot.waitUntil(lambda: first.jobs_widget.idle, timeout=10000)
    QApplication.processEvents()
    assert first.jobs_dock.isVisible()  # pinned: not collapsed by the end of the job
    first.close()

    second = open_window(qtbot, path)
    assert second.pinned["jobs"] and second.jobs_dock.isVisible()
    assert not second.pinned["events"] and second.events_dock.isHidden()
    # closing it with its own button unpins it, for this window and the next
    second.jobs_dock.close()
    QApplication.processEvents()
    assert second.jobs_dock.isHidden() and not second.pinned["jobs"] and not second.status_jobs.isChecked()
    second.close()
    third = open_window(qtbot, path)
    assert third.jobs_dock.isHidden() and third.events_dock.isHidden()
    third.close()


def test_view_menu_and_find_open_the_docks(window, tmp_path):
    window.open_project(make_project(tmp_path / "p.wbproj"))
    window.events_dock.toggleViewAction().trigger()  # View → Events
    assert window.events_dock.isVisible() and window.pinned["events"]
    window.events_dock.toggleViewAction().trigger()
    assert window.events_dock.isHidden() and not window.pinned["events"]
    window._focus_events_filter()  # Edit → Find in Events
    assert window.events_dock.isVisible() and window.pinned["events"]
    window.reset_layout()  # back to the default: collapsed
    assert window.events_dock.isHidden() and window.jobs_dock.isHidden() and not any(window.pinned.values())


def test_a_pinned_docks_height_and_the_window_size_are_remembered(qtbot, settings_dir, tmp_path):
    from PySide6.QtCore import Qt

    path = make_project(tmp_path / "p.wbproj")
    first = open_window(qtbot, path)
    # The offscreen screen is 800x800 and a restored geometry is fitted to it: use a window that fits.
    first.resize(790, 760)
    first.status_events.click()  # pinned open
    QApplication.processEvents()
    first.resizeDocks([first.events_dock], [175], Qt.Vertical)
    QApplication.processEvents()
    chosen = first.events_dock.height()
    size = (first.width(), first.height())
    assert abs(chosen - 175) <= 8
    first.close()

    second = open_window(qtbot, path)
    assert (second.width(), second.height()) == size
    assert second.events_dock.isVisible() and abs(second.events_dock.height() - chosen) <= 4
    assert second.jobs_dock.isHidden()  # not pinned: collapsed at start
    second.close()
