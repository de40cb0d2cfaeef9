"""Test-suite runs on real small target projects, in real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import venv

import pytest

from workbench_plugins.testing import runner
from workbench_plugins.testing.compare import compare_runs
from workbench_plugins.testing.errors import InterpreterError, TestingError

from .conftest import PYTHON, write_tree


def by_id(run):
    return {c["id"]: c for c in run["cases"]}


def test_outcomes_and_coverage_equal_coverage_py_run_by_hand(calc_target, tmp_path):
    run = runner.run_suite(str(calc_target), PYTHON)
    assert run["status"] == "done", run["messages"]
    cases = by_id(run)
    assert {i: c["outcome"] for i, c in cases.items()} == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_calc.py::test_wrong": "failed",
        "tests/test_calc.py::test_sign[5-1]": "passed",
        "tests/test_calc.py::test_sign[-5--1]": "passed",
        "tests/test_calc.py::test_skipped": "skipped",
        "tests/test_calc.py::TestGroup::test_in_class": "passed",
    }
    wrong = cases["tests/test_calc.py::test_wrong"]
    assert "assert 2 == 3" in wrong["message"]
    assert "key-value-that-must-not-be-stored" not in wrong["message"]  # masked
    assert wrong["file"] == "tests/test_calc.py"
    assert run["totals"] == {**run["totals"], "tests": 6, "passed": 4, "failed": 1, "errors": 0, "skipped": 1}

    # The same suite by hand, in a copy: coverage run -m pytest, then coverage json / report.
    hand = tmp_path / "by_hand"
    shutil.copytree(calc_target, hand)
    subprocess.run([PYTHON, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                   cwd=hand, capture_output=True, check=False)
    subprocess.run([PYTHON, "-m", "coverage", "json", "-o", "cov.json"], cwd=hand, check=True,
                   capture_output=True)
    by_hand = json.loads((hand / "cov.json").read_text())
    assert run["coverage_percent"] == by_hand["totals"]["percent_covered"]
    report = subprocess.run([PYTHON, "-m", "coverage", "report", "--format=total", "--precision=6"],
                            cwd=hand, check=True, capture_output=True, text=True).stdout.strip()
    assert f"{run['coverage_percent']:.6f}" == report
    # The target's config is honoured: only calc.py is measured (source = calc),
    # with branches, and its "pragma: no cover" function is excluded.
    assert set(run["coverage"]["files"]) == {"calc.py"} == set(by_hand["files"])
    calc = run["coverage"]["files"]["calc.py"]
    assert calc["num_branches"] == by_hand["files"]["calc.py"]["summary"]["num_branches"] > 0
    assert calc["covered_lines"] == by_hand["files"]["calc.py"]["summary"]["covered_lines"]
    # sign()'s "return 0" (line 10) and the body of never_called() (lines 14-16) are the gaps.
    assert calc["missing_ranges"] == [[10, 10], [14, 16]]
    assert by_hand["files"]["calc.py"]["missing_lines"] == [10, 14, 15, 16]


def test_nothing_is_written_into_the_target(calc_target):
    before = sorted(p.relative_to(calc_target).as_posix() for p in calc_target.rglob("*")
                    if "__pycache__" not in p.parts)
    runner.run_suite(str(calc_target), PYTHON)
    after = sorted(p.relative_to(calc_target).as_posix() for p in calc_target.rglob("*")
                   if "__pycache__" not in p.parts)
    assert after == before


def test_comparison_with_the_previous_run(calc_target):
    first = runner.run_suite(str(calc_target), PYTHON)
    tests = calc_target / "tests" / "test_calc.py"
    text = tests.read_text()
    text = text.replace("assert add(1, 1) == 3", "assert add(1, 1) == 2")          # fixed
    text = text.replace("assert add(0, 0) == 0", "assert add(0, 0) == 1")          # new failure
    text = text.replace("def test_add():", "def test_add_renamed():")              # removed + new
    text += "\n\ndef test_brand_new():\n    assert False\n"                         # new and failing
    tests.write_text(text)
    second = runner.run_suite(str(calc_target), PYTHON)
    assert first["code_hash"] != second["code_hash"]
    diff = compare_runs(first["cases"], second["cases"])
    prefix = "tests/test_calc.py::"
    assert diff["fixed"] == [prefix + "test_wrong"]
    assert diff["new_failures"] == [prefix + "TestGroup::test_in_class", prefix + "test_brand_new"]
    assert diff["still_failing"] == []
    assert diff["new_tests"] == [prefix + "test_add_renamed", prefix + "test_brand_new"]
    assert diff["removed_tests"] == [prefix + "test_add"]
    assert compare_runs(None, second["cases"])["previous"] is False


def test_rerun_marks_a_test_flaky_with_a_file_based_counter(tmp_path):
    target = write_tree(tmp_path / "flaky", {"tests/test_flaky.py": '''
        from pathlib import Path

        COUNTER = Path(__file__).with_name("counter.txt")


        def test_flips():
            n = int(COUNTER.read_text()) if COUNTER.exists() else 0
            COUNTER.write_text(str(n + 1))
            assert n % 2 == 1, f"odd call {n}"


        def test_always_fails():
            assert 1 == 2
    '''})
    run = runner.run_suite(str(target), PYTHON, rerun=2)
    cases = by_id(run)
    flips = cases["tests/test_flaky.py::test_flips"]
    assert (flips["outcome"], flips["reruns"], flips["flaky"]) == ("failed", ["passed", "failed"], True)
    always = cases["tests/test_flaky.py::test_always_fails"]
    assert (always["reruns"], always["flaky"]) == (["failed", "failed"], False)
    assert run["totals"]["flaky"] == 1
    assert (target / "tests" / "counter.txt").read_text() == "3"


def test_folder_with_no_tests(tmp_path):
    target = write_tree(tmp_path / "empty", {"lib.py": "x = 1\n"})
    run = runner.run_suite(str(target), PYTHON)
    assert run["status"] == "no_tests"
    assert "collected no tests" in run["messages"][0] and str(target) in run["messages"][0]
    assert run["cases"] == []


def test_collection_error_names_the_file(tmp_path):
    target = write_tree(tmp_path / "broken", {
        "tests/test_ok.py": "def test_ok():\n    pass\n",
        "tests/test_broken.py": "import module_that_does_not_exist\n\ndef test_x():\n    pass\n",
    })
    run = runner.run_suite(str(target), PYTHON)
    assert run["status"] == "collection_error"
    assert "tests/test_broken.py" in run["messages"][0]
    assert "module_that_does_not_exist" in run["messages"][0]


def test_missing_interpreter(calc_target, tmp_path):
    with pytest.raises(InterpreterError, match="does not exist"):
        runner.run_suite(str(calc_target), str(tmp_path / "nope" / "python"))
    with pytest.raises(InterpreterError, match="no Python interpreter given"):
        runner.run_suite(str(calc_target), "")


def test_python2_interpreter_is_refused(calc_target, tmp_path):
    # No Python 2 exists on this machine; this stand-in answers our version
    # probe as a Python 2.7 would (the probe's code is valid Python 2).
    fake = tmp_path / "python2.7"
    fake.write_text('#!/bin/sh\necho \'{"version": "2.7.18", "executable": "/usr/bin/python2.7", "major": 2}\'\n')
    fake.chmod(0o755)
    with pytest.raises(InterpreterError, match=r"is Python 2\.7\.18; test runs need Python 3\.8"):
        runner.run_suite(str(calc_target), str(fake))


def test_interpreter_without_pytest_or_coverage_says_how_to_install(calc_target, tmp_path):
    env_dir = tmp_path / "bare-venv"
    venv.create(env_dir, with_pip=False)
    bare = env_dir / "bin" / "python"
    with pytest.raises(InterpreterError) as info:
        runner.run_suite(str(calc_target), str(bare))
    message = str(info.value)
    assert "cannot import pytest and coverage" in message
    assert f"{bare} -m pip install pytest coverage" in message
    assert not list((env_dir / "lib").rglob("pytest"))  # nothing was installed


def test_hanging_test_times_out_and_the_whole_group_ends(tmp_path):
    pidfile = tmp_path / "child.pid"
    target = write_tree(tmp_path / "hang", {"tests/test_hang.py": f'''
        import subprocess, time

        def test_first():
            pass

        def test_hangs():
            child = subprocess.Popen(["sleep", "600"])
            open({str(pidfile)!r}, "w").write(str(child.pid))
            time.sleep(600)
    '''})
    run = runner.run_suite(str(target), PYTHON, timeout=8)  # room for a slow start on a busy machine
    assert run["status"] == "timeout"
    assert "timed out after 8 s while running tests/test_hang.py::test_hangs" in run["messages"][0]
    assert by_id(run)["tests/test_hang.py::test_first"]["outcome"] == "passed"
    child = int(pidfile.read_text())
    assert not _alive(child)


def test_a_test_that_kills_its_own_process_group(tmp_path):
    target = write_tree(tmp_path / "killer", {"tests/test_killer.py": '''
        import os, signal

        def test_before():
            pass

        def test_kills_group():
            os.killpg(os.getpgrp(), signal.SIGKILL)
    '''})
    run = runner.run_suite(str(target), PYTHON)
    assert run["status"] == "killed"
    assert "killed by SIGKILL while running tests/test_killer.py::test_kills_group" in run["messages"][0]
    assert by_id(run)["tests/test_killer.py::test_before"]["outcome"] == "passed"


def test_cancel_ends_the_whole_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    target = write_tree(tmp_path / "slow", {"tests/test_slow.py": f'''
        import subprocess, time

        def test_slow():
            child = subprocess.Popen(["sleep", "600"])
            open({str(pidfile)!r}, "w").write(str(child.pid))
            time.sleep(600)
    '''})

    class Cancelled(Exception):
        pass

    def check_cancelled():
        if pidfile.exists() and pidfile.read_text():
            raise Cancelled()

    with pytest.raises(Cancelled):
        runner.run_suite(str(target), PYTHON, check_cancelled=check_cancelled)
    assert not _alive(int(pidfile.read_text()))


def test_target_that_is_not_a_folder(tmp_path):
    with pytest.raises(TestingError, match="no such folder"):
        runner.run_suite(str(tmp_path / "missing"), PYTHON)


def _alive(pid: int) -> bool:
    for _ in range(50):  # the kernel may take a moment to reap it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().split(")")[-1].split()[0] == "Z":
                return False
        time.sleep(0.1)
    return True


def test_tests_do_not_outlive_a_killed_workbench(tmp_path):
    """The GUI may terminate a job's worker: the test process group must end with it."""
    pidfile = tmp_path / "child.pid"
    target = write_tree(tmp_path / "orphan", {"tests/test_o.py": f'''
        import subprocess, time

        def test_waits():
            child = subprocess.Popen(["sleep", "600"])
            open({str(pidfile)!r}, "w").write(str(child.pid))
            time.sleep(600)
    '''})
    host = subprocess.Popen([PYTHON, "-c", (
        "import sys; from workbench_plugins.testing.runner import run_suite; "
        f"run_suite({str(target)!r}, {PYTHON!r})")])
    try:
        for _ in range(300):
            if pidfile.exists() and pidfile.read_text():
                break
            time.sleep(0.1)
        child = int(pidfile.read_text())
    finally:
        host.kill()
        host.wait()
    assert not _alive(child)


