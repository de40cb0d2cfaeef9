"""Code audit vs ``bandit -r`` on the running interpreter's standard library.

Copies the stdlib (``.py`` files only, no site-packages) to a temporary
folder, then, N times each, in the same run:

- ``bandit -r -f json -q COPY`` (the CLI, one process);
- the default scans (bandit + AI rules + secrets + model files), cold (empty
  cache), in-process, in worker processes over the usable CPUs;
- the same, warm (unchanged tree, cache filled by the cold run), in-process;
- the same warm re-run from the command line: a ``workbench audit`` subprocess,
  start-up and project writes included;
- then bandit's rules alone (``--no-secrets --no-models``), cold and warm, in-process.

Prints medians and ratios against ``bandit -r`` of the same run, default scans first.
``--files N`` audits the first N ``.py`` files of the stdlib (in path order) instead of all of it.
The command-line runs get the bytecode cache an installed package has (``PYTHONDONTWRITEBYTECODE``
is dropped for them and ``PYTHONPYCACHEPREFIX`` points into the temporary folder), so start-up is
measured as a user meets it. ``--importtime FILE`` also writes ``python -X importtime`` of one
more warm command-line run to FILE and says whether bandit or detect-secrets were imported.
The CPU seconds of ``bandit -r`` and of the cold default scans (this process and its
workers) are printed too, with the load average: on a machine whose cores other work
also uses, the wall-clock ratio depends on how many cores were free, the CPU ratio less so.

    python benchmarks/audit_vs_bandit.py [-n 3] [--workers N] [--files N] [--importtime FILE] [--bandit-only-too]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time


def copy_stdlib(dest: str, files: int | None = None) -> str:
    src = sysconfig.get_paths()["stdlib"]
    if files:
        return copy_subset(src, os.path.join(dest, "stdlib"), files)
    skip = shutil.ignore_patterns("site-packages", "dist-packages", "__pycache__", "*.pyc",
                                  "*.so", "*.a", "config-*", "idle_test", "lib2to3")

    def ignore(folder, names):
        out = set(skip(folder, names))
        return out | {n for n in names if os.path.isfile(os.path.join(folder, n)) and not n.endswith(".py")}

    target = os.path.join(dest, "stdlib")
    shutil.copytree(src, target, ignore=ignore, symlinks=True)
    return target


def copy_subset(src: str, target: str, count: int) -> str:
    """The first ``count`` stdlib ``.py`` files in path order (packages under site-packages,
    tests and lib2to3 left out), with their relative paths."""
    picked = []
    for root, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__",
                                                       "idle_test", "lib2to3", "test", "tests")
                         and not d.startswith("config-"))
        picked += [os.path.join(root, n) for n in sorted(names) if n.endswith(".py")]
        if len(picked) >= count:
            break
    for path in picked[:count]:
        dest = os.path.join(target, os.path.relpath(path, src))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(path, dest)
    return target


def cli_env(tmp: str) -> dict:
    """The command line's environment: with a bytecode cache, as an installed package has one."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
    return env


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (bandit -r, pool workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bandit_cli(target: str) -> float:
    exe = os.path.join(os.path.dirname(sys.executable), "bandit")
    t = time.perf_counter()
    proc = subprocess.run([exe, "-r", "-f", "json", "-q", "-o", os.devnull, target],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"bandit failed with exit code {proc.returncode}")
    return elapsed


def cli_audit(target: str, db: str, workers: int | None, env: dict | None = None,
              importtime: str | None = None) -> float:
    exe = os.path.join(os.path.dirname(sys.executable), "workbench")
    cmd = [exe, "audit", target, "-p", db] + (["--workers", str(workers)] if workers else [])
    if importtime:
        cmd = [sys.executable, "-X", "importtime", "-m", "workbench"] + cmd[1:]
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"workbench audit failed ({proc.returncode}): {proc.stderr[-2000:]}")
    if importtime:
        with open(importtime, "w") as fh:
            fh.write(proc.stderr)
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
    parser.add_argument("--files", type=int, help="audit only the first N .py files of the stdlib")
    parser.add_argument("--importtime", metavar="FILE", help="write -X importtime of one more warm CLI run")
    parser.add_argument("--bandit-only-too", action="store_true",
                        help="also time bandit's rules alone (no secrets, no model files)")
    args = parser.parse_args()
    from workbench_plugins.code_audit.bandit_runner import default_workers

    with tempfile.TemporaryDirectory() as tmp:
        target = copy_stdlib(tmp, args.files)
        env = cli_env(tmp)
        files = sum(1 for _, _, fs in os.walk(target) for f in fs if f.endswith(".py"))
        print(f"tree: {target} ({files} .py files), CPUs usable: {default_workers()}, "
              f"workers: {args.workers or default_workers()}")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        cli, cold, warm, warm_cli, b_cold, b_warm = [], [], [], [], [], []
        cli_cpu, cold_cpu, warm_cli_cpu = [], [], []
        for i in range(args.n):
            db = os.path.join(tmp, f"cache{i}.wbproj")
            c = cpu_seconds()
            cli.append(bandit_cli(target))
            cli_cpu.append(cpu_seconds() - c)
            c = cpu_seconds()
            seconds, n_cold = our_audit(target, db, args.workers, True)
            cold_cpu.append(cpu_seconds() - c)
            cold.append(seconds)
            seconds, n_warm = our_audit(target, db, args.workers, True)
            warm.append(seconds)
            assert n_cold == n_warm, (n_cold, n_warm)
            cli_audit(target, db, args.workers, env)  # writes the bytecode cache (an install has one)
            c = cpu_seconds()
            warm_cli.append(cli_audit(target, db, args.workers, env))
            warm_cli_cpu.append(cpu_seconds() - c)
            line = (f"run {i + 1}: bandit -r {cli[-1]:.2f}s  default scans: cold {cold[-1]:.2f}s  "
                    f"warm {warm[-1]:.3f}s  warm CLI {warm_cli[-1]:.3f}s  ({n_cold} findings)  "
                    f"CPU: bandit -r {cli_cpu[-1]:.1f}s, cold {cold_cpu[-1]:.1f}s  load {os.getloadavg()[0]:.2f}")
            if args.bandit_only_too:
                db_b = os.path.join(tmp, f"bandit_only{i}.wbproj")
                b_cold.append(our_audit(target, db_b, args.workers, False)[0])
                b_warm.append(our_audit(target, db_b, args.workers, False)[0])
                line += f"  | bandit rules only: cold {b_cold[-1]:.2f}s warm {b_warm[-1]:.3f}s"
            print(line, flush=True)
        if args.importtime:
            cli_audit(target, os.path.join(tmp, f"cache{args.n - 1}.wbproj"), args.workers, env,
                      importtime=args.importtime)
            with open(args.importtime) as fh:
                mods = {line.split("|")[-1].strip() for line in fh if line.startswith("import time:")}
            heavy = sorted(m for m in mods if m.split(".")[0] in ("bandit", "detect_secrets", "yaml", "stevedore"))
            print(f"-X importtime of a warm CLI run in {args.importtime}: {len(mods)} modules; "
                  f"bandit/detect-secrets/yaml/stevedore imported: {heavy or 'none'}")
        b = statistics.median(cli)
        print(f"median CPU seconds: bandit -r {statistics.median(cli_cpu):.1f}s, default scans cold "
              f"{statistics.median(cold_cpu):.1f}s (all workers together), warm CLI "
              f"{statistics.median(warm_cli_cpu):.3f}s")
        print(f"median bandit -r                 : {b:.2f}s")
        for label, runs in (("default scans, cold", cold), ("default scans, warm", warm),
                            ("default scans, warm CLI", warm_cli), ("bandit rules only, cold", b_cold),
                            ("bandit rules only, warm", b_warm)):
            if runs:
                m = statistics.median(runs)
                print(f"median {label:<25}: {m:.3f}s  -> {b / m:.2f}x faster than bandit -r")


if __name__ == "__main__":
    main()
