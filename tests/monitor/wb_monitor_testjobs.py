"""A plugin whose job publishes metrics while it runs, for the monitor's Jobs group tests.

Registered like any plugin: the test writes a ``*.dist-info`` with its entry
point into a temporary folder on PYTHONPATH (together with this folder), so
spawned job workers find it through the plugin registry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import MappingProxyType

from workbench.api import JobDef, Plugin


@dataclass
class CurveParams:
    epochs: int = 6
    pause: float = 0.4


def curves(params, ctx):
    """Per epoch: a loss and an accuracy (x = epoch, like robustness' hardening curves) and a
    throughput by wall time; busy between epochs so the worker shows CPU."""
    for epoch in range(params.epochs):
        ctx.check_cancelled()
        end = time.monotonic() + params.pause
        n = 0
        while time.monotonic() < end:   # real work: the monitor follows this worker's CPU
            n += sum(i * i for i in range(2000))
        ctx.store.add_metrics("train/loss", [(epoch, 2.0 / (epoch + 1))], run_id=ctx.run_id)
        ctx.store.add_metrics("train/accuracy", [(epoch, 0.5 + 0.08 * epoch)], run_id=ctx.run_id)
        ctx.store.add_metrics("throughput", [(time.time(), float(n % 1000))], run_id=ctx.run_id)
        ctx.progress(epoch + 1, params.epochs, f"epoch {epoch + 1}")
    return {"epochs": params.epochs}


class CurvesPlugin(Plugin):
    id = "curvesjob"
    title = "Curves test job"
    version = "0.1"
    jobs = MappingProxyType({"curves": JobDef("wb_monitor_testjobs:curves", CurveParams, "curves", target=None)})


plugin = CurvesPlugin()
