"""Retention of the monitor's raw samples in the core metrics table: deleted in batches through the
store while recording; the tiers keep the minute and hour aggregates."""

from __future__ import annotations

import pytest


def test_prune_raw_deletes_old_samples_in_batches_and_only_the_monitors(project):
    from workbench.core.plugin_store import PluginStore
    from workbench_plugins.monitor.store import prune_raw

    store = PluginStore(project, "monitor")
    other = PluginStore(project, "robustness")
    t0 = 1_000_000.0
    store.add_metrics("cpu.total", [(t0 + i, float(i)) for i in range(1000)], run_id=1)
    store.add_metrics("cpu.total", [(t0 + 2000 + i, float(i)) for i in range(10)], run_id=2)
    store.add_metrics("mem.used_pct", [(t0 + i, 1.0) for i in range(1000)], run_id=1)
    other.add_metrics("cpu.total", [(t0 + i, 1.0) for i in range(50)], run_id=3)
    cutoff = t0 + 900
    with store.transaction():
        assert prune_raw(store, ["cpu.total"], cutoff, batch=400) == 400     # one batch of the oldest
    assert store.metrics("cpu.total", run_id=1)[0][0] == t0 + 400
    assert prune_raw(store, ["cpu.total"], cutoff, batch=400) == 400
    assert prune_raw(store, ["cpu.total"], cutoff, batch=400) == 100        # the rest, never past the cutoff
    assert prune_raw(store, ["cpu.total"], cutoff, batch=400) == 0
    assert [ts for ts, _ in store.metrics("cpu.total", run_id=1)] == [t0 + i for i in range(900, 1000)]
    assert len(store.metrics("cpu.total", run_id=2)) == 10                   # newer than the cutoff
    assert len(store.metrics("mem.used_pct", run_id=1)) == 1000             # a series not named
    assert len(other.metrics("cpu.total", run_id=3)) == 50                   # another plugin's samples


def test_a_recording_with_raw_retention_keeps_the_tiers(project):
    from workbench.core.plugin_store import PluginStore
    from workbench.core.plugins import load_plugins
    from workbench.core.jobs import run_in_process

    plugin = load_plugins().get("monitor")
    store = PluginStore(project, "monitor")
    with pytest.raises(ValueError, match="raw_retention"):
        plugin.job_spec("monitor", raw_retention=0)
    spec = plugin.job_spec("monitor", duration=3.0, interval=0.1, flush_every=0.5, gpu=False, raw_retention=1.0)
    run_id, status, summary = run_in_process(project, spec)
    assert status == "done", summary
    raw = store.metrics("cpu.total", run_id=run_id)
    seconds = store.query("SELECT SUM(count) AS n FROM monitor_tiers WHERE run_id=? AND tier='1s' AND "
                          "series='cpu.total'", (run_id,))[0]["n"]
    assert summary["raw_pruned"] > 0
    # every sample is in the 1 s tier (the first has no CPU delta yet) ...
    assert seconds in (summary["samples"] - 1, summary["samples"])
    assert 0 < len(raw) < seconds                         # ... the raw table kept only the last second or so
    newest = raw[-1][0]
    assert all(newest - ts <= 1.0 + 0.5 + 0.2 for ts, _ in raw)   # retention + one flush interval + a tick
