"""What a test run costs beyond ``coverage run -m pytest``, kept low without changing a figure:
coverage.py's parse of each file is kept between runs (and gives the same analysis as a fresh
parse), the interpreter check rides on the driver, and nothing of the workbench's own or a heavy
library is loaded into the target's pytest process. Real subprocesses, real coverage.py."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os

import coverage
import pytest
from coverage.parser import PythonParser

from workbench_plugins.testing import runner

from .conftest import PYTHON, write_tree
from .test_testing_coverage_exact import by_hand

# Constructs whose parse is not just "one line, one statement": multi-line statements and
# strings, docstrings, pragmas and an excluded suite, decorators, with-blocks (coverage.py's
# jump fixers), match, async, lambdas, loops with else, try/finally.
TRICKY = '''
    """Module docstring
    over two lines."""
    import contextlib


    def deco(f):
        return f


    @deco
    def multi(a,
              b=(1,
                 2)):
        """Docstring."""
        text = """a string
    over lines"""
        if a and (
                b):
            return text
        return None


    def with_blocks(path, flag):
        with contextlib.suppress(ValueError):
            if flag:
                return 1
            x = 2
        with open(path) as fh:
            data = fh.read()
        return data


    def matcher(value):
        match value:
            case [x, y]:
                return x + y
            case {"k": v}:
                return v
            case _:
                return None


    async def later(n):
        total = 0
        for i in range(n):
            if i % 2:
                continue
            total += i
        else:
            total -= 1
        return total


    def tries(n):
        try:
            if n > 1:
                raise ValueError(n)
        except ValueError:
            return "big"
        finally:
            n = 0
        f = lambda q: q if q else -q  # noqa: E731
        return f(n)


    def ignored(n):  # pragma: no cover
        while n:
            n -= 1
        return n


    def partly(n):
        if n:  # pragma: no branch
            n += 1
        return n
'''

SUITE = {
    "pkg/__init__.py": "",
    "pkg/tricky.py": TRICKY,
    "tests/test_tricky.py": '''
        import asyncio
        from pkg import tricky


        def test_multi():
            assert tricky.multi(1)


        def test_with(tmp_path):
            p = tmp_path / "f"
            p.write_text("x")
            assert tricky.with_blocks(str(p), False) == "x"


        def test_match():
            assert tricky.matcher([1, 2]) == 3


        def test_async():
            assert asyncio.run(tricky.later(5)) == 5


        def test_tries():
            assert tricky.tries(2) == "big"
            assert tricky.partly(1) == 2
    ''',
    ".coveragerc": ("[run]\nbranch = True\n"
                    "[report]\nexclude_lines =\n    pragma: no cover\n    raise NotImplementedError\n"),
}


def _driver():
    spec = importlib.util.spec_from_file_location("wb_driver_overhead_test", runner.DRIVER)
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    return driver


def test_a_restored_parse_answers_as_a_fresh_one(tmp_path, monkeypatch):
    """Every question coverage.py's analysis and reports ask a parser, on the cached parse."""
    driver = _driver()
    src = write_tree(tmp_path / "src", {"tricky.py": TRICKY})
    monkeypatch.chdir(src)
    cov = coverage.Coverage(data_file=str(tmp_path / ".cov"), branch=True)
    cov.get_data()  # an empty data file: has_arcs() from the configuration
    path = str(src / "tricky.py")
    first = driver.ParseCache(str(tmp_path / "none.json"), str(tmp_path / "cache.json"))
    fresh = cov._get_file_reporter(path)
    first.attach(fresh, True)
    assert first.reused == 0
    fresh_arcs = fresh.arcs()  # parses, as a report would
    first.save()
    kept = json.loads((tmp_path / "cache.json").read_text())
    assert list(kept["files"]) == [fresh.filename]

    second = driver.ParseCache(str(tmp_path / "cache.json"), str(tmp_path / "cache2.json"))
    restored = cov._get_file_reporter(path)
    second.attach(restored, True)
    assert second.reused == 1 and restored._parser is not None
    reference = PythonParser(filename=path, exclude=cov._exclude_regex("exclude"))
    reference.parse_source()
    assert restored.lines() == reference.statements == fresh.lines() and len(reference.statements) > 40
    assert restored.excluded_lines() == reference.excluded and reference.excluded
    assert restored.multiline_map() == reference.multiline_map and reference.multiline_map
    assert restored.arcs() == reference.arcs() == fresh_arcs
    assert restored.exit_counts() == reference.exit_counts()
    assert restored.no_branch_lines() == fresh.no_branch_lines() and restored.no_branch_lines()
    assert reference._with_jump_fixers and restored._parser._with_jump_fixers == reference._with_jump_fixers
    some = sorted(reference.arcs())[:25] + [(b, a) for a, b in sorted(reference.arcs())[:10]]
    assert restored.translate_arcs(some) == reference.translate_arcs(some)
    assert restored.translate_lines(range(1, 120)) == reference.translate_lines(range(1, 120))
    # Arc descriptions are not kept: asked for one, the restored parse analyses the AST again.
    start, end = sorted(reference.arcs())[3]
    assert restored.missing_arc_description(start, end) == reference.missing_arc_description(start, end)
    assert restored.arc_description(start, end) == reference.arc_description(start, end)
    # Another exclusion regex is another key: parsed again, not reused.
    cov.clear_exclude()
    cov.exclude("def ignored")
    third = driver.ParseCache(str(tmp_path / "cache.json"), str(tmp_path / "cache3.json"))
    other = type(fresh)(path, cov)
    third.attach(other, True)
    assert third.reused == 0 and other._parser is None


