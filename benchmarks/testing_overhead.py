"""Testing plugin: our test run against plain ``coverage run -m pytest``; JUnit import at 100,000 cases.

    python benchmarks/testing_overhead.py [-n RUNS] [--modules M] [--tests T] [--cases N]
    python benchmarks/testing_overhead.py --real DIR [--pythonpath src]

1. A generated suite (M modules of T tests over a small package with
   branches, and a .coveragerc) is run, alternately, by
   * plain:  python -m coverage run -m pytest -q -p no:cacheprovider
   * plain+json: the same followed by ``python -m coverage json`` (our run also writes its JSON report)
   * ours:   workbench_plugins.testing.runner.run_suite (interpreter check, driver,
             the suite's own coverage config, live events, JSON report and
             per-group totals, reading them back, code hash), cold (a first
             run: every file parsed for the report) and warm (the parse cache
             the previous run left, as the project keeps it)
   in the same interpreter (this one), the same run, medians of RUNS. pytest's
   plugin autoloading is off on all sides, so that the fixed cost of this
   venv's unrelated pytest plugins does not hide our overhead.
2. JUnit import: generated files of 10,000 and N (100,000) test cases, each
   imported in a fresh process; wall time of the import and the process's
   peak RSS, against a process that only imports the same modules (the
   baseline), so "flat memory" shows as the same peak for 10k and 100k.
3. ``--real DIR``: a real project (e.g. a fetched cachetools), copied to a
   temporary folder: our coverage_percent (cold and warm) against ``coverage
   json``'s total and ``coverage report --format=total``, under the project's
   own configuration and with ``branch = True`` added, and our case count beside
   pytest's summary; CPU time of ours cold and warm against plain ``coverage
   run -m pytest``, alternating rounds (``-n``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PY = sys.executable


def make_suite(root: Path, modules: int, tests: int) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    for m in range(modules):
        (root / "pkg" / f"mod{m}.py").write_text(textwrap.dedent(f"""
            def classify(x):
                if x < 0:
                    return "negative"
                elif x == 0:
                    return "zero"
                elif x % 2:
                    return "odd"
                return "even"


            def total(values):
                s = 0
                for v in values:
                    s += v * {m + 1}
                return s
        """))
    (root / "tests").mkdir()
    for m in range(modules):
        lines = [f"from pkg.mod{m} import classify, total", ""]
        for t in range(tests):
            lines += [f"def test_{t}():", f"    assert classify({t - 1}) in ('negative', 'zero', 'odd', 'even')",
                      f"    assert total(range({t % 7})) >= 0", ""]
        (root / "tests" / f"test_mod{m}.py").write_text("\n".join(lines))
    (root / ".coveragerc").write_text("[run]\nbranch = True\nsource = pkg\n")


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (user + system)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def time_plain(root: Path, with_json: bool) -> tuple[float, float]:
    for leftover in root.glob(".coverage*"):
        if leftover.name != ".coveragerc":
            leftover.unlink()
    t, c = time.perf_counter(), _cpu()
    subprocess.run([PY, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                   check=True, capture_output=True)
    if with_json:
        subprocess.run([PY, "-m", "coverage", "json", "-q", "-o", os.devnull], cwd=root, check=True,
                       capture_output=True)
    return time.perf_counter() - t, _cpu() - c


def time_ours(root: Path, parse_cache: dict | None = None) -> tuple[float, float, dict]:
    """run_suite; ``parse_cache`` as the project keeps it between runs (None: a first run, nothing kept)."""
    from workbench_plugins.testing.runner import run_suite

    t, c = time.perf_counter(), _cpu()
    run = run_suite(str(root), PY, parse_cache={} if parse_cache is None else parse_cache)
    return time.perf_counter() - t, _cpu() - c, run


def make_junit(path: Path, n: int) -> None:
    with open(path, "w") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        for s in range(n // 1000):
            fh.write(f'<testsuite name="suite{s}" tests="1000">\n')
            for i in range(1000):
                if i % 50 == 0:
                    fh.write(f'<testcase classname="pkg.mod{s}.Tests" name="test_{i}" time="0.01">'
                             f'<failure message="assert {i} == 0" type="AssertionError">Traceback (most recent '
                             f'call last):\n  File "t.py", line 3\nAssertionError</failure></testcase>\n')
                elif i % 97 == 0:
                    fh.write(f'<testcase classname="pkg.mod{s}.Tests" name="test_{i}" time="0">'
                             '<skipped message="later"/></testcase>\n')
                else:
                    fh.write(f'<testcase classname="pkg.mod{s}.Tests" name="test_{i}" time="0.001">'
                             '<system-out>ok</system-out></testcase>\n')
            fh.write("</testsuite>\n")
        fh.write("</testsuites>\n")


_IMPORT_CHILD = """
import resource, sys, time
from workbench_plugins.testing import junit, masking
masking.mask_text("warm up")  # the masking imports, in the baseline too
t = time.perf_counter()
n = 0
if sys.argv[1] != "-":
    n = junit.import_junit(sys.argv[1])["tests"]
