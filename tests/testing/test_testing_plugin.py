"""The testing plugin through the SDK: jobs on a real project file, the CLI, score and report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.jobs import run_in_process
from workbench.core.plugins import PluginStatus, Registry, check_plugin
from workbench.core.project import Project
from workbench_plugins.testing import plugin
from workbench_plugins.testing import store as tables
from workbench_plugins.testing.score import compute

from .conftest import CALC, CALC_TESTS, COVERAGERC, PYTHON, write_tree
from .test_testing_junit_import import BILLION_LAUGHS, COBERTURA, GO_JUNIT_REPORT

REGISTRY = Registry([PluginStatus("testing", "workbench_plugins.testing:plugin", None, plugin.version, True,
                                  plugin=plugin)])
SERVER = Path(__file__).with_name("llm_server.py")


@pytest.fixture
def project(tmp_path):
    proj = Project.create(tmp_path / "tests.wbproj", plugins=[plugin])
    try:
        yield proj
    finally:
        proj.close()


def job(project, name, **params):
    return run_in_process(project, plugin.job_spec(name, **params), registry=REGISTRY)


def test_the_plugin_object_honours_the_contract():
    check_plugin(plugin)
    assert set(plugin.jobs) == {"test", "import", "fuzz", "probe", "load"}


def test_test_runs_are_stored_compared_and_scored(project, tmp_path):
    store = project.store("testing")
    assert plugin.score(store) is None  # not assessed
    target = write_tree(tmp_path / "calc", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                            ".coveragerc": COVERAGERC})
    first_id, status, first = job(project, "test", target=str(target), python=PYTHON)
    assert status == "done", first
    assert (first["passed"], first["failed"], first["errors"], first["skipped"]) == (4, 1, 0, 1)
    assert first["previous_run_id"] is None
    row = tables.run_row(store, first_id)
    assert row["coverage_percent"] == first["coverage_percent"] > 0
    stored = {c["id"]: c["outcome"] for c in tables.cases(store, first_id)}
    assert stored["tests/test_calc.py::test_wrong"] == "failed" and len(stored) == 6
    assert [f["path"] for f in tables.coverage_files(store, first_id)] == ["calc.py"]
    own = tables.group_coverage(store, first_id)  # every test here is functional: its own files, calc.py
    assert list(own) == ["functional"] and own["functional"]["files"] == 1
    assert first["group_coverage_percent"] == {"functional": own["functional"]["percent"]}

    tests = target / "tests" / "test_calc.py"
    tests.write_text(tests.read_text().replace("assert add(0, 0) == 0", "assert add(0, 0) == 7"))
    second_id, _, second = job(project, "test", target=str(target), python=PYTHON)
    assert second["previous_run_id"] == first_id
    assert second["new_failures_ids"] == ["tests/test_calc.py::TestGroup::test_in_class"]
    assert second["still_failing_ids"] == ["tests/test_calc.py::test_wrong"]
    findings = {(f["rule"], f["severity"], f["message"].split()[0]) for f in store.findings(run_id=second_id)}
    assert findings == {("T001", "MEDIUM", "tests/test_calc.py::TestGroup::test_in_class"),
                        ("T001", "LOW", "tests/test_calc.py::test_wrong")}

    # Lines no test executed, for the code audit's "untested" mark: line 10, 14-16 of calc.py.
    assert tables.uncovered_lines(store) == {str(target / "calc.py"): {10, 14, 15, 16}}

    # Score from the store = the formula on the latest run.
    expected = compute([{"cases": tables.cases(store, second_id), "coverage_percent": second["coverage_percent"]}])
    assert plugin.score(store) == round(expected["score"], 1)
    sections = plugin.report_sections(store, {})
    assert sections[0].title == "Automated testing"
    kinds = [type(b).__name__ for b in sections[0].blocks]
    assert kinds[:3] == ["KeyValues", "Paragraph", "KeyValues"] and "Table" in kinds and "LineChart" in kinds


def test_a_timed_out_run_fails_with_its_message_and_keeps_what_finished(project, tmp_path):
    store = project.store("testing")
    target = write_tree(tmp_path / "hang", {"tests/test_h.py": '''
        import time

        def test_quick():
            pass

        def test_hangs():
            time.sleep(600)
    '''})
    run_id, status, error = job(project, "test", target=str(target), python=PYTHON, timeout=8.0)
    assert status == "failed"
    assert "timed out after 8 s while running tests/test_h.py::test_hangs" in error
    assert project.run(run_id)["status"] == "failed"
    assert {c["id"]: c["outcome"] for c in tables.cases(store, run_id)} == {"tests/test_h.py::test_quick": "passed"}
    assert tables.run_row(store, run_id)["status"] == "timeout"
    assert store.latest_runs("test") == []  # no finished run: the score is still "not assessed"
    assert plugin.score(store) is None


def test_imports_become_runs_and_hostile_files_leave_nothing(project, tmp_path):
    store = project.store("testing")
    junit_file = tmp_path / "go.xml"
    junit_file.write_text(GO_JUNIT_REPORT)
    run_id, status, summary = job(project, "import", target=str(junit_file))
    assert status == "done" and (summary["tests"], summary["failed"], summary["skipped"]) == (3, 1, 1)
    assert len(tables.cases(store, run_id)) == 3
    cobertura = tmp_path / "coverage.xml"
    cobertura.write_text(COBERTURA)
    cov_id, status, summary = job(project, "import", target=str(cobertura))
    assert summary["kind"] == "cobertura-import" and summary["coverage_percent"] == pytest.approx(62.5)
    assert tables.coverage_files(store, cov_id)[0]["missing_ranges"] == [[4, 5]]
    lol = tmp_path / "lol.xml"
    lol.write_text(BILLION_LAUGHS)
    bad_id, status, error = job(project, "import", target=str(lol))
    assert status == "failed" and "refused: the file declares XML entities" in error
    assert tables.cases(store, bad_id) == [] and tables.run_row(store, bad_id) is None
    assert len(tables.cases(store, run_id)) == 3  # the earlier import is untouched


def test_fuzz_job_records_the_crash_as_a_finding(project, tmp_path):
    store = project.store("testing")
    target = write_tree(tmp_path / "model", {"scorer.py": '''
        def score(text):
            if "\\x00" in text:
                raise UnicodeError("NUL in input")
            return len(text)
    '''})
    run_id, status, summary = job(project, "fuzz", target="scorer:score", path=str(target), trusted=True,
                                  max_examples=80)
    assert status == "done" and summary["crashes"] == 1
    (finding,) = store.findings(run_id=run_id)
    assert (finding["rule"], finding["severity"], finding["cwe"]) == ("T101", "HIGH", 248)
    assert tables.fuzz_findings(store, run_id)[0]["minimal_input"] == "'\\x00'"
    _, status, error = job(project, "fuzz", target="scorer:score", path=str(target))
    assert status == "failed" and "confirm that you trust it" in error
    assert plugin.score(store) < 100


@pytest.fixture
def server(tmp_path):
    proc = subprocess.Popen([sys.executable, str(SERVER), str(tmp_path / "log.jsonl")], stdout=subprocess.PIPE,
                            text=True)
    try:
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}/v1"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.enable_socket
def test_probe_job_stores_hit_rates_transcripts_and_one_finding(project, server):
    store = project.store("testing")
    run_id, status, summary = job(project, "probe", target=server, runs=2)
    assert status == "done", summary
    assert summary["probes"]["leak-repeat-instructions"] == 1.0
    assert {p for p, r in summary["probes"].items() if r} == {"leak-repeat-instructions"}
    (finding,) = store.findings(run_id=run_id)
    assert (finding["rule"], finding["cwe"]) == ("T201", 200)
    assert len(tables.transcripts(store, run_id)) == 2 * len(summary["probes"])
    assert plugin.score(store) == pytest.approx(100 * (1 - summary["hit_rate"]), abs=0.05)
    _, status, error = job(project, "probe", target=server, key_name="llm-key")
    assert status == "failed" and "llm-key" in error


# ------------------------------------------------------------------------------------ CLI
def test_cli_test_with_summary_json_and_the_regression_gate(registered, tmp_path, capsys, qapp):
    # qapp: a QApplication exists before `report` renders, as in the window; a bare
    # QGuiApplication made by the renderer would break the Qt tests that follow.
    from workbench.cli import main

    target = write_tree(tmp_path / "calc", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                            ".coveragerc": COVERAGERC})
    proj = str(tmp_path / "cli.wbproj")
    summary_file = tmp_path / "summary.json"
    junit_out = tmp_path / "junit.xml"
    argv = ["test", str(target), "-p", proj, "--python", PYTHON, "--fail-on-regression",
            "--summary-json", str(summary_file), "--junit-out", str(junit_out)]
    assert main(argv) == 0
    summary = json.loads(summary_file.read_text())
    assert (summary["passed"], summary["failed"], summary["errors"], summary["skipped"]) == (4, 1, 0, 1)
    by_hand = subprocess.run([PYTHON, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                             cwd=target, capture_output=True)
    assert by_hand.returncode == 1
    total = subprocess.run([PYTHON, "-m", "coverage", "report", "--format=total", "--precision=8"], cwd=target,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert f"{summary['coverage_percent']:.8f}" == total
    assert "testcase" in junit_out.read_text()
    own = summary["group_coverage_percent"]["functional"]
    assert f"coverage per group (files its tests executed): functional {own:.2f} %" in capsys.readouterr().out

    tests = target / "tests" / "test_calc.py"
    tests.write_text(tests.read_text().replace("assert add(1, 2) == 3", "assert add(1, 2) == 4"))
    assert main(argv) == 3
    assert "gate: 1 new failure(s): tests/test_calc.py::test_add" in capsys.readouterr().err

    pdf = tmp_path / "report.pdf"
    assert main(["report", proj, "-o", str(pdf)]) == 0
    from pypdf import PdfReader

    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(str(pdf)).pages)
    assert "Automated testing" in text and "Failing tests (2)" in text and "calc.py" in text

    assert main(["test", str(tmp_path / "nowhere"), "-p", proj, "--python", PYTHON]) == 1
    assert main(["test", str(target), "-p", proj]) == 1
    assert "no --python given" in capsys.readouterr().err


@pytest.mark.enable_socket
def test_cli_import_fuzz_and_probe(registered, tmp_path, server, capsys):
    from workbench.cli import main

    proj = str(tmp_path / "cli.wbproj")
    junit_file = tmp_path / "jest.xml"
    junit_file.write_text(GO_JUNIT_REPORT)
    assert main(["test-import", str(junit_file), "-p", proj]) == 0
    assert "3 tests: 1 passed, 1 failed" in capsys.readouterr().out
    not_xml = tmp_path / "notes.xml"
    not_xml.write_text("just text")
    assert main(["test-import", str(not_xml), "-p", proj]) == 1
    assert "not well-formed XML at line 1" in capsys.readouterr().err

    write_tree(tmp_path / "m", {"entry.py": "def f(text):\n    return 1 / len(text)\n"})
    assert main(["fuzz", "entry:f", "--input", "text", "-p", proj, "--max", "20",
                 "--path", str(tmp_path / "m")]) == 3
    assert "ZeroDivisionError" in capsys.readouterr().out

    assert main(["probe", server, "-p", proj, "--runs", "2"]) == 0
    assert main(["probe", server, "-p", proj, "--runs", "2", "--max-hit-rate", "0.5"]) == 3
    assert "gate: hit rate above 0.5 for leak-repeat-instructions" in capsys.readouterr().err
    assert main(["probe", "http://192.0.2.1:8000/v1", "-p", proj]) == 1
    assert "192.0.2.1 is not this machine" in capsys.readouterr().err


def test_reimport_is_compared_in_the_database_like_in_memory(project, tmp_path):
    from workbench_plugins.testing.compare import compare_runs

    store = project.store("testing")
    report = tmp_path / "ci.xml"
    report.write_text(GO_JUNIT_REPORT)
    first_id, _, _ = job(project, "import", target=str(report))
    changed = (GO_JUNIT_REPORT
               .replace('<testcase name="TestAdd" classname="example.com/shop/cart" time="0.001"></testcase>',
                        '<testcase name="TestAdd" classname="example.com/shop/cart" time="0.001">'
                        '<failure message="now broken">cart_test.go:9</failure></testcase>')
               .replace('<failure message="Failed" type="">cart_test.go:42: expected 1 item, got 2</failure>', "")
               .replace('name="TestLater"', 'name="TestLaterRenamed"'))
    report.write_text(changed)
    second_id, status, summary = job(project, "import", target=str(report))
    assert status == "done"
    prefix = "example.com/shop/cart::"
    assert summary["new_failures_ids"] == [prefix + "TestAdd"]
    assert summary["fixed_ids"] == [prefix + "TestRemove"]
    assert summary["new_tests_ids"] == [prefix + "TestLaterRenamed"]
    assert summary["removed_tests_ids"] == [prefix + "TestLater"]
    in_memory = compare_runs(tables.cases(store, first_id), tables.cases(store, second_id))
    assert tables.compare_in_db(store, first_id, second_id) == in_memory
    (finding,) = store.findings(run_id=second_id)
    assert (finding["rule"], finding["severity"]) == ("T001", "MEDIUM")


@pytest.mark.enable_socket
def test_cli_load_run_is_stored_and_compared(registered, tmp_path, server, capsys):
    from workbench.cli import main

    proj = str(tmp_path / "load.wbproj")
    summary_file = tmp_path / "load.json"
    argv = ["load", server, "-p", proj, "--concurrency", "2", "--max-requests", "10", "--duration", "30",
            "--summary-json", str(summary_file)]
    assert main(argv) == 0
    first = json.loads(summary_file.read_text())
    assert (first["requests"], first["ok"], first["errors"]) == (10, 10, 0) and "previous" not in first
    assert main(argv) == 0
    second = json.loads(summary_file.read_text())
    assert second["previous"]["throughput_rps"] == pytest.approx(first["throughput_rps"])
    assert "previous run:" in capsys.readouterr().out
    assert main(["load", server, "-p", proj, "--concurrency", "100"]) == 1
    assert "concurrency must be 1-64" in capsys.readouterr().err


@pytest.fixture
def keyed_server(tmp_path):
    """The local chat server, wanting its own key on /auth/ (and echoing the header it got)."""
    key = "wb-probe-key-5f1c9e27d3b84a60"
    log = tmp_path / "keyed_requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(SERVER), str(log), key], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/auth/v1", log, key
    finally:
        proc.kill()
        proc.wait()


def _bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.enable_socket
def test_key_name_reads_the_keyring_sends_a_bearer_token_and_stores_the_key_nowhere(tmp_path, keyed_server,
                                                                                     registered, capsys):
    from workbench.cli import main
    from workbench.core.secrets import set_secret

    url, log, key = keyed_server
    folder = tmp_path / "keyed"
    folder.mkdir()
    path = folder / "keyed.wbproj"
    with Project.create(path, plugins=[plugin]) as proj:
        set_secret(proj, "llm-key", key)
        # Without the key the endpoint refuses: the run fails and says why.
        _, status, error = job(proj, "probe", target=url, runs=1)
        assert status == "failed" and "wants an API key" in error
        run_id, status, summary = job(proj, "probe", target=url, runs=2, key_name="llm-key")
        assert status == "done", summary
        assert summary["answered"] == summary["requests"] == 2 * len(summary["probes"])
        assert summary["probes"]["leak-repeat-instructions"] == 1.0
        answers = [t["answer"] for t in tables.transcripts(proj.store("testing"), run_id)]
        # The server echoed the header; the stored transcript has the key masked.
        assert all("request authorised by Bearer [API key]" in a for a in answers)
        assert key not in json.dumps(summary) and key not in json.dumps(answers)
    # The same through the CLI, with the summary written to a file.
    summary_file = folder / "summary.json"
    assert main(["probe", url, "-p", str(path), "--runs", "1", "--key-name", "llm-key",
                 "--summary-json", str(summary_file)]) == 0
    assert key not in capsys.readouterr().out
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    with_key = [r["authorization"] for r in sent if r["authorization"]]
    assert len(with_key) == 3 * len(summary["probes"]) and set(with_key) == {f"Bearer {key}"}
    assert json.loads(summary_file.read_text())["answered"] == len(summary["probes"])
    # Not in the project file (nor its -wal), the summary file or anything else written there;
    # only the secret's name is.
    written = _bytes_under(folder)
    assert key.encode() not in written and b"llm-key" in written


def test_cli_test_passes_pytest_arguments_through(registered, tmp_path, capsys):
    from workbench.cli import main

    target = write_tree(tmp_path / "calc", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                            ".coveragerc": COVERAGERC})
    proj = str(tmp_path / "args.wbproj")
    summary_file = tmp_path / "summary.json"
    argv = ["test", str(target), "-p", proj, "--python", PYTHON, "--summary-json", str(summary_file),
            "--pytest-args=-k 'sign or in_class'", "--pytest-args", "--cov=calc --cov-report=term -p no:randomly"]
    assert main(argv) == 0
    summary = json.loads(summary_file.read_text())
    assert (summary["tests"], summary["passed"], summary["failed"]) == (3, 3, 0)
    assert "3 tests: 3 passed" in capsys.readouterr().out
    # Or everything after --, as given.
    assert main(["test", str(target), "-p", proj, "--python", PYTHON, "--summary-json", str(summary_file), "--",
                 "-k", "add or wrong", "-m", "not slow"]) == 0
    summary = json.loads(summary_file.read_text())
    assert (summary["tests"], summary["passed"], summary["failed"]) == (2, 1, 1)
    assert main(["test", str(target), "-p", proj, "--python", PYTHON, "--pytest-args", "-k 'unclosed"]) != 0
    assert "--pytest-args \"-k 'unclosed\": No closing quotation" in capsys.readouterr().err