def test_kept_parses_are_reused_and_every_figure_stays_coverage_pys(tmp_path):
    target = write_tree(tmp_path / "ours", SUITE)
    cache: dict = {}
    logs: list[str] = []
    cold = runner.run_suite(str(target), PYTHON, parse_cache=cache, log=logs.append)
    assert cold["status"] == "done", (cold["messages"], cold["output_tail"])
    files = len(cold["coverage"]["files"])
    assert cold["coverage_parse"] == {"reused": 0, "files": files} and cold["parse_cache_changed"]
    warm = runner.run_suite(str(target), PYTHON, parse_cache=cache)
    assert warm["coverage_parse"] == {"reused": files, "files": files} and not warm["parse_cache_changed"]
    hand, total = by_hand(write_tree(tmp_path / "hand", SUITE))
    for run in (cold, warm):
        assert run["coverage_percent"] == hand["totals"]["percent_covered"]
        assert f"{run['coverage_percent']:.6f}" == total
        assert run["coverage"]["num_branches"] == hand["totals"]["num_branches"] > 0
    assert warm["coverage"] == cold["coverage"] and warm["group_coverage"] == cold["group_coverage"]
    # The interpreter check came from the driver: the same versions a probe reads from the metadata.
    assert cold["pytest_version"] == importlib.metadata.version("pytest")
    assert cold["coverage_version"] == importlib.metadata.version("coverage")
    assert any(f"pytest {cold['pytest_version']}" in line for line in logs)

    # An edited file is parsed again (and only that one); the figures follow the edit.
    for folder in (target, tmp_path / "hand"):
        path = folder / "pkg" / "tricky.py"
        text = path.read_text()
        new = text.replace("    return None\n\n\ndef with_blocks", "    z = 1\n    return z\n\n\ndef with_blocks")
        assert new != text
        path.write_text(new)
    edited = runner.run_suite(str(target), PYTHON, parse_cache=cache)
    assert edited["coverage_parse"] == {"reused": files - 1, "files": files}
    hand, total = by_hand(tmp_path / "hand")
    assert edited["coverage_percent"] == hand["totals"]["percent_covered"] != cold["coverage_percent"]
    assert f"{edited['coverage_percent']:.6f}" == total


def test_a_damaged_cache_costs_a_parse_and_nothing_else(tmp_path):
    target = write_tree(tmp_path / "ours", SUITE)
    cache: dict = {}
    good = runner.run_suite(str(target), PYTHON, parse_cache=cache)
    names = iter(cache["files"])
    cache["files"][next(names)]["parsed"]["statements"] = "not a set"
    del cache["files"][next(names)]["parsed"]["excluded"]  # left out, it would read as "nothing excluded"
    damaged = runner.run_suite(str(target), PYTHON, parse_cache=cache)
    assert damaged["coverage"] == good["coverage"]
    assert damaged["coverage_parse"]["reused"] == damaged["coverage_parse"]["files"] - 2
    assert runner.run_suite(str(target), PYTHON, parse_cache={"salt": "another coverage.py", "files": {}})[
        "coverage"] == good["coverage"]


MODULES_TEST = '''
    import json, sys


    def test_dump_modules():
        out = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
        with open({path!r}, "w") as fh:
            json.dump(out, fh)
'''

HEAVY = ("torch", "pandas", "numpy", "sklearn", "PySide6", "shiboken6", "bandit", "hypothesis", "yaml",
         "workbench", "workbench_plugins")


