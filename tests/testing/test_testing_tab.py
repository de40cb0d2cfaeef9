"""The Tests tab in the real main window: a real run in a worker process, then its views."""

from __future__ import annotations

import os

import pytest

from workbench.core.plugins import load_plugins
from workbench.core.project import Project

from .conftest import CALC, CALC_TESTS, COVERAGERC, PYTHON, write_tree


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, registered):
    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    from workbench.gui.app import create_window

    _, win = create_window(None, reopen_last=False)
    qtbot.addWidget(win)
    win.resize(1400, 850)
    win.show()
    yield win
    win.jobs.wait_all()
    win.close_project()


def test_run_from_the_tab_shows_results_coverage_and_history(window, tmp_path, qtbot):
    project_path = tmp_path / "tests.wbproj"
    Project.create(project_path, plugins=load_plugins().plugins).close()
    window.open_project(project_path)
    tab = window.tab_for("testing")
    target = write_tree(tmp_path / "calc", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                            ".coveragerc": COVERAGERC})
    assert tab.panel.start() is None  # no target or interpreter yet: refused with a message, nothing started
    tab.panel.target.setText(str(target))
    tab.panel.fields["python"].setText(PYTHON)
    tab.panel.fields["rerun"].setValue(1)
    job = tab.panel.start()
    assert job is not None and not tab.panel.run_button.isEnabled() and tab.panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: job.finished, timeout=120000)
    assert job.status == "done", job.result
    qtbot.waitUntil(lambda: tab.results_model.rowCount() == 1)
    assert tab.panel.run_button.isEnabled() and not tab.panel.cancel_button.isEnabled()

    file_row = tab.results_model.item(0, 0)
    assert file_row.text() == "tests/test_calc.py" and file_row.rowCount() == 6
    outcomes = {file_row.child(i, 0).text(): file_row.child(i, 1).text() for i in range(file_row.rowCount())}
    assert outcomes["test_wrong"] == "failed" and outcomes["TestGroup::test_in_class"] == "passed"
    wrong = next(i for i in range(file_row.rowCount()) if file_row.child(i, 0).text() == "test_wrong")
    tab._show_case(tab.results_model.indexFromItem(file_row.child(wrong, 0)))
    assert "assert 2 == 3" in tab.details.toPlainText() and "reruns: failed" in tab.details.toPlainText()

    tab.pages.setCurrentIndex(1)
    assert tab.coverage_model.rowCount() == 1 and tab.coverage_model.item(0, 0).text() == "calc.py"
    tab._show_file(tab.coverage_model.index(0, 0))
    assert tab.shaded_lines == 4  # line 10 and lines 14-16
    assert len(tab.code.extraSelections()) == 4
    assert "def never_called" in tab.code.toPlainText()
    assert "coverage per group: functional" in tab.summary.text()
    untested_page = [tab.pages.tabText(i) for i in range(tab.pages.count())].index("Untested findings")
    assert tab.untested_rows == [] and "No code audit of this target yet" in tab.untested_note.text()
    assert untested_page > 0

    tab.pages.setCurrentIndex(2)
    assert len(tab.history.listDataItems()) == 2  # pass rate and coverage

    # pytest arguments from the tab reach pytest; bad quoting is refused before anything starts.
    tab.panel.fields["pytest_args"].setText("-k 'sign'")
    tab.panel.fields["rerun"].setValue(0)
    shot = os.environ.get("WB_TESTING_SCREENSHOT")
    if shot:
        tab.pages.setCurrentIndex(0)
        qtbot.wait(100)
        window.grab().save(f"{shot}-args.png")
    job = tab.panel.start()
    qtbot.waitUntil(lambda: job.finished, timeout=120000)
    assert job.status == "done", job.result
    qtbot.waitUntil(lambda: tab.results_model.rowCount() == 1 and tab.results_model.item(0, 0).rowCount() == 2)
    tab.panel.fields["pytest_args"].setText("-k 'sign")
    assert tab.panel.start() is None
    tab.panel.fields["pytest_args"].setText("")
    tab.pages.setCurrentIndex(2)
    if shot:  # for the hand-in: WB_TESTING_SCREENSHOT=/path/prefix pytest tests/testing/test_tab.py
        for i, name in enumerate(("results", "coverage", "history")):
            tab.pages.setCurrentIndex(i)
            qtbot.wait(100)
            window.grab().save(f"{shot}-{name}.png")