def test_a_test_that_ends_the_process_quietly(tmp_path):
    target = write_tree(tmp_path / "exiter", {"tests/test_exit.py": '''
        import os

        def test_ok():
            pass

        def test_exits():
            os._exit(0)
    '''})
    run = runner.run_suite(str(target), PYTHON)
    assert run["status"] == "aborted"
    assert "ended with status 0 before pytest finished while running tests/test_exit.py::test_exits" in run["messages"][0]
    assert by_id(run)["tests/test_exit.py::test_ok"]["outcome"] == "passed"


def test_parallel_coverage_config_is_combined_like_coverage_combine(tmp_path):
    from .conftest import CALC, CALC_TESTS

    files = {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
             "setup.cfg": "[coverage:run]\nparallel = True\nsource = calc\n"}
    target = write_tree(tmp_path / "par", files)
    run = runner.run_suite(str(target), PYTHON)
    hand = write_tree(tmp_path / "by_hand", files)
    subprocess.run([PYTHON, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                   cwd=hand, capture_output=True)
    assert list(hand.glob(".coverage.*"))  # parallel data files, as the config asks
    subprocess.run([PYTHON, "-m", "coverage", "combine", "-q"], cwd=hand, check=True, capture_output=True)
    subprocess.run([PYTHON, "-m", "coverage", "json", "-o", "cov.json"], cwd=hand, check=True, capture_output=True)
    assert run["coverage_percent"] == json.loads((hand / "cov.json").read_text())["totals"]["percent_covered"]
    assert not list(target.glob(".coverage*"))  # our data stayed in our temporary folder
