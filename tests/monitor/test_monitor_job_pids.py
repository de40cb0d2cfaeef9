"""Which processes are the workbench's job workers: spawn children of the parent, nothing else."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time


def test_spawn_workers_are_found_and_plain_children_are_not():
    from workbench_plugins.monitor.sampler import SystemProbe, workbench_job_pids

    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    worker = mp.get_context("spawn").Process(target=time.sleep, args=(60,))
    worker.start()
    try:
        # Until the child has exec'd the interpreter it still shows the parent's command line:
        # the monitor sees it at its next scan. Wait for that (the bound only stops a hang).
        deadline = time.monotonic() + 60
        found = workbench_job_pids(parent=os.getpid())
        while worker.pid not in found and time.monotonic() < deadline:
            time.sleep(0.05)
            found = workbench_job_pids(parent=os.getpid())
        assert worker.pid in found and plain.pid not in found and os.getpid() not in found
        # the probe of a monitor running in this process's child would follow it; here: follow directly
        probe = SystemProbe(gpu=False, connections=False, follow_workbench_jobs=True)
        probe._last_job_scan = None
        for pid in workbench_job_pids(parent=os.getpid()):
            probe.follow(pid)
        out = probe.sample()
        assert f"proc.{worker.pid}.rss" in out and f"proc.{plain.pid}.rss" not in out
    finally:
        worker.terminate()
        worker.join()
        plain.kill()
        plain.wait()
    assert worker.pid not in workbench_job_pids(parent=os.getpid())
