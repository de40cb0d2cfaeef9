"""coverage_percent is coverage.py's own total under the target's configuration; pytest
arguments pass through; subtests count as pytest counts them. Real subprocesses both sides."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from workbench_plugins.testing import runner
from workbench_plugins.testing.errors import TestingError

from .conftest import PYTHON, write_tree

PKG = {
    "shapes/__init__.py": "",
    "shapes/area.py": '''
        def area(kind, a, b=None):
            if kind == "square":
                return a * a
            if kind == "rect":
                if b is None:
                    raise ValueError("rect needs b")
                return a * b
            return None


        def unused(x):
            for i in range(x):
                if i > 3:
                    return i
            return -1
    ''',
    "tests/test_area.py": '''
        import pytest
        from shapes.area import area


        def test_square():
            assert area("square", 3) == 9


        @pytest.mark.slow
        def test_rect():
            assert area("rect", 2, 5) == 10


        def test_other():
            assert area("circle", 1) is None
    ''',
    "pytest.ini": "[pytest]\nmarkers =\n    slow: a slow test\n",
}

# No ``source =`` anywhere: coverage.py measures every file the run executes,
# which is where a workbench file loaded into the run would count.
CONFIGS = {
    "line, no config": {},
    "branch in .coveragerc": {".coveragerc": "[run]\nbranch = True\n"},
    "branch and source in pyproject": {"pyproject.toml": (
        "[tool.coverage.run]\nbranch = true\nsource = ['shapes']\n"
        "[tool.coverage.report]\nexclude_lines = ['raise ValueError']\n")},
}


def by_hand(folder, *coverage_run_args, pytest_args=()):
    """coverage run -m pytest, then coverage json and coverage report, as an engineer would."""
    subprocess.run([PYTHON, "-m", "coverage", "run", *coverage_run_args, "-m", "pytest", "-q", "-p",
                    "no:cacheprovider", *pytest_args], cwd=folder, capture_output=True, check=False)
    subprocess.run([PYTHON, "-m", "coverage", "json", "-o", "cov.json"], cwd=folder, check=True,
                   capture_output=True)
    total = subprocess.run([PYTHON, "-m", "coverage", "report", "--format=total", "--precision=6"], cwd=folder,
                           check=True, capture_output=True, text=True).stdout.strip()
    return json.loads((folder / "cov.json").read_text()), total


@pytest.mark.parametrize("config", list(CONFIGS))
def test_coverage_percent_is_coverage_reports_total_under_the_targets_config(tmp_path, config):
    files = {**PKG, **CONFIGS[config]}
    run = runner.run_suite(str(write_tree(tmp_path / "ours", files)), PYTHON)
    assert run["status"] == "done", run["messages"]
    hand, total = by_hand(write_tree(tmp_path / "hand", files))
    assert run["coverage_percent"] == hand["totals"]["percent_covered"]
    assert f"{run['coverage_percent']:.6f}" == total
    # The same files, and nothing of the workbench's own (driver, score.py) among them.
    assert set(run["coverage"]["files"]) == set(hand["files"])
    assert not any("plugins" in f or "_pytest_driver" in f for f in run["coverage"]["files"])
    # Branch coverage exactly when the target's configuration asks for it.
    branches = hand["totals"].get("num_branches", 0)
    assert run["coverage"]["num_branches"] == branches
    assert (branches > 0) == ("branch" in config)


def test_pytest_arguments_pass_through_and_cov_options_set_the_measurement(tmp_path):
    target = write_tree(tmp_path / "ours", PKG)
    run = runner.run_suite(str(target), PYTHON, pytest_args=["-k", "square or rect", "-m", "not slow"])
    assert [c["id"] for c in run["cases"]] == ["tests/test_area.py::test_square"]
    # pytest-cov's options become our coverage's: the same total as coverage run --source --branch.
    run = runner.run_suite(str(target), PYTHON,
                           pytest_args=["--cov=shapes", "--cov-branch", "--cov-report=term", "-k", "not other"])
    assert run["totals"]["tests"] == 2
    hand, total = by_hand(write_tree(tmp_path / "hand", PKG), "--source=shapes", "--branch",
                          pytest_args=["-k", "not other"])
    assert run["coverage_percent"] == hand["totals"]["percent_covered"] and f"{run['coverage_percent']:.6f}" == total
    assert set(run["coverage"]["files"]) == {"shapes/__init__.py", "shapes/area.py"}
    assert run["coverage"]["num_branches"] > 0
    assert runner.run_suite(str(target), PYTHON, pytest_args=["--no-cov"])["coverage_percent"] is None
    with pytest.raises(TestingError, match="--cov-config needs a value"):
        runner.split_cov_args(["--cov-config"])


SUBTESTS = '''
    import unittest


    class TestTable(unittest.TestCase):
        def test_rows(self):
            for i in range(5):
                with self.subTest(row=i):
                    self.assertLess(i, 3)

        def test_same_label_twice(self):
            for i in range(2):
                with self.subTest():
                    self.assertTrue(True)


    def test_fixture_subtests(subtests):
        for name in ("a", "b", "c"):
            with subtests.test(msg="name", name=name):
                assert name != "b"


    def test_plain():
        pass
'''


def test_subtests_are_cases_as_pytest_counts_them(tmp_path):
    target = write_tree(tmp_path / "sub", {"tests/test_sub.py": SUBTESTS})
    run = runner.run_suite(str(target), PYTHON)
    out = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=target,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    # pytest's own summary, e.g. "3 failed, 4 passed, 6 subtests passed in 0.05s".
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (failed|passed|subtests passed|subtests failed)", out)}
    assert run["totals"]["tests"] == sum(counts.values()) > 4
    assert run["totals"]["failed"] == counts["failed"]
    assert run["totals"]["passed"] == counts["passed"] + counts["subtests passed"]
    cases = {c["id"]: c["outcome"] for c in run["cases"]}
    assert cases["tests/test_sub.py::TestTable::test_rows (row=3)"] == "failed"
    assert cases["tests/test_sub.py::test_fixture_subtests [name] (name='b')"] == "failed"
    assert cases["tests/test_sub.py::TestTable::test_same_label_twice (<subtest>) #2"] == "passed"
    # A failing subtest is rerun through its test (pytest cannot select a subtest).
    rerun = runner.run_suite(str(target), PYTHON, rerun=1)
    reruns = {c["id"]: c["reruns"] for c in rerun["cases"] if c["reruns"]}
    assert reruns["tests/test_sub.py::TestTable::test_rows (row=4)"] == ["failed"]


def test_group_totals_equal_coverage_json_restricted_to_the_same_contexts(tmp_path, monkeypatch):
    import importlib.util
    import sys

    import coverage

    spec = importlib.util.spec_from_file_location("wb_driver_under_test", runner.DRIVER)
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    src = write_tree(tmp_path / "src", {"mod_a.py": PKG["shapes/area.py"]})
    monkeypatch.chdir(src)
    monkeypatch.syspath_prepend(str(src))
    cov = coverage.Coverage(data_file=str(tmp_path / ".cov"), branch=True, source=[str(src)])
    cov.start()
    try:
        import mod_a  # imported outside any test context

        cov.switch_context("wb-group:functional")
        mod_a.area("square", 2)
        cov.switch_context("wb-group:security")
        mod_a.area("rect", 2, 3)
        mod_a.unused(5)
    finally:
        cov.stop()
        sys.modules.pop("mod_a", None)
    contexts = ["wb-group:security$", driver.OUTSIDE_TESTS]
    files = [str(src / "mod_a.py")]
    assert driver._group_totals(cov, files, contexts, str(tmp_path / "fast.json"))
    cov.json_report(morfs=files, outfile=str(tmp_path / "full.json"), contexts=contexts)
    fast = json.loads((tmp_path / "fast.json").read_text())["totals"]
    full = json.loads((tmp_path / "full.json").read_text())["totals"]
    assert fast == {k: full[k] for k in fast} and 0 < fast["percent_covered"] < 100
