"""Job functions for the core tests, referenced as ``wb_core_testjobs:<name>``.

They live in a plain module on PYTHONPATH (set by tests/conftest.py) so that
spawned worker processes import them by name, exactly like a plugin's job.
"""

from __future__ import annotations

import time

from workbench.core.errors import WorkbenchError
from workbench.core.findings import Finding

PLUGIN = "testplugin"


def make_findings(batch_no: int, size: int, plugin: str = PLUGIN) -> list[Finding]:
    return [
        Finding(plugin=plugin, rule="T001", severity="MEDIUM", confidence="HIGH",
                title="test finding", message=f"batch {batch_no} item {i}",
                path=f"src/file_{batch_no}.py", line=i + 1,
                fingerprint=f"fp-{batch_no}-{i}")
        for i in range(size)
    ]


def write_batches(params, ctx):
    """Write ``batches`` batches of ``size`` findings, one transaction each."""
    batches, size, pause = params["batches"], params["size"], params.get("pause", 0.05)
    for b in range(batches):
        ctx.check_cancelled()
        ctx.project.add_findings(ctx.run_id, make_findings(b, size))
        ctx.progress(b + 1, batches, f"batch {b + 1}")
        ctx.log(f"batch {b + 1} committed")
        time.sleep(pause)
    return {"batches": batches, "findings": batches * size}


def ignore_cancel(params, ctx):
    """Report progress once, then loop forever without ever checking cancel."""
    ctx.progress(1, None, "started")
    while True:
        time.sleep(0.01)


def fail(params, ctx):
    ctx.progress(1, 2, "about to fail")
    raise ValueError(f"boom {params.get('code', 42)}")


def fail_clearly(params, ctx):
    raise WorkbenchError("the target folder vanished")


def interrupt(params, ctx):
    raise KeyboardInterrupt


def return_scalar(params, ctx):
    return 7
