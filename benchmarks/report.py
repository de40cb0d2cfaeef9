"""Time and peak memory to render the full report of a large project.

The project is generated here: N code-audit findings (default 100,000) over 20 targets and a
day of monitoring metrics (86,400 samples, one per second) in a monitor run. Then, each in a
fresh process so that peak memory (ru_maxrss) is that render's alone:

* build the report data (scores, sections, every finding),
* render the full report to PDF, and to self-contained HTML,
* the executive PDF for comparison.

Run: .venv/bin/python benchmarks/report.py [--findings N] [--repeat R]
Prints the median wall time of R runs and the largest peak RSS of each step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = r"""
import json, resource, sys, time
from workbench.core.plugins import load_plugins
from workbench.core.project import Project
from workbench.core.report import ReportOptions, build_report
step, proj, out = sys.argv[1:4]
t0 = time.perf_counter()
registry = load_plugins()
with Project.open(proj, readonly=True) as p:
    report = build_report(p, registry, ReportOptions(template="executive" if step == "exec_pdf" else "full"))
t1 = time.perf_counter()
pages = None
if step in ("pdf", "exec_pdf"):
    from workbench.render.commands import ensure_headless_qt
    ensure_headless_qt()
    from workbench.render.pdf import render_pdf
    pages = render_pdf(report, out)
elif step == "html":
    from workbench.render.html import render_html
    render_html(report, out)
t2 = time.perf_counter()
print(json.dumps({"build_s": t1 - t0, "render_s": t2 - t1, "total_s": t2 - t0, "pages": pages,
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bytes": __import__("os").path.getsize(out) if step != "build" else 0}))
"""


def make_project(path: Path, n_findings: int) -> None:
    from workbench.core.findings import Finding
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    sev = ("LOW", "MEDIUM", "HIGH")
    with Project.create(path, name="Benchmark project", plugins=load_plugins().plugins) as p:
        targets = 20
        per = n_findings // targets
        for t in range(targets):
            target = f"/src/service_{t:02d}"
            run = p.create_run("code_audit", "audit", {"target": target, "workers": 4}, title=f"audit {target}",
                               target=target)
            p.start_run(run)
            batch = [Finding("code_audit", f"B{600 + i % 12}", sev[i % 3], sev[(i // 3) % 3],
                             f"B{600 + i % 12} subprocess_popen_with_shell_equals_true",
                             f"Finding {i}: a call that runs a shell with input that may come from the user; "
                             f"pass an argument list and shell=False instead.",
                             path=f"{target}/pkg/mod_{i % 400}.py", line=i % 900 + 1, cwe=78,
                             fingerprint=f"{t}-{i}", evidence={"code": f"subprocess.call(cmd_{i}, shell=True)"})
                     for i in range(per)]
            p.add_findings(run, batch)
            p.finish_run(run, "done", summary={"lines": 50_000})
        run = p.create_run("monitor", "watch", {"target": "latency"}, title="monitor latency", target="latency")
        p.start_run(run)
        t0 = 1_700_000_000.0
        p.add_metrics("latency_ms", [(t0 + s, 20.0 + (s % 600) / 60.0) for s in range(86_400)],
                      plugin="monitor", run_id=run)
        p.finish_run(run, "done", summary={})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", default="build,html,pdf,exec_pdf")
    args = ap.parse_args()
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring",
               QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "bench.wbproj"
        t = time.perf_counter()
        make_project(proj, args.findings)
        print(f"project: {args.findings:,} findings, 86,400 metric samples, "
              f"{proj.stat().st_size / 2**20:.0f} MiB, made in {time.perf_counter() - t:.1f} s")
        for step in args.steps.split(","):
            out = Path(tmp) / {"pdf": "r.pdf", "exec_pdf": "e.pdf", "html": "r.html", "build": "none"}[step]
            results = []
            for _ in range(args.repeat):
                proc = subprocess.run([sys.executable, "-c", STEP, step, str(proj), str(out)], env=env,
                                      capture_output=True, text=True)
                if proc.returncode:
                    print(f"{step}: failed\n{proc.stderr[-2000:]}")
                    return 1
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            med = {k: statistics.median(r[k] for r in results) for k in ("build_s", "render_s", "total_s")}
            extra = f", {results[-1]['pages']} pages" if results[-1]["pages"] else ""
            size = f", {results[-1]['bytes'] / 2**20:.1f} MiB" if results[-1]["bytes"] else ""
            print(f"{step:9s} median of {args.repeat}: total {med['total_s']:.1f} s (build {med['build_s']:.1f} s, "
                  f"render {med['render_s']:.1f} s), peak RSS {max(r['maxrss_mib'] for r in results):.0f} MiB"
                  f"{extra}{size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
