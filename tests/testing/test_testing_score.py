"""T(r): hand-computed examples, and groups taken from a real run's markers."""

from __future__ import annotations

import pytest

from workbench_plugins.testing import runner, score

from .conftest import PYTHON, write_tree


def case(i, outcome, file="tests/test_a.py", markers=(), flaky=False):
    return {"id": f"{file}::{i}", "file": file, "outcome": outcome, "markers": list(markers), "flaky": flaky}


def test_not_assessed_without_any_run():
    assert score.compute()["score"] is None
    assert score.compute([{"cases": [case("s", "skipped")], "coverage_percent": 90.0}])["score"] is None


def test_functional_only_is_pass_rate_times_coverage():
    run = {"cases": [case("a", "passed"), case("b", "passed"), case("c", "failed"), case("d", "skipped")],
           "coverage_percent": 60.0}
    result = score.compute([run])
    # p = 2/3, c = 0.6 -> t = 0.4; one group assessed, so T = 100 * 0.4
    assert result["score"] == pytest.approx(40.0)
    assert result["groups"]["functional"]["pass_rate"] == pytest.approx(2 / 3)


def test_groups_weights_fuzz_and_probes():
    run = {"cases": [
        case("f1", "passed"), case("f2", "failed", flaky=True),                     # functional p = 0.75
        case("p1", "passed", file="tests/perf/test_speed.py"),                       # performance p = 1
        case("s1", "passed", markers=["security"]), case("s2", "failed", markers=["security"]),  # p = 0.5
    ], "coverage_percent": 80.0}
    fuzz = [{"crashes": 1, "timeouts": 0, "memory": 0, "nondeterministic": 0}]       # f = 1/2
    probes = [{"hit_rate": 0.25}]                                                    # q = 3/4
    result = score.compute([run], fuzz, probes)
    t_functional = 0.75 * 0.8
    t_performance = 1.0 * 0.8
    t_security = 0.5 * 0.8 * 0.5 * 0.75
    expected = 100 * (0.5 * t_functional + 0.2 * t_performance + 0.3 * t_security) / 1.0
    assert result["score"] == pytest.approx(expected)
    assert result["groups"]["security"]["fuzz_factor"] == 0.5


def test_security_assessed_by_probes_alone_and_missing_coverage():
    result = score.compute([], [], [{"hit_rate": 0.1}])
    assert result["score"] == pytest.approx(90.0) and list(result["groups"]) == ["security"]
    imported = score.compute([{"cases": [case("a", "passed")], "coverage_percent": None}])
    assert imported["score"] == pytest.approx(100.0) and imported["coverage_missing"] is True


def test_a_real_run_groups_by_marker_and_path(tmp_path):
    target = write_tree(tmp_path / "grouped", {
        "pytest.ini": "[pytest]\nmarkers =\n    security: security tests\n",
        "tests/test_api.py": '''
            import pytest

            def test_plain():
                pass

            @pytest.mark.security
            def test_rejects_bad_token():
                assert False
        ''',
        "tests/test_perf_latency.py": "def test_fast():\n    pass\n",
    })
    run = runner.run_suite(str(target), PYTHON)
    cases = {c["id"]: c for c in run["cases"]}
    assert cases["tests/test_api.py::test_rejects_bad_token"]["markers"] == ["security"]
    groups = {i: score.group_of(c) for i, c in cases.items()}
    assert groups == {"tests/test_api.py::test_plain": "functional",
                      "tests/test_api.py::test_rejects_bad_token": "security",
                      "tests/test_perf_latency.py::test_fast": "performance"}
    result = score.compute([run])
    assert result["groups"]["security"]["pass_rate"] == 0.0
    # Each group weighted by its own coverage (here: the test files it executed), not the run's.
    own = {g: c["percent_covered"] / 100 for g, c in run["group_coverage"].items()}
    assert set(own) == {"functional", "performance", "security"}
    assert result["groups"]["functional"]["coverage_source"] == ["group"]
    assert result["score"] == pytest.approx(100 * (0.5 * own["functional"] + 0.2 * own["performance"] + 0.3 * 0.0))


SCORED = """
    def add(a, b):
        return a + b


    def check(x):
        if x:
            return 1
        return 2


    def unused():
        return 3
"""


def test_each_group_is_weighted_by_the_coverage_of_what_its_own_tests_ran(tmp_path):
    target = write_tree(tmp_path / "own", {
        "scored.py": SCORED, ".coveragerc": "[run]\nsource = scored\nbranch = True\n",
        "pytest.ini": "[pytest]\nmarkers =\n    security: security tests\n",
        "tests/test_scored.py": '''
            import pytest
            from scored import add, check

            def test_add():
                assert add(1, 2) == 3

            def test_add_wrong():
                assert add(1, 1) == 3

            @pytest.mark.security
            def test_check():
                assert check(1) == 1
        ''',
    })
    run = runner.run_suite(str(target), PYTHON)
    # scored.py: 8 statements, 2 branches (if x -> return 1 / return 2). Import runs the 3 defs.
    # Overall: defs + add's return + if + return 1 = 6 lines, 1 branch -> 7/10.
    # functional ran add only: 3 defs + return a + b = 4 lines, 0 branches -> 4/10.
    # security ran check(1): 3 defs + if + return 1 = 5 lines, 1 branch -> 6/10.
    assert run["coverage_percent"] == pytest.approx(70.0)
    own = run["group_coverage"]
    assert (own["functional"]["percent_covered"], own["functional"]["covered_lines"]) == (pytest.approx(40.0), 4)
    assert (own["security"]["percent_covered"], own["security"]["covered_branches"]) == (pytest.approx(60.0), 1)
    assert own["functional"]["files"] == own["security"]["files"] == 1 and "performance" not in own
    result = score.compute([run])
    assert result["groups"]["functional"]["t"] == pytest.approx(0.5 * 0.4)
    assert result["groups"]["security"]["t"] == pytest.approx(1.0 * 0.6)
    assert result["score"] == pytest.approx(100 * (0.5 * 0.2 + 0.3 * 0.6) / 0.8)
    # The run's overall coverage would give a different T(r): the weighting really is per group.
    assert result["score"] != pytest.approx(100 * (0.5 * 0.5 * 0.7 + 0.3 * 0.7) / 0.8)


def test_runs_without_per_group_data_fall_back_to_the_run_coverage():
    run = {"cases": [case("a", "passed"), case("s", "passed", markers=["security"])],
           "coverage_percent": 50.0, "group_coverage": {"security": 80.0}}
    result = score.compute([run])
    assert result["groups"]["security"]["coverage_source"] == ["group"]
    assert result["groups"]["functional"]["coverage_source"] == ["run"]
    assert result["score"] == pytest.approx(100 * (0.5 * 0.5 + 0.3 * 0.8) / 0.8)