@pytest.mark.enable_socket
def test_fuzz_asks_for_trust_first_and_probe_results_show(window, tmp_path, qtbot, monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    project_path = tmp_path / "fuzz.wbproj"
    Project.create(project_path, plugins=load_plugins().plugins).close()
    window.open_project(project_path)
    tab = window.tab_for("testing")
    target = write_tree(tmp_path / "model", {"clf.py": "def predict(row):\n    return sum(row) / len(row)\n"})
    tab.panel.target.setText(str(target))
    tab.fuzz_panel.target.setText("clf:predict")
    tab.fuzz_panel.fields["input"].setCurrentText("tabular")
    questions = []
    monkeypatch.setattr(tab.host, "ask", lambda title, text: questions.append(text) or False)
    assert tab.fuzz_panel.start() is None  # declined: nothing runs
    assert "calls it with thousands of hostile inputs on this machine" in questions[0]
    monkeypatch.setattr(tab.host, "ask", lambda title, text: questions.append(text) or True)
    job = tab.fuzz_panel.start()
    assert job is not None and len(questions) == 2
    qtbot.waitUntil(lambda: job.finished, timeout=120000)
    assert job.status == "done", job.result
    qtbot.waitUntil(lambda: tab.fuzz.model().rowCount() > 0)
    kinds = {tab.fuzz.model().item(r, 2).text() for r in range(tab.fuzz.model().rowCount())}
    assert "ZeroDivisionError" in kinds  # the empty row
    again = tab.fuzz_panel.start()
    assert again is not None and len(questions) == 2  # asked once per tab
    qtbot.waitUntil(lambda: again.finished, timeout=120000)

    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("llm_server.py")),
                               str(tmp_path / "log.jsonl")], stdout=subprocess.PIPE, text=True)
    try:
        tab.probe_panel.target.setText(f"http://127.0.0.1:{int(server.stdout.readline())}/v1")
        tab.probe_panel.fields["runs"].setValue(2)
        job = tab.probe_panel.start()
        qtbot.waitUntil(lambda: job.finished, timeout=120000)
    finally:
        server.kill()
        server.wait()
    assert job.status == "done", job.result
    qtbot.waitUntil(lambda: tab.probes.model().rowCount() == 9)
    model = tab.probes.model()
    rates = {model.item(r, 0).text(): model.item(r, 6).text() for r in range(model.rowCount())}
    assert rates.pop("leak-repeat-instructions") == "100%" and set(rates.values()) == {"0%"}
    shot = os.environ.get("WB_TESTING_SCREENSHOT")
    if shot:
        for i, name in ((4, "fuzz"), (5, "probes")):
            tab.pages.setCurrentIndex(i)
            qtbot.wait(100)
            window.grab().save(f"{shot}-{name}.png")


def test_flaky_page_shows_flip_rates_across_runs_on_the_same_code(window, tmp_path, qtbot):
    from workbench.core.jobs import run_in_process

    from workbench_plugins.testing import plugin
    from workbench_plugins.testing import store as tables

    target = write_tree(tmp_path / "flaky", {"tests/test_f.py": '''
        from pathlib import Path

        COUNTER = Path(__file__).with_name("counter.txt")


        def test_flips():
            n = int(COUNTER.read_text()) if COUNTER.exists() else 0
            COUNTER.write_text(str(n + 1))
            assert n % 2 == 1


        def test_steady():
            pass
    '''})
    project_path = tmp_path / "flaky.wbproj"
    with Project.create(project_path, plugins=load_plugins().plugins) as project:
        for _ in range(2):  # fail, pass on rerun; fail, pass on rerun: same code throughout
            _, status, _ = run_in_process(project, plugin.job_spec("test", target=str(target), python=PYTHON,
                                                                   rerun=1))
            assert status == "done"
        history = tables.flip_rates(project.store("testing"), str(target))
    assert history == {"tests/test_f.py::test_flips": {"observations": 4, "flips": 3, "flip_rate": 1.0,
                                                       "flaky": True}}
    window.open_project(project_path)
    tab = window.tab_for("testing")
    model = tab.flaky.model()
    assert model.rowCount() == 1
    assert [model.item(0, c).text() for c in range(4)] == ["tests/test_f.py::test_flips", "100%", "3", "4"]


def test_cancel_in_the_tab_ends_the_whole_test_process_group(window, tmp_path, qtbot):
    from .test_testing_runner import _alive

    project_path = tmp_path / "cancel.wbproj"
    Project.create(project_path, plugins=load_plugins().plugins).close()
    window.open_project(project_path)
    tab = window.tab_for("testing")
    pidfile = tmp_path / "child.pid"
    target = write_tree(tmp_path / "slow", {"tests/test_slow.py": f'''
        import subprocess, time

        def test_slow():
            child = subprocess.Popen(["sleep", "600"])
            open({str(pidfile)!r}, "w").write(str(child.pid))
            time.sleep(600)
    '''})
    tab.panel.target.setText(str(target))
    tab.panel.fields["python"].setText(PYTHON)
    job = tab.panel.start()
    qtbot.waitUntil(lambda: pidfile.exists() and pidfile.read_text() != "", timeout=60000)
    qtbot.waitUntil(lambda: "test_slow" in tab.panel.eta.text(), timeout=10000)  # the current test shows
    tab.panel.cancel_button.click()
    qtbot.waitUntil(lambda: job.finished, timeout=60000)
    assert job.status == "cancelled"
    assert not _alive(int(pidfile.read_text()))
    assert tab.panel.run_button.isEnabled()


def test_untested_page_lists_audit_findings_on_lines_no_test_ran(window, tmp_path, qtbot):
    from workbench.core.jobs import run_in_process
    from workbench_plugins.code_audit import plugin as audit_plugin
    from workbench_plugins.testing import plugin

    from .test_testing_untested import APP, REGISTRY

    target = write_tree(tmp_path / "app_project", {
        "app.py": APP, ".coveragerc": "[run]\nsource = app\n",
        "tests/test_app.py": "from app import tested\n\n\ndef test_tested():\n    assert tested('1 + 1') == 2\n",
    })
    project_path = tmp_path / "untested.wbproj"
    with Project.create(project_path, plugins=load_plugins().plugins) as project:
        for spec in (audit_plugin.job_spec("audit", target=str(target), include_secrets=False, include_models=False),
                     plugin.job_spec("test", target=str(target), python=PYTHON)):
            _, status, result = run_in_process(project, spec, registry=REGISTRY)
            assert status == "done", result
    window.open_project(project_path)
    tab = window.tab_for("testing")
    tab.refresh()
    # The reopened project's last run fills the target and interpreter, ready to run again.
    assert tab.panel.target.text() == str(target) and tab.panel.fields["python"].text()
    assert ["MEDIUM", "app.py:6", "B307"] in [row[:3] for row in tab.untested_rows]
    assert all(not row[1].endswith(":2") for row in tab.untested_rows)  # tested's eval ran
    assert tab.untested_note.text().startswith(f"{len(tab.untested_rows)} of ")