def test_no_workbench_or_heavy_module_is_loaded_into_the_pytest_process(tmp_path):
    out = tmp_path / "modules.json"
    target = write_tree(tmp_path / "t", {"tests/test_mods.py": MODULES_TEST.replace("{path!r}", repr(str(out)))})
    run = runner.run_suite(str(target), PYTHON)
    assert run["status"] == "done", (run["messages"], run["output_tail"])
    modules = json.loads(out.read_text())
    assert "pytest" in modules and "coverage" in modules
    heavy = sorted(n for n in modules if n.split(".")[0] in HEAVY)
    assert heavy == []
    # Of the workbench's checkout only the driver, the score's grouping rules (loaded by path)
    # and the network guard's start-up hook: nothing that imports the workbench.
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(runner.__file__))))
    ours = sorted(os.path.relpath(f, checkout) for f in modules.values()
                  if f and os.path.abspath(f).startswith(checkout + os.sep) and "site-packages" not in f)
    assert set(ours) <= {"plugins/testing/_pytest_driver.py", "plugins/testing/score.py",
                         "workbench/core/netguard.py", "workbench/core/netguard_boot/sitecustomize.py"}, ours
    assert "plugins/testing/_pytest_driver.py" in ours


@pytest.mark.parametrize("broken", ["not json", json.dumps({"salt": 1}), "[1]"])
def test_driver_reads_a_broken_cache_file_as_empty(tmp_path, broken):
    driver = _driver()
    (tmp_path / "in.json").write_text(broken)
    assert driver.ParseCache(str(tmp_path / "in.json"), str(tmp_path / "out.json")).entries == {}
    salted = driver.ParseCache(str(tmp_path / "none.json"), str(tmp_path / "out.json")).salt
    (tmp_path / "in.json").write_text(json.dumps({"salt": salted, "files": ["not", "a", "map"]}))
    assert driver.ParseCache(str(tmp_path / "in.json"), str(tmp_path / "out.json")).entries == {}


def test_the_project_keeps_the_parses_for_the_targets_next_run(tmp_path):
    from workbench.core.jobs import run_in_process
    from workbench.core.project import Project
    from workbench_plugins.testing import plugin
    from workbench_plugins.testing import store as tables

    from .test_testing_plugin import REGISTRY

    target = write_tree(tmp_path / "t", SUITE)
    project = Project.create(tmp_path / "p.wbproj", plugins=[plugin])
    try:
        store = project.store("testing")
        spec = plugin.job_spec("test", target=str(target), python=PYTHON)
        _, status, first = run_in_process(project, spec, registry=REGISTRY)
        assert status == "done", first
        kept = store.query_one("SELECT data, updated FROM testing_parse_cache WHERE target=?", (str(target),))
        files = json.loads(kept["data"])["files"]
        assert {os.path.relpath(f, target) for f in files} == {"pkg/__init__.py", "pkg/tricky.py",
                                                               "tests/test_tricky.py"}
        assert tables.parse_cache(store, str(target)) == json.loads(kept["data"])
        _, status, second = run_in_process(project, spec, registry=REGISTRY)
        assert status == "done" and second["coverage_percent"] == first["coverage_percent"]
        # Every parse was reused, so nothing new was written.
        again = store.query_one("SELECT updated FROM testing_parse_cache WHERE target=?", (str(target),))
        assert again["updated"] == kept["updated"]
    finally:
        project.close()


def test_one_group_reuses_the_main_reports_analysis_and_gets_the_same_totals(tmp_path, monkeypatch):
    import sys

    from .test_testing_coverage_exact import PKG

    driver = _driver()
    src = write_tree(tmp_path / "src", {"mod_one.py": PKG["shapes/area.py"]})
    monkeypatch.chdir(src)
    monkeypatch.syspath_prepend(str(src))
    cov = coverage.Coverage(data_file=str(tmp_path / ".cov"), branch=True, source=[str(src)])
    cov.start()
    try:
        import mod_one  # outside any test

        cov.switch_context("wb-group:functional")  # the only group that ran
        mod_one.area("rect", 2, 3)
        mod_one.unused(2)
    finally:
        cov.stop()
        sys.modules.pop("mod_one", None)
    analyses: dict = {}
    path = str(src / "mod_one.py")
    forget = driver._remember_analyses(cov, analyses)
    cov.json_report(morfs=[path], outfile=str(tmp_path / "main.json"))  # (this process measured Qt's too)
    forget()
    assert list(analyses) == [path] and "_analyze" not in vars(cov)
    contexts = ["wb-group:functional$", driver.OUTSIDE_TESTS]
    assert driver._group_totals(cov, [path], contexts, str(tmp_path / "reused.json"), analyses)
    assert driver._group_totals(cov, [path], contexts, str(tmp_path / "own.json"))
    cov.json_report(morfs=[path], outfile=str(tmp_path / "full.json"), contexts=contexts)
    reused, own, full = (json.loads((tmp_path / f"{n}.json").read_text())["totals"] for n in ("reused", "own", "full"))
    assert reused == own == {k: full[k] for k in own} and 0 < own["percent_covered"] < 100
    # Reports restricted to some contexts by the target's configuration: nothing is reused.
    cov.set_option("report:contexts", ["wb-group:functional"])
    assert driver._remember_analyses(cov, {}) is None
