"""SIGKILL of `workbench audit` takes its worker processes with it, and the lock is free at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from wb_core_helpers import REPO_ROOT, run_cli


def test_sigkill_leaves_no_workers_and_no_stale_lock(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    body = "".join(f"def f{i}(x):\n    return eval(x) + {i}\n\n" for i in range(60))
    for n in range(300):
        (tree / f"m{n}.py").write_text(body)
    project = tmp_path / "p.wbproj"
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "audit", str(tree), "-p", str(project),
                             "--no-secrets", "--workers", "2"], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    while time.monotonic() < deadline and len(children) < 2:
        children = parent.children(recursive=True)
        time.sleep(0.05)
    assert len(children) >= 2, "the audit never started its worker pool"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"workers outlived the killed audit: {[p.pid for p in alive]}"
    result = run_cli("audit", tree, "-p", project, "--no-secrets", "--no-models")  # the lock is free
    assert result.returncode == 0, result.stderr
    info = run_cli("info", project, "--json")
    assert '"interrupted"' in info.stdout  # the killed run is marked, not left running
