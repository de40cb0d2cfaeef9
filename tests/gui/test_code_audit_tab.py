"""The Code audit tab: a real audit in a worker process, filters, triage, many findings."""

from __future__ import annotations

import textwrap

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.findings import Finding
from workbench.core.plugins import load_plugins
from workbench.core.project import Project


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    from workbench.gui.app import create_window

    _, win = create_window(None, reopen_last=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.jobs.wait_all()
    win.close_project()


def small_tree(root):
    src = root / "src"
    src.mkdir(parents=True)
    (src / "app.py").write_text(textwrap.dedent("""
        import pickle
        import subprocess


        def load(blob):
            return pickle.loads(blob)


        def run(cmd):
            subprocess.call(cmd, shell=True)
    """))
    (src / "util.py").write_text("def add(a, b):\n    assert a > 0\n    return a + b\n")
    (src / "broken.py").write_text("def oops(:\n    pass\n")
    return root


def test_audit_from_the_tab_then_triage(window, tmp_path, qtbot):
    project_path = tmp_path / "audit.wbproj"
    Project.create(project_path, plugins=load_plugins().plugins).close()
    window.open_project(project_path)
    tab = window.tab_for("code_audit")
    tree = small_tree(tmp_path / "tree")
    tab.panel.target.setText(str(tree))
    job = tab.start_audit()
    assert job is not None
    assert not tab.panel.run_button.isEnabled() and tab.panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: job.finished, timeout=120000)
    assert job.status == "done", job.result
    qtbot.waitUntil(lambda: tab.view.model.rowCount() > 0, timeout=10000)
    rules = {tab.view.model.record(i)["rule"] for i in range(tab.view.model.rowCount())}
    assert {"B301", "B602"} <= rules  # pickle.loads, subprocess with shell=True
    assert "broken.py" in {tab.skipped.item(i, 0).text().split("/")[-1] for i in range(tab.skipped.rowCount())}

    # Filter to HIGH only: only the shell=True call stays.
    tab.view.severity.setCurrentIndex(2)
    assert {tab.view.model.record(i)["severity"] for i in range(tab.view.model.rowCount())} == {"HIGH"}
    tab.view.severity.setCurrentIndex(0)

    # Select the B602 finding; the code view shows its file with the flagged line.
    row = next(i for i in range(tab.view.model.rowCount()) if tab.view.model.record(i)["rule"] == "B602")
    tab.view.table.selectRow(row)
    assert "subprocess.call(cmd, shell=True)" in tab.view.code.toPlainText()
    assert tab.view.code.extraSelections()

    # Keyboard triage: X marks the selection fixed; it leaves the "open" view.
    fingerprint = tab.view.model.record(row)["fingerprint"]
    # the jobs dock opening and closing while the audit ran may leave the offscreen window inactive
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=5000)
    tab.view.table.setFocus()
    QTest.keyClick(tab.view.table, Qt.Key_X)
    assert window.project.triage()[fingerprint]["status"] == "fixed"
    assert fingerprint not in {tab.view.model.record(i)["fingerprint"] for i in range(tab.view.model.rowCount())}
    assert any(e["kind"] == "triage" for e in window.project.events(limit=5))

    # Exports from the tab: the suffix picks the format.
    for name in ("out.sarif", "out.json", "out.csv"):
        tab.export_findings(str(tmp_path / name))
    import json as _json

    sarif = _json.loads((tmp_path / "out.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert (tmp_path / "out.csv").read_text().startswith("rule,")
    assert any(e["kind"] == "export" for e in window.project.events(limit=3))

    # Since-previous-run filter: a second audit of the unchanged tree has nothing new.
    job2 = tab.start_audit()
    qtbot.waitUntil(lambda: job2.finished, timeout=120000)
    assert job2.status == "done", job2.result
    tab.new_only.setChecked(True)
    assert tab.view.model.rowCount() == 0
    tab.new_only.setChecked(False)
    assert tab.view.model.rowCount() > 0


def test_hundred_thousand_findings_filter_and_group(window, tmp_path):
    path = tmp_path / "big.wbproj"
    with Project.create(path, plugins=load_plugins().plugins) as p:
        run = p.create_run("code_audit", "audit", {"target": str(tmp_path)}, target=str(tmp_path))
        p.start_run(run)
        sev = ("LOW", "MEDIUM", "HIGH")
        p.add_findings(run, (Finding("code_audit", f"B{100 + i % 40}", sev[i % 3], sev[(i // 3) % 3], f"title {i}",
                                     f"message {i}", path=f"pkg{i % 100}/mod{i % 700}.py", line=i % 900 + 1,
                                     fingerprint=f"fp{i}") for i in range(100_000)))
        p.finish_run(run, "done", summary={"files": 700})
    window.open_project(path)
    tab = window.tab_for("code_audit")
    assert tab.view.model.rowCount() == 100_000
    tab.view.severity.setCurrentIndex(2)
    assert tab.view.model.rowCount() == 33_333
    tab.view.text.setText("B139")
    tab.view.apply_filter()
    assert tab.view.model.rowCount() == sum(1 for i in range(100_000) if i % 3 == 2 and i % 40 == 39)
    tab.view.text.setText("")
    tab.view.severity.setCurrentIndex(0)
    tab.view.apply_filter()
    items = [tab.view.groups.item(i) for i in range(tab.view.groups.count())]
    groups = {item.data(Qt.UserRole): item.text() for item in items}
    assert groups["B100"].endswith("(2,500)")
    tab.view.group_by.setCurrentIndex(tab.view.group_by.findText("By file"))
    assert tab.view.groups.count() == 1 + 700


def stdlib_copy(dest, packages=("email", "json", "http")):
    """A real tree big enough that the audit uses its process pools (bandit and detect-secrets)."""
    import shutil
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    for name in packages:
        shutil.copytree(f"{stdlib}/{name}", dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_gui_audit_of_a_real_tree_uses_pools_and_completes(window, tmp_path, qtbot):
    # A job runs in a worker process and may start its own pool there: the worker must not be a daemon.
    window.open_project(make_empty_project(tmp_path / "pool.wbproj"))
    tab = window.tab_for("code_audit")
    tab.panel.target.setText(str(stdlib_copy(tmp_path / "stdlib")))
    job = tab.start_audit()
    qtbot.waitUntil(lambda: job.finished, timeout=300000)
    assert job.status == "done", job.result
    summary = window.project.run(job.run_id)["summary"]
    assert summary["files"] >= 39 and summary["skipped"] == 0
    assert tab.view.model.rowCount() > 0


def test_gui_cancel_ends_the_job_and_its_pool(window, tmp_path, qtbot):
    import psutil

    window.open_project(make_empty_project(tmp_path / "cancel.wbproj"))
    tab = window.tab_for("code_audit")
    tab.panel.target.setText(str(stdlib_copy(tmp_path / "stdlib", ("email", "json", "http", "xml", "urllib",
                                                               "logging", "asyncio"))))
    job = tab.start_audit()
    worker = psutil.Process(job.pid)
    qtbot.waitUntil(lambda: len(worker.children(recursive=True)) > 0, timeout=120000)
    helpers = worker.children(recursive=True)
    tab.panel.cancel_button.click()
    qtbot.waitUntil(lambda: job.finished, timeout=60000)
    assert job.status == "cancelled"
    assert window.project.run(job.run_id)["status"] == "cancelled"
    gone, alive = psutil.wait_procs(helpers + [worker], timeout=20)
    assert not alive, f"left running: {alive}"
    assert tab.panel.run_button.isEnabled()


def make_empty_project(path):
    Project.create(path, plugins=load_plugins().plugins).close()
    return path


def test_code_view_masks_values_not_names():
    from workbench_plugins.code_audit.tab import mask_lines

    text = 'A = 1\nOPENAI_API_KEY = "sk-proj-DEMOxFAKExKEY123456"\n  secret_access_key: kX9dEmOfAkE2sEcReT\n'
    masked = mask_lines(text, 2, 3).split("\n")
    assert masked[0] == "A = 1"
    assert masked[1] == 'OPENAI_API_KEY = "sk-proj-****"'  # a known provider prefix at most, as stored
    assert masked[2] == "  secret_access_key: ****"  # no character of a free-form secret
