"""The minimal example plugin works end to end: CLI job, GUI worker job, tab, report, score."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _tree(root) -> str:
    root.mkdir()
    (root / "short.txt").write_text("a\nbb\n")
    (root / "long.txt").write_text("x" * 150 + "\nshort\n")
    (root / "blob.bin").write_bytes(b"\xff\xfe\x00\x81" * 10)  # not text: ignored
    return str(root)


def _cli(*args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def test_registered_through_its_own_entry_point(example_site):
    from workbench.core.plugins import load_plugins

    registry = load_plugins()
    status = next(s for s in registry.statuses if s.name == "example")
    assert status.loaded, status.error
    assert status.distribution == "wb-example-plugin"
    assert registry.get("example").title == "Long lines"
    assert str(example_site) in sys.modules["wb_example"].__file__


def test_cli_runs_the_job_and_writes_the_summary(example_site, tmp_path):
    tree = _tree(tmp_path / "tree")
    project, summary = tmp_path / "p.wbproj", tmp_path / "summary.json"
    result = _cli("example-count", tree, "-p", project, "--max-line", "100", "--summary-json", summary)
    assert result.returncode == 0, result.stderr
    assert "2 files, 1 with lines over 100" in result.stdout
    assert json.loads(summary.read_text()) == {"files": 2, "long_files": 1, "max_line": 100}
    help_text = _cli("--help").stdout
    assert "Long lines (example):" in help_text and "example-count" in help_text

    from workbench.core.project import Project

    with Project.open(project, readonly=True) as p:
        store = p.store("example")
        run = store.latest_run(job="count")
        assert run["summary"]["long_files"] == 1 and run["target"] == tree
        [finding] = store.findings(run_id=run["id"])
        assert finding["rule"] == "EX001" and finding["path"] == "long.txt"
        assert sorted(v for _, v in store.metrics("longest_line", run_id=run["id"])) == [2.0, 150.0]
    bad = _cli("example-count", tree, "-p", project, "--max-line", "0")
    assert bad.returncode == 1 and "max_line must be at least 1" in bad.stderr


def test_report_section_and_score(example_site, tmp_path):
    from workbench.api import run_in_process
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench.core.report import build_report

    registry = load_plugins()
    plugin = registry.get("example")
    with Project.create(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        store = project.store("example")
        assert plugin.score(store) is None
        _, status, _ = run_in_process(project, plugin.job_spec("count", target=_tree(tmp_path / "a")))
        assert status == "done"
        assert plugin.score(store) == 50  # one of two files within the limit
        clean = tmp_path / "b"
        clean.mkdir()
        (clean / "ok.txt").write_text("fine\n")
        run_in_process(project, plugin.job_spec("count", target=str(clean)))
        assert plugin.score(store) == 67  # both targets count: 2 of 3 files
        report = build_report(project, registry)
    section = next(s for s in report.sections if s.plugin == "example")
    assert section.title == "Long lines"
    tables = [b for b in section.blocks if hasattr(b, "rows")]
    assert len(tables) == 2 and tables[0].rows[0][0] == "long.txt"


def test_gui_worker_job_and_tab(example_site, tmp_path, qtbot, monkeypatch):
    from workbench.gui.app import create_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    _, window = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.new_project(tmp_path / "gui.wbproj")
        tab = window.tab_for("example")
        assert type(tab).__name__ == "ExampleTab"
        tab.folder.setText(_tree(tmp_path / "tree"))
        job = tab.start()
        assert job is not None and job.pid != os.getpid()  # a worker process
        qtbot.waitUntil(lambda: job.finished, timeout=60000)
        assert job.status == "done", job.result
        qtbot.waitUntil(lambda: tab.table.model() is not None and tab.table.model().rowCount() == 2, timeout=5000)
        assert {tab.table.model().index(i, 0).data() for i in range(2)} == {"long.txt", "short.txt"}
        assert type(tab.table).__name__ == "QTableView"  # the kit's table_view, as the docs say
        assert window.overview.cards["example"].value.text().startswith("50")
    finally:
        window.jobs.wait_all()
        window.close_project()


def test_a_broken_migration_leaves_the_others_working(broken_migration_site, tmp_path, qtbot, monkeypatch):
    project = tmp_path / "p.wbproj"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "app.py").write_text("import pickle\n\ndef load(b):\n    return pickle.loads(b)\n")
    audit = _cli("audit", tree, "-p", project, "--no-secrets")
    assert audit.returncode == 0, audit.stderr
    assert "plugin 'brokenmig' cannot use this project" in audit.stderr
    assert "open findings: 0 high, 1 medium" in audit.stdout
    own = _cli("brokenmig-hello", "-p", project)
    assert own.returncode == 1 and "plugin 'brokenmig' cannot use this project: OperationalError" in own.stderr
    info = _cli("info", project, "--json")
    assert info.returncode == 0, info.stderr
    plugins = json.loads(info.stdout)["plugins"]
    assert "cannot use this project" in plugins["brokenmig"]["problem"]
    assert plugins["code_audit"]["open_findings"]["MEDIUM"] == 1 and "problem" not in plugins["code_audit"]
    listed = _cli("plugins", "-p", project)
    assert listed.returncode == 1 and "cannot use" in listed.stdout and "brokenmig" in listed.stdout

    from workbench.gui.app import create_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    _, window = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.open_project(project)
        assert not window.failure_banner.isHidden()
        assert "brokenmig" in window.failure_banner.text()
        broken_tab = window.tab_for("brokenmig")
        assert broken_tab.store is None
        from workbench.gui.dialogs import PluginsDialog

        dialog = PluginsDialog(window.registry, window, project=window.project)
        rows = {dialog.table.item(i, 0).text(): dialog.table.item(i, 3).text()
                for i in range(dialog.table.rowCount())}
        assert rows["brokenmig"] == "cannot use this project" and rows["code_audit"] == "loaded"
        audit_tab = window.tab_for("code_audit")
        assert audit_tab.store is not None and audit_tab.view.model.rowCount() == 2  # B403 and B301
    finally:
        window.close_project()


def test_open_window_and_read_only_controls(example_site, tmp_path, qtbot, monkeypatch):
    """The public open_window helper; a control the tab declared with host.writes() stays disabled
    in a read-only window even when the tab enables it, and comes back in a writable one."""
    from workbench.core.project import Project
    from workbench.gui.api import open_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    path = tmp_path / "ro.wbproj"
    Project.create(path).close()
    window = open_window(path, read_only=True, size=(1280, 800))
    qtbot.addWidget(window)
    try:
        assert window.isVisible() and window.readonly and (window.width(), window.height()) == (1280, 800)
        tab = window.show_plugin_tab("example")
        assert type(tab).__name__ == "ExampleTab" and tab.isVisible()
        assert not tab.run_button.isEnabled()
        tab.run_button.setEnabled(True)  # the tab's own logic enabling it
        qtbot.waitUntil(lambda: not tab.run_button.isEnabled(), timeout=5000)
        window.close_project()
        assert window.open_project(path)  # writable now
        assert not window.readonly and tab.run_button.isEnabled()
    finally:
        window.jobs.wait_all()
        window.close_project()


def test_example_findings_triaged_in_the_findings_tab(example_site, tmp_path, qtbot, monkeypatch):
    """A third-party plugin's findings are browsed, triaged and exported in the window's Findings
    tab, with no GUI code of the plugin's for it; triage reaches the store and the audit log."""
    from workbench.api import run_in_process
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench.gui.api import open_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    path = tmp_path / "tri.wbproj"
    plugin = load_plugins().get("example")
    with Project.create(path, plugins=load_plugins().plugins) as project:
        _, status, _ = run_in_process(project, plugin.job_spec("count", target=_tree(tmp_path / "tree")))
        assert status == "done"
        fingerprint = project.findings(plugin="example")[0]["fingerprint"]
    window = open_window(path, size=(1280, 800))
    qtbot.addWidget(window)
    try:
        view = window.findings_view
        window.tabs.setCurrentWidget(view)
        view.pillar.setCurrentIndex(view.pillar.findData("example"))
        assert view.model.rowCount() == 1 and view.model.record(0)["pillar"] == "Long lines"
        assert "Select a finding" in view.details.toPlainText()
        view.table.selectRow(0)
        assert "EX001" in view.details.toPlainText() and view.triage_buttons["false_positive"].isEnabled()
        view.ask_justification = lambda title, prompt, required: "" if required else None
        assert not view.triage_selected("false_positive")  # cancelled: nothing stored
        assert not view.triage_selected("accepted_risk")  # refused: accepting a risk needs a why
        assert "Not triaged" in view.details.toPlainText()
        view.ask_justification = lambda title, prompt, required: "generated file, lines are data"
        assert view.triage_selected("accepted_risk")
        assert view.model.rowCount() == 0  # the Open filter hides it now
        view.status.setCurrentIndex(1)  # All
        assert view.model.record(0)["status"] == "accepted_risk"
        out = tmp_path / "f.csv"
        assert view.export_csv(str(out)) == 1 and "accepted_risk" in out.read_text()
        window.close_project()
        with Project.open(path) as project:
            assert project.triage()[fingerprint]["status"] == "accepted_risk"
            assert project.triage()[fingerprint]["justification"] == "generated file, lines are data"
            events = [e for e in project.events(newest_first=True) if e["kind"] == "triage"]
            assert events and events[0]["plugin"] == "example"
        assert window.open_project(path, readonly=True)
        view.status.setCurrentIndex(1)
        view.table.selectRow(0)
        assert not any(b.isEnabled() for b in view.triage_buttons.values())  # read-only: no triage
    finally:
        window.jobs.wait_all()
        window.close_project()