elapsed = time.perf_counter() - t
print(n, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


_PROJECT_CHILD = """
import resource, sys, time
from workbench.core.jobs import run_in_process
from workbench.core.plugins import PluginStatus, Registry
from workbench.core.project import Project
from workbench_plugins.testing import plugin
registry = Registry([PluginStatus("testing", "bench", None, plugin.version, True, plugin=plugin)])
project = Project.create(sys.argv[2], plugins=[plugin])
t = time.perf_counter()
_, status, summary = run_in_process(project, plugin.job_spec("import", target=sys.argv[1]), registry=registry)
elapsed = time.perf_counter() - t
project.close()
assert status == "done", summary
print(summary["tests"], elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def junit_import(path: str, project: str | None = None) -> tuple[int, float, float]:
    code, args = (_IMPORT_CHILD, [path]) if project is None else (_PROJECT_CHILD, [path, project])
    out = subprocess.run([PY, "-c", code, *args], check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 1024.0


def _plain_total(root: Path, env: dict) -> tuple[float, str, float, str, float]:
    """coverage run -m pytest in ``root``: (its JSON total, coverage report's total, CPU s, pytest's summary,
    CPU s of ``coverage report`` alone)."""
    for leftover in root.glob(".coverage*"):
        if leftover.name != ".coveragerc":
            leftover.unlink()
    c = _cpu()
    done = subprocess.run([PY, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root,
                          capture_output=True, text=True, env=env)
    cpu = _cpu() - c
    subprocess.run([PY, "-m", "coverage", "json", "-q", "-o", "wb-cov.json"], cwd=root, check=True, env=env,
                   capture_output=True)
    import json

    pct = json.loads((root / "wb-cov.json").read_text())["totals"]["percent_covered"]
    (root / "wb-cov.json").unlink()
    c = _cpu()
    total = subprocess.run([PY, "-m", "coverage", "report", "--format=total", "--precision=6"], cwd=root,
                           check=True, capture_output=True, text=True, env=env).stdout.strip()
    report_cpu = _cpu() - c
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    return pct, total, cpu, summary, report_cpu


def compare_real(folder: str, pythonpath: str | None, runs: int = 1) -> int:
    """A real project (a copy in a temporary folder): our coverage_percent against coverage.py's, line and branch."""
    import shutil

    from workbench_plugins.testing.runner import run_suite

    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.path.join(os.path.abspath(folder), pythonpath)
    ok = True
    with tempfile.TemporaryDirectory(prefix="wb-real-") as tmp:
        for config in ("the project's own", "branch = True added"):
            root = Path(tmp) / config.split()[0]
            shutil.copytree(folder, root)
            if pythonpath:
                env["PYTHONPATH"] = str(root / pythonpath)
            if config.startswith("branch"):
                (root / ".coveragerc").write_text("[run]\nbranch = True\n")
            saved = dict(os.environ)
            cold_cpus, warm_cpus, plain_cpus, report_cpus, figures = [], [], [], [], set()
            for _ in range(runs):  # alternating, for the CPU medians
                os.environ.update(env)
                try:
                    # cold: a first run (nothing kept); warm: the parse cache of the run before,
                    # as the project keeps it (same code, so every file's parse is reused).
                    cache: dict = {}
                    for kept, cpus in ((False, cold_cpus), (True, warm_cpus)):
                        c = _cpu()
                        run = run_suite(str(root), PY, parse_cache=cache)
                        cpus.append(_cpu() - c)
                        figures.add((run["coverage_percent"], run["coverage"]["num_branches"]))
                        assert (run["coverage_parse"] or {}).get("reused", 0) > 0 or not kept, run["coverage_parse"]
                finally:
                    os.environ.clear()
                    os.environ.update(saved)
                pct, total, plain_cpu, summary, report_cpu = _plain_total(root, env)
                plain_cpus.append(plain_cpu)
                report_cpus.append(plain_cpu + report_cpu)
            plain_cpu = statistics.median(plain_cpus)
            same = len(figures) == 1 and run["coverage_percent"] == pct and f"{run['coverage_percent']:.6f}" == total
            ok &= same
            t = run["totals"]
            print(f"{config:20s} ours {run['coverage_percent']:.6f} % (cold and warm)  coverage report {total} %  "
                  f"{'EQUAL' if same else 'DIFFERENT'}; branches {run['coverage']['num_branches']}; "
                  f"{t['tests']} cases ({t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped) "
                  f"- pytest: {summary}")
            print(f"{'':20s} CPU (user+sys, all processes) plain coverage run {plain_cpu:.2f} s; "
                  f"ours cold {statistics.median(cold_cpus):.2f} s "
                  f"({statistics.median(c / p for c, p in zip(cold_cpus, plain_cpus)):.2f}x), "
                  f"warm {statistics.median(warm_cpus):.2f} s "
                  f"({statistics.median(w / p for w, p in zip(warm_cpus, plain_cpus)):.2f}x); "
                  f"medians of {len(plain_cpus)} alternating rounds (ratios: per round); plain + coverage "
                  f"report (a process of its own) {statistics.median(report_cpus):.2f} s "
                  f"({statistics.median(r / p for r, p in zip(report_cpus, plain_cpus)):.2f}x)")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--real", metavar="DIR", help="instead: compare coverage_percent with coverage.py on the "
                                                  "project in DIR (run from a temporary copy), line and branch")
    ap.add_argument("--pythonpath", metavar="SUBDIR", help="with --real: put DIR/SUBDIR on PYTHONPATH (src layout)")
    ap.add_argument("--modules", type=int, default=40)
    ap.add_argument("--tests", type=int, default=50)
    ap.add_argument("--cases", type=int, default=100_000)
    args = ap.parse_args()
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if args.real:
        return compare_real(args.real, args.pythonpath, args.runs)

    with tempfile.TemporaryDirectory(prefix="wb-bench-testing-") as tmp:
        root = Path(tmp) / "suite"
        make_suite(root, args.modules, args.tests)
        plain, plain_json, ours = [], [], []
        cpu_plain, cpu_json, cpu_ours, cpu_warm = [], [], [], []
        time_plain(root, False)  # warm the file cache and __pycache__ for everyone
        run = None
        kept: dict = {}  # the parse cache, as the project keeps it from one run of the suite to the next
        time_ours(root, kept)
        for _ in range(args.runs):
            wall, cpu = time_plain(root, False)
            plain.append(wall)
            cpu_plain.append(cpu)
            wall, cpu = time_plain(root, True)
            plain_json.append(wall)
            cpu_json.append(cpu)
            wall, cpu, run = time_ours(root)
            ours.append(wall)
            cpu_ours.append(cpu)
            cpu_warm.append(time_ours(root, kept)[1])
        m_plain, m_json, m_ours = (statistics.median(x) for x in (plain, plain_json, ours))
        # Runs alternate, so each round's ratio compares neighbours in time: steadier on a busy machine.
        pair = statistics.median(o / p for o, p in zip(ours, plain))
        pair_json = statistics.median(o / p for o, p in zip(ours, plain_json))
        print(f"suite: {args.modules * args.tests} tests in {args.modules} modules; "
              f"ours saw {run['totals']['tests']} tests, coverage {run['coverage_percent']:.2f} %")
        print(f"coverage run -m pytest             median {m_plain:6.2f} s  (runs: "
              + ", ".join(f"{x:.2f}" for x in plain) + ")")
        print(f"  ... + coverage json              median {m_json:6.2f} s")
        print(f"workbench run_suite                median {m_ours:6.2f} s  (runs: "
              + ", ".join(f"{x:.2f}" for x in ours) + ")")
        print(f"ratio of medians, ours / plain: {m_ours / m_plain:.3f}x   ours / plain+json: {m_ours / m_json:.3f}x")
        print(f"median of per-round ratios, ours / plain: {pair:.3f}x   ours / plain+json: {pair_json:.3f}x   "
              "(aim: within 1.15x)")
        c_plain, c_json, c_ours = (statistics.median(x) for x in (cpu_plain, cpu_json, cpu_ours))
        print(f"CPU time (user+sys, all processes; steadier than wall time on a shared machine): plain "
              f"{c_plain:.2f} s, plain+json {c_json:.2f} s, ours {c_ours:.2f} s -> ours / plain "
              f"{c_ours / c_plain:.3f}x, ours / plain+json {c_ours / c_json:.3f}x")
        print(f"  ours warm (the parses kept by the previous run): {statistics.median(cpu_warm):.2f} s -> "
              f"{statistics.median(w / p for w, p in zip(cpu_warm, cpu_plain)):.3f}x plain (per-round ratios); "
              f"cold, per-round: {statistics.median(o / p for o, p in zip(cpu_ours, cpu_plain)):.3f}x")

        base = junit_import("-")
        print(f"\nJUnit import (fresh process each; baseline process peak RSS {base[2]:.1f} MiB)")
        for n in sorted({10_000, args.cases}):
            path = Path(tmp) / f"junit_{n}.xml"
            make_junit(path, n)
            size = path.stat().st_size / 2 ** 20
            times, peaks = [], []
            for _ in range(max(1, min(args.runs, 3))):
                count, elapsed, peak = junit_import(str(path))
                assert count == n, (count, n)
                times.append(elapsed)
                peaks.append(peak)
            print(f"  {n:>7,} cases ({size:5.1f} MiB): median {statistics.median(times):.3f} s, "
                  f"peak RSS {max(peaks):.1f} MiB (+{max(peaks) - base[2]:.1f} MiB over the baseline)")
            times, peaks = [], []
            for i in range(max(1, min(args.runs, 3))):
                count, elapsed, peak = junit_import(str(path), str(Path(tmp) / f"import_{n}_{i}.wbproj"))
                assert count == n, (count, n)
                times.append(elapsed)
                peaks.append(peak)
            print(f"  {'':>7}   ... into a project file (workbench test-import's job, cases stored): "
                  f"median {statistics.median(times):.3f} s, peak RSS {max(peaks):.1f} MiB")
        print("aim: 100,000 cases under 2 s, peak memory flat (about the same at 10k and 100k)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
