"""What a new user tripped on in the main window (issue 8): dock contrast, dock sizes and the
remembered layout, tab switching from a table, the final state of an ended job, the read-only
offer for a locked project, an About that claims only what is installed, targets in the Overview.

Real windows under pytest-qt, real project files, real worker processes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication

from workbench.core.findings import Finding
from workbench.core.jobs import JobSpec
from workbench.core.plugins import load_plugins
from workbench.core.project import Project


from wcag import rendered_contrast  # noqa: E402


def audited_project(path: Path, targets: dict[str, list[tuple[str, str]]], lines: int = 2000) -> Path:
    """A project with one finished code audit run per target; findings as (severity, title)."""
    with Project.create(path, plugins=load_plugins().plugins) as p:
        for target, findings in targets.items():
            run = p.create_run("code_audit", "audit", {"target": target}, title=f"audit {target}", target=target)
            p.start_run(run)
            p.add_findings(run, [Finding("code_audit", f"B{300 + i}", sev, "HIGH", title, f"{title} in detail",
                                         path=f"mod{i}.py", line=i + 1, fingerprint=f"{target}-{i}")
                                 for i, (sev, title) in enumerate(findings)])
            p.finish_run(run, "done", summary={"files": 3, "lines": lines})
    return path


def slow_job(window):
    return window.start_job(JobSpec("testplugin", "batches", {"batches": 400, "size": 5, "pause": 0.05},
                                    title="slow batches"))


# -------------------------------------------------------------- 1. contrast
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_dock_title_buttons_are_readable_in_both_themes(window, theme):
    from workbench.gui.theme import apply_theme

    apply_theme(QApplication.instance(), theme)
    for dock in (window.jobs_dock, window.events_dock):
        dock.show()  # collapsed while idle: open them to see their title bars
    QApplication.processEvents()
    for dock in (window.jobs_dock, window.events_dock):
        buttons = [b for b in dock.findChildren(QAbstractButton) if b.parent() is dock and b.isVisible()]
        assert len(buttons) == 2, buttons  # float and close
        for button in buttons:
            ratio = rendered_contrast(button)
            assert ratio >= 4.5, f"{dock.windowTitle()} title button: contrast {ratio:.2f} in {theme}"


def test_job_cancel_button_readable_in_dark_then_ended_job_shows_its_outcome(window, tmp_path, qtbot):
    from workbench.gui.theme import apply_theme

    window.open_project(audited_project(tmp_path / "jobs.wbproj", {}))
    apply_theme(QApplication.instance(), "dark")
    job = slow_job(window)
    qtbot.waitUntil(lambda: job.tracker.done >= 2, timeout=30000)
    row = window.jobs_widget.rows[id(job)]
    row.refresh()
    QApplication.processEvents()
    assert "ETA" in row.times.text()  # while it runs, an ETA is shown
    assert rendered_contrast(row.cancel) >= 4.5

    # 5. A cancelled job shows that it was cancelled and how long it ran; no ETA any more.
    row.cancel.click()
    qtbot.waitUntil(lambda: job.finished, timeout=30000)
    assert job.status == "cancelled"
    row.refresh()  # the dock's one-second tick would do the same
    assert "ETA" not in row.times.text()
    assert "cancelled" in row.times.text() and row.message.text() == "cancelled"
    assert row.bar.maximum() > 0  # the busy animation stopped
    frozen = row.times.text()
    qtbot.wait(1100)
    row.refresh()
    assert row.times.text() == frozen  # its clock stopped when it ended


def test_failed_job_shows_why_without_eta(window, tmp_path, qtbot):
    window.open_project(audited_project(tmp_path / "fail.wbproj", {}))
    job = window.start_job(JobSpec("testplugin", "fail_clearly", {}, title="fails"))
    row = window.jobs_widget.rows[id(job)]
    qtbot.waitUntil(lambda: job.finished, timeout=60000)
    assert job.status == "failed"
    row.refresh()
    assert row.message.text().startswith("failed")
    assert "ETA" not in row.times.text() and "failed" in row.times.text()


# ------------------------------------------------------ 2. docks and layout
# (collapsed docks, pins and the remembered layout: tests/gui/test_docks_collapsed.py)


# --------------------------------------------------------- 4. tab switching
def test_ctrl_tab_and_ctrl_page_keys_switch_tabs_from_the_findings_table(window, tmp_path, qtbot):
    window.open_project(audited_project(tmp_path / "keys.wbproj", {"/src": [("HIGH", "x"), ("LOW", "y")]}))
    tab = window.tab_for("code_audit")
    code_audit = window.tabs.indexOf(tab)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    n = window.tabs.count()
    keys = ((Qt.Key_Tab, Qt.ControlModifier, 1), (Qt.Key_PageDown, Qt.ControlModifier, 1),
            (Qt.Key_Backtab, Qt.ControlModifier | Qt.ShiftModifier, -1), (Qt.Key_PageUp, Qt.ControlModifier, -1))
    for key, modifiers, step in keys:
        window.tabs.setCurrentIndex(code_audit)
        tab.view.table.setFocus()
        tab.view.table.selectRow(0)
        qtbot.waitUntil(tab.view.table.hasFocus, timeout=5000)
        QTest.keyClick(tab.view.table, key, modifiers)
        assert window.tabs.currentIndex() == (code_audit + step) % n, (key, modifiers)
    # The same from the other widgets of the tab that take the focus.
    for widget in (tab.view.code, tab.panel.target, tab.view.groups):
        window.tabs.setCurrentIndex(code_audit)
        widget.setFocus()
        qtbot.waitUntil(widget.hasFocus, timeout=5000)
        QTest.keyClick(widget, Qt.Key_Tab, Qt.ControlModifier)
        assert window.tabs.currentIndex() == (code_audit + 1) % n, type(widget).__name__


# ------------------------------------------------------------- 7. read-only
def test_locked_project_is_offered_read_only_and_shown_so(window, tmp_path, qtbot):
    path = audited_project(tmp_path / "locked.wbproj", {"/src": [("HIGH", "a finding"), ("LOW", "another")]})
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from workbench.core.project import Project
            project = Project.open({str(path)!r})
            print("holding", flush=True)
            sys.stdin.read()
            project.close()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert not window.open_project(path)
        box = window.lock_box
        assert box is not None and "open this copy read-only" in box.text()
        button = next(b for b in box.buttons() if b.text() == "Open read-only")
        button.click()
        qtbot.waitUntil(lambda: window.project is not None, timeout=10000)
        assert window.project.readonly and window.project.path == path
        assert "read-only" in window.windowTitle()
        assert window.status_mode.isVisible() and window.status_mode.text() == "READ-ONLY"
        assert window.readonly_banner.isVisible()
        assert window.overview.runs_model.rowCount() == 1  # everything can be looked at

        tab = window.tab_for("code_audit")
        window.tabs.setCurrentWidget(tab)
        assert tab.view.model.rowCount() == 2
        assert not tab.panel.run_button.isEnabled()
        assert not any(b.isEnabled() for b in tab.view.triage_buttons.values())
        tab.view.table.selectRow(0)
        assert tab.view.triage_selected("fixed") == 0
        tab.panel.target.setText(str(tmp_path))
        assert tab.start_audit() is None
        assert window.start_job(JobSpec("testplugin", "batches", {"batches": 1})) is None
        assert "read-only" in window.statusBar().currentMessage()

        from workbench.gui.dialogs import CredentialsDialog

        dialog = CredentialsDialog(window.project, window)
        assert not dialog.add_button.isEnabled() and not dialog.delete_button.isEnabled()
    finally:
        holder.stdin.close()
        holder.wait(30)
    with Project.open(path, readonly=True) as check:
        assert check.triage() == {}  # nothing was written through the read-only view
        assert len(check.runs()) == 1


# ------------------------------------------------------------------ 8. About
def test_about_claims_only_the_loaded_plugins(window):
    from workbench.core.plugins import PluginStatus, Registry
    from workbench.gui.dialogs import AboutDialog, about_text

    titles = [p.title for p in window.registry.plugins]
    text = about_text(window.registry)
    assert f"Installed and working: {', '.join(titles)}." in text
    for claim in ("anonymises data", "attacks models", "watches systems"):
        assert claim not in text
    assert AboutDialog(window, registry=window.registry).label.text() == text

    only_audit = Registry([s for s in window.registry.statuses if s.loaded and s.plugin.id == "code_audit"]
                          + [PluginStatus("robustness", "x:plugin", None, None, False, error="ImportError: torch")])
    text = about_text(only_audit)
    assert "Installed and working: Code audit." in text and "Failed to load: robustness" in text
    assert "Robustness," not in text and "Test jobs" not in text
    assert "nothing to run" in about_text(Registry([]))


# -------------------------------------------------------- 9. Overview targets
def test_overview_shows_each_target_latest_run_score_and_open_counts(window, tmp_path):
    path = audited_project(tmp_path / "targets.wbproj", {
        "/demo": [("HIGH", "h1"), ("HIGH", "h2"), ("MEDIUM", "m1"), ("LOW", "l1")],
        "/clean": [],
    })
    with Project.open(path, plugins=load_plugins().plugins) as p:  # a newer run of /demo: one HIGH fixed
        run = p.create_run("code_audit", "audit", {"target": "/demo"}, title="audit /demo", target="/demo")
        p.start_run(run)
        p.add_findings(run, [Finding("code_audit", "B300", "HIGH", "HIGH", "h1", "h1", path="mod0.py", line=1,
                                     fingerprint="/demo-0"),
                             Finding("code_audit", "B302", "MEDIUM", "HIGH", "m1", "m1", path="mod2.py", line=3,
                                     fingerprint="/demo-2")])
        p.finish_run(run, "done", summary={"files": 3, "lines": 2000})
        latest_demo = run
    window.open_project(path)
    rows = {r["target"]: r for r in window.overview.targets_model._rows}
    assert set(rows) == {"/demo", "/clean"}
    demo, clean = rows["/demo"], rows["/clean"]
    assert demo["run"].startswith(f"#{latest_demo} ")
    assert (demo["HIGH"], demo["MEDIUM"], demo["LOW"]) == (1, 1, 0)
    assert (clean["HIGH"], clean["MEDIUM"], clean["LOW"]) == (0, 0, 0)
    assert demo["plugin"] == clean["plugin"] == "Code audit"

    from workbench_plugins.code_audit.score import score_from

    # Each target's own score, from the plugin's formula over that target's latest run alone.
    assert clean["score"] == 100
    demo_findings = [{"severity": s, "confidence": "HIGH", "source_status": "open", "triage_status": "open"}
                     for s in ("HIGH", "MEDIUM")]
    assert demo["score"] == score_from(demo_findings, 2000) < 100
    # The card covers both targets: neither target's score alone.
    card = window.overview.cards["code_audit"].value.text()
    project_score = window.registry.get("code_audit").score(window.project.store("code_audit"))
    assert card.startswith(f"{project_score:.0f}<")
    view = window.overview.targets_view
    window.overview.side.setCurrentWidget(view)  # one click on the Targets tab beside the risks
    assert view.isVisible() and view.model().rowCount() == 2
