"""The same code audit into a plain and into an encrypted (SQLCipher) project, in the same run.

Copies part of the running interpreter's standard library (``.py`` files) to a
temporary folder and audits it N times into a new plain project and N times
into a new encrypted one, alternating, cold (a new project: empty result
cache) and then warm (the same project again: every file's results come from
the cache, so the run is mostly database reads and writes, where encryption
costs most). Also times storing 20,000 findings in batches of 500 (writes
only), ``state_sha256`` (reads every row) and opening.
Prints medians and the encrypted/plain ratios; the aim is within 1.2x.

The key of each encrypted project goes to an in-memory keyring that ends with
the process: this measures SQLCipher, not a keyring.

    python benchmarks/encrypted_project.py [-n 3] [--packages email json http ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sysconfig
import tempfile
import time

os.environ["PYTHON_KEYRING_BACKEND"] = "workbench.core.secrets.MemoryKeyring"

DEFAULT_PACKAGES = ("email", "json", "http", "xml", "urllib", "logging", "asyncio", "concurrent", "multiprocessing",
                    "unittest", "importlib", "sqlite3", "wsgiref")


def copy_packages(dest: str, packages) -> str:
    src = sysconfig.get_paths()["stdlib"]
    for name in packages:
        shutil.copytree(os.path.join(src, name), os.path.join(dest, name),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "test", "tests"))
    return dest


def bulk_findings(project, total: int = 20_000, batch: int = 500) -> None:
    from workbench.core.findings import Finding

    run_id = project.create_run("core", "bulk", title="bulk")
    for start in range(0, total, batch):
        project.add_findings(run_id, [
            Finding(plugin="core", rule=f"R{i % 13}", severity="MEDIUM", confidence="HIGH", title=f"finding {i}",
                    message=f"bulk finding number {i} with some text to store", path=f"pkg/m{i % 97}.py",
                    line=i % 400 + 1, fingerprint=f"fp{i}") for i in range(start, start + batch)])
    project.finish_run(run_id, "done")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=3, help="runs of each kind (default 3)")
    ap.add_argument("--packages", nargs="+", default=DEFAULT_PACKAGES, help="stdlib packages to audit")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench.core.jobs import run_in_process

    registry = load_plugins()
    plugin = next(p for p in registry.plugins if p.id == "code_audit")
    with tempfile.TemporaryDirectory() as tmp:
        tree = copy_packages(os.path.join(tmp, "tree"), args.packages)
        files = sum(len([f for f in fs if f.endswith(".py")]) for _, _, fs in os.walk(tree))
        spec = plugin.job_spec("audit", target=tree, workers=args.workers)
        times: dict[str, dict[str, list[float]]] = {k: {"cold": [], "warm": [], "bulk": [], "state": [], "open": []}
                                                   for k in ("plain", "encrypted")}
        findings = {}
        for i in range(args.n):
            for kind in ("plain", "encrypted"):
                path = os.path.join(tmp, f"{kind}-{i}.wbproj")
                with Project.create(path, plugins=registry.plugins, encrypted=kind == "encrypted") as project:
                    seconds, (run_id, status, _) = timed(lambda: run_in_process(project, spec))
                    assert status == "done", status
                    times[kind]["cold"].append(seconds)
                    seconds, (run_id, status, _) = timed(lambda: run_in_process(project, spec))
                    times[kind]["warm"].append(seconds)
                    findings[kind] = len(project.findings(run_id))
                    times[kind]["bulk"].append(timed(lambda: bulk_findings(project))[0])
                    times[kind]["state"].append(timed(project.state_sha256)[0])
                times[kind]["open"].append(timed(lambda: Project.open(path, plugins=registry.plugins).close())[0])
        assert findings["plain"] == findings["encrypted"], findings
        size = {k: os.path.getsize(os.path.join(tmp, f"{k}-0.wbproj")) for k in ("plain", "encrypted")}
    print(f"{files} files ({', '.join(args.packages)}), {findings['plain']} findings per run, "
          f"{args.n} runs of each; project files {size['plain'] // 1024} KiB plain, "
          f"{size['encrypted'] // 1024} KiB encrypted")
    print(f"{'':<28}{'plain':>10}{'encrypted':>12}{'ratio':>8}")
    for step, label in (("cold", "audit, cold (new project)"), ("warm", "audit, warm (cached)"),
                        ("bulk", "store 20,000 findings"), ("state", "state_sha256 (every row)"), ("open", "open + migrate + close")):
        plain, enc = (statistics.median(times[k][step]) for k in ("plain", "encrypted"))
        print(f"{label:<28}{plain:>9.3f}s{enc:>11.3f}s{enc / plain:>7.2f}x")


if __name__ == "__main__":
    main()
