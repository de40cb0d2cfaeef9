"""Code audit vs ``bandit -r`` on the running interpreter's standard library.

Copies the stdlib (``.py`` files only, no site-packages) to a temporary
folder, then, N times each, in the same run:

- ``bandit -r -f json -q COPY`` (the CLI, one process);
- a cold audit (empty cache) with the workbench's bandit engine, in worker
  processes over the usable CPUs;
- a warm re-audit of the unchanged tree (cache filled by the cold run).

The secrets and model scans are off by default so that both sides do the
same work (``--full`` adds them to our side). Prints medians and ratios.

    python benchmarks/audit_vs_bandit.py [-n 3] [--workers N] [--full]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time


def copy_stdlib(dest: str) -> str:
    src = sysconfig.get_paths()["stdlib"]
    skip = shutil.ignore_patterns("site-packages", "dist-packages", "__pycache__", "*.pyc",
                                  "*.so", "*.a", "config-*", "idle_test", "lib2to3")

    def ignore(folder, names):
        out = set(skip(folder, names))
        return out | {n for n in names if os.path.isfile(os.path.join(folder, n)) and not n.endswith(".py")}

    target = os.path.join(dest, "stdlib")
    shutil.copytree(src, target, ignore=ignore, symlinks=True)
    return target


def bandit_cli(target: str) -> float:
    exe = os.path.join(os.path.dirname(sys.executable), "bandit")
    t = time.perf_counter()
    proc = subprocess.run([exe, "-r", "-f", "json", "-q", "-o", os.devnull, target],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"bandit failed with exit code {proc.returncode}")
    return elapsed


def our_audit(target: str, db: str, workers: int | None, full: bool) -> tuple[float, int]:
    from workbench.core.project import Project
    from workbench_plugins.code_audit import engine, plugin

    project = Project.open(db, plugins=[plugin]) if os.path.exists(db) else Project.create(db, plugins=[plugin])
    params = {"target": target, "include_secrets": full, "include_models": full, "workers": workers}
    t = time.perf_counter()
    result = engine.audit_tree(params, cache=project.store("code_audit"))
    elapsed = time.perf_counter() - t
    project.close()
    return elapsed, len(result.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3, help="runs of each (median reported)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--full", action="store_true", help="also run the secrets and model scans")
    args = parser.parse_args()
    from workbench_plugins.code_audit.bandit_runner import default_workers

    with tempfile.TemporaryDirectory() as tmp:
        target = copy_stdlib(tmp)
        files = sum(1 for _, _, fs in os.walk(target) for f in fs if f.endswith(".py"))
        print(f"tree: {target} ({files} .py files), CPUs usable: {default_workers()}, "
              f"workers: {args.workers or default_workers()}")
        cli, cold, warm = [], [], []
        for i in range(args.n):
            db = os.path.join(tmp, f"cache{i}.wbproj")
            cli.append(bandit_cli(target))
            seconds, n_cold = our_audit(target, db, args.workers, args.full)
            cold.append(seconds)
            seconds, n_warm = our_audit(target, db, args.workers, args.full)
            warm.append(seconds)
            assert n_cold == n_warm, (n_cold, n_warm)
            print(f"run {i + 1}: bandit -r {cli[-1]:.2f}s  cold {cold[-1]:.2f}s  warm {warm[-1]:.3f}s"
                  f"  ({n_cold} findings)")
        b, c, w = (statistics.median(x) for x in (cli, cold, warm))
        print(f"median bandit -r : {b:.2f}s")
        print(f"median cold audit: {c:.2f}s  -> {b / c:.2f}x faster than bandit -r")
        print(f"median warm audit: {w:.3f}s  -> {b / w:.1f}x faster than bandit -r")


if __name__ == "__main__":
    main()
