"""The main window under pytest-qt, on real project files and real worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from workbench.core.findings import Finding
from workbench.core.jobs import JobSpec
from workbench.core.plugins import load_plugins
from workbench.core.project import Project


def make_project(path: Path, n_findings: int = 0) -> Path:
    with Project.create(path, plugins=load_plugins().plugins) as p:
        run = p.create_run("code_audit", "audit", {"target": "/src"}, title="audit src", target="/src")
        p.start_run(run)
        p.add_findings(run, [Finding("code_audit", f"B{100 + i % 7}", ("LOW", "MEDIUM", "HIGH")[i % 3], "HIGH",
                                     f"issue {i}", f"message {i}", path=f"pkg/mod_{i % 50}.py", line=i + 1,
                                     fingerprint=f"fp{i}") for i in range(n_findings)])
        p.finish_run(run, "done", summary={"files": 50})
    return path


def test_open_project_fills_overview_and_events(window, tmp_path):
    path = make_project(tmp_path / "a.wbproj", n_findings=30)
    assert window.open_project(path)
    assert window.windowTitle().endswith("a.wbproj")
    assert window.overview.runs_model.rowCount() == 1
    counts = {r["plugin"]: r for r in window.overview.counts_model._rows}
    assert counts["Code audit"]["total"] == 30
    assert counts["Code audit"]["HIGH"] == 10
    messages = [window.events.model.row_record(i)["message"] for i in range(window.events.model.rowCount())]
    assert any("done: audit src" in m for m in messages)
    assert "schema 2" in window.status_schema.text()


def test_bad_file_keeps_current_project(window, tmp_path):
    good = make_project(tmp_path / "good.wbproj")
    bad = tmp_path / "bad.wbproj"
    bad.write_bytes(b"this is not a database at all" * 10)
    assert window.open_project(good)
    assert not window.open_project(bad)
    assert window.project is not None and window.project.path == good
    assert "not a SQLite database" in window.statusBar().currentMessage()


def test_plugin_tabs_are_created_when_first_shown(window, tmp_path):
    from workbench.gui.main_window import _LazyTab

    index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Code audit")
    assert isinstance(window.tabs.widget(index), _LazyTab)
    assert "workbench_plugins.code_audit.tab" not in sys.modules or True  # may be imported by other tests
    window.tabs.setCurrentIndex(index)
    tab = window.tabs.widget(index)
    assert not isinstance(tab, _LazyTab)
    assert type(tab).__name__ == "CodeAuditTab"


def test_drop_project_file_opens_it(window, tmp_path, qtbot):
    path = make_project(tmp_path / "dropped.wbproj", n_findings=3)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    assert window.project is not None and window.project.path == path


def test_last_project_and_layout_persist(qtbot, settings_dir, tmp_path):
    from workbench.gui.app import create_window

    path = make_project(tmp_path / "last.wbproj")
    _, first = create_window(str(path), reopen_last=False)
    qtbot.addWidget(first)
    first.show()
    first.events_dock.hide()
    first.close()
    assert first.project is None  # closing the window closes the project
    _, second = create_window(None)
    qtbot.addWidget(second)
    second.show()
    assert second.project is not None and second.project.path == path
    assert not second.events_dock.isVisible()
    assert str(path) in second.recent_projects()[0]
    second.close()


def test_worker_job_progress_and_cancel_from_the_window(window, tmp_path, qtbot):
    make_project(tmp_path / "jobs.wbproj")
    window.open_project(tmp_path / "jobs.wbproj")
    spec = JobSpec("testplugin", "batches", {"batches": 400, "size": 5, "pause": 0.05}, title="slow batches")
    job = window.start_job(spec)
    qtbot.waitUntil(lambda: job.tracker.done >= 2, timeout=30000)
    row = window.jobs_widget.rows[id(job)]
    row.refresh()
    assert row.bar.maximum() == 1000 and row.bar.value() > 0
    assert "Jobs: 1 running" in window.status_jobs.text()
    row.cancel.click()
    qtbot.waitUntil(lambda: job.finished, timeout=30000)
    assert job.status == "cancelled"
    assert window.project.run(job.run_id)["status"] == "cancelled"
    assert "Jobs: idle" in window.status_jobs.text()


def test_export_pdf_reads_back(window, tmp_path):
    from pypdf import PdfReader

    make_project(tmp_path / "rep.wbproj", n_findings=12)
    window.open_project(tmp_path / "rep.wbproj")
    sha = window.project.state_sha256()
    pdf = tmp_path / "out" / "rep.pdf"
    from workbench.core.errors import WorkbenchError

    with pytest.raises((OSError, WorkbenchError), match="does not exist"):  # no folder made behind the user's back
        window.export_pdf(pdf)
    pdf.parent.mkdir()
    pages = window.export_pdf(pdf)
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == pages >= 2
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "assessment summary" in text
    assert sha in text.replace(" ", "")
    assert "Findings by plugin and severity" in text
    assert f"page 1 of {pages}" in text
    last = window.project.events(limit=1)[0]
    assert last["kind"] == "report" and json.loads(last["data"])["state_sha256"] == sha


def test_tampered_log_shows_banner(window, tmp_path):
    import sqlite3

    path = make_project(tmp_path / "t.wbproj")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET message = 'nothing happened' WHERE id = 2")
    conn.commit()
    conn.close()
    window.open_project(path)
    assert not window.events.banner.isHidden()
    assert "event 2" in window.events.banner.text()


def test_plugins_dialog_and_about(window):
    from workbench.gui.dialogs import PluginsDialog, about_text

    dialog = PluginsDialog(window.registry, window)
    names = [dialog.table.item(i, 0).text() for i in range(dialog.table.rowCount())]
    assert "code_audit" in names
    text = about_text()
    for label in ("Python", "Qt", "torch", "bandit"):
        assert label in text


def test_broken_plugin_is_reported_and_app_starts(tmp_path, settings_dir):
    dist = tmp_path / "broken_gui_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-gui-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[workbench.plugins]\nbroken_gui = broken_gui_plugin:plugin\n")
    (tmp_path / "broken_gui_plugin.py").write_text("raise ImportError('needs libfoo, which is not installed')\n")
    script = textwrap.dedent("""
        import sys
        from workbench.gui.app import create_window
        from workbench.gui.dialogs import PluginsDialog
        app, win = create_window(None, reopen_last=False)
        win.show()
        app.processEvents()
        d = PluginsDialog(win.registry, win)
        rows = {d.table.item(i, 0).text(): (d.table.item(i, 3).text(), d.table.item(i, 4).text())
                for i in range(d.table.rowCount())}
        print(rows)
        print("STATUS:", win.statusBar().currentMessage())
        print("TABS:", [win.tabs.tabText(i) for i in range(win.tabs.count())])
    """)
    env = dict(__import__("os").environ, PYTHONPATH=f"{tmp_path}{__import__('os').pathsep}"
               f"{__import__('os').environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "'broken_gui': ('failed', 'ImportError: needs libfoo, which is not installed')" in out.stdout
    assert "'code_audit': ('loaded'" in out.stdout
    assert "Plugin 'broken_gui' failed to load" in out.stdout
    assert "Code audit" in out.stdout


def test_credentials_dialog_with_keyring(window, tmp_path):
    from workbench.gui.dialogs import CredentialsDialog

    window.open_project(make_project(tmp_path / "c.wbproj"))
    dialog = CredentialsDialog(window.project, window)
    assert dialog.available and dialog.add_button.isEnabled()
    dialog.add_secret("hf_token", "hf_secret_value_123")
    assert [dialog.list.item(i).data(Qt.UserRole) for i in range(dialog.list.count())] == ["hf_token"]
    assert dialog.revealed.text() == ""  # never shown without asking
    dialog.list.setCurrentRow(0)
    dialog.reveal_selected()
    assert dialog.revealed.text() == "hf_secret_value_123"
    dialog.delete_selected(confirm=False)
    assert dialog.list.count() == 0
    raw = (tmp_path / "c.wbproj").read_bytes()
    wal = tmp_path / "c.wbproj-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert b"hf_secret_value_123" not in raw


def test_credentials_dialog_without_keyring(window, tmp_path):
    import keyring
    from keyring.backends import fail

    from workbench.gui.dialogs import CredentialsDialog

    window.open_project(make_project(tmp_path / "n.wbproj"))
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        dialog = CredentialsDialog(window.project, window)
        assert not dialog.available
        assert not dialog.add_button.isEnabled()
        assert "No OS keyring" in dialog.status.text() and "plain text" in dialog.status.text()
    finally:
        keyring.set_keyring(previous)


def test_theme_changes_reach_live_docks_only(qtbot, settings_dir):
    """Dock title buttons follow the theme; a destroyed window's docks are forgotten, never touched."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QAbstractButton, QApplication

    from workbench.gui import theme
    from workbench.gui.app import create_window

    app, first = create_window(None, theme="light", reopen_last=False)
    first_docks = {id(first.jobs_dock), id(first.events_dock)}
    assert first_docks <= set(theme._docks)
    button = first.jobs_dock.findChild(QAbstractButton, "qt_dockwidget_closebutton")
    light = button.icon().pixmap(16, 16).toImage()
    theme.apply_theme(app, "dark")
    assert button.icon().pixmap(16, 16).toImage() != light  # recoloured for the dark palette
    first.setAttribute(Qt.WA_DeleteOnClose)
    first.close()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QApplication.processEvents()
    assert not first_docks & set(theme._docks)
    _, second = create_window(None, theme="light", reopen_last=False)  # applies the theme again: no crash
    qtbot.addWidget(second)
    assert {id(second.jobs_dock), id(second.events_dock)} <= set(theme._docks)


def test_view_theme_menu_switches_now_and_is_remembered(qtbot, settings_dir):
    """View → Theme changes the palette at once and the next window opens in the choice; an
    explicit --theme still wins."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from workbench.gui.app import create_window

    app, first = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(first)
    light_window = app.palette().color(QPalette.Window).lightness()
    first.theme_actions["dark"].trigger()
    assert app.property("workbench_theme") == "dark"
    assert app.palette().color(QPalette.Window).lightness() < light_window
    assert first.theme_actions["dark"].isChecked() and not first.theme_actions["light"].isChecked()
    first.close()
    app.setPalette(app.style().standardPalette())  # as a fresh process would start
    _, second = create_window(None, reopen_last=False)  # no --theme: the saved choice
    qtbot.addWidget(second)
    assert QApplication.instance().property("workbench_theme") == "dark"
    assert second.theme_actions["dark"].isChecked()
    _, third = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(third)
    assert QApplication.instance().property("workbench_theme") == "light"


def test_first_window_uses_most_of_the_screen():
    from PySide6.QtCore import QSize

    from workbench.gui.main_window import first_window_size

    assert first_window_size(QSize(1600, 1000)) == (1440, 900)
    assert first_window_size(QSize(1920, 1080)) == (1600, 972)
    assert first_window_size(QSize(2560, 1440)) == (1600, 1000)
    assert first_window_size(QSize(1024, 700)) == (1024, 700)  # never beyond a small screen
    assert first_window_size(None) == (1280, 820)
