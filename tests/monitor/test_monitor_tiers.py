"""Tiers (1 s / 1 min / 1 h with count, sum, min, max, anomalies) and retention, on generated timestamps."""

from __future__ import annotations

import sqlite3

import pytest

from workbench_plugins.monitor.engine import Batch
from workbench_plugins.monitor.store import SQLiteWriter
from workbench_plugins.monitor.tiers import (DEFAULT_TIERS, TierAggregator, apply_retention, merge_rows,
                                             tiers_from)

T0 = 1_699_999_200.0  # a whole hour in Unix time (472222 h)


def feed_hours(agg: TierAggregator, hours: float, step: float = 1.0):
    n = int(hours * 3600 / step)
    for i in range(n):
        ts = T0 + i * step
        value = float(i % 100)                       # known min/max per bucket
        agg.add("cpu.total", ts, value, anomaly=(i % 250 == 0))
    return n


def test_buckets_hold_count_sum_min_max_and_anomalies():
    agg = TierAggregator()
    n = feed_hours(agg, 3)
    final = merge_rows(agg.take_changed())
    by_tier = {t.name: {k: r for k, r in final.items() if k[0] == t.name} for t in DEFAULT_TIERS}
    assert len(by_tier["1s"]) == n
    assert len(by_tier["1m"]) == 180
    assert len(by_tier["1h"]) == 3
    first_minute = by_tier["1m"][("1m", "cpu.total", T0)]
    _, _, _, count, total, low, high, anomalies = first_minute
    assert count == 60 and total == sum(range(60)) and (low, high) == (0.0, 59.0)
    assert anomalies == 1                               # i = 0 only; next is i = 250
    for tier in ("1s", "1m", "1h"):                     # every tier adds up to the same totals
        rows = by_tier[tier].values()
        assert sum(r[3] for r in rows) == n
        assert sum(r[4] for r in rows) == sum(float(i % 100) for i in range(n))
        assert sum(r[7] for r in rows) == len(range(0, n, 250))
    hour = by_tier["1h"][("1h", "cpu.total", T0 + 3600)]
    assert hour[3] == 3600 and hour[5] == 0.0 and hour[6] == 99.0


def test_open_bucket_is_rewritten_until_it_closes_never_double_counted():
    agg = TierAggregator()
    for i in range(30):
        agg.add("x", T0 + i, 1.0)
    first = {(r[0], r[2]): r for r in agg.take_changed()}
    assert first[("1m", T0)][3] == 30                 # the partial minute is written
    for i in range(30, 90):
        agg.add("x", T0 + i, 1.0)
    second = {(r[0], r[2]): r for r in agg.take_changed()}
    assert second[("1m", T0)][3] == 60                # upsert, complete now
    assert second[("1m", T0 + 60)][3] == 30
    assert agg.take_changed() == []                   # nothing new, nothing written


def test_retention_per_tier_in_memory_and_in_sqlite(tmp_path):
    tiers = tiers_from({"1s": 600, "1m": 2 * 3600, "1h": 30 * 24 * 3600})
    agg = TierAggregator(tiers)
    feed_hours(agg, 3, step=2.0)
    rows = agg.take_changed()
    now = T0 + 3 * 3600
    kept = apply_retention(rows, agg.cutoffs(now))
    oldest = {t: min(r[2] for r in kept if r[0] == t) for t in ("1s", "1m", "1h")}
    assert oldest["1s"] >= now - 600 - 1 and oldest["1s"] < now - 590
    assert oldest["1m"] >= now - 2 * 3600 - 60
    assert oldest["1h"] == T0                          # nothing old enough to drop

    db = tmp_path / "m.sqlite"
    writer = SQLiteWriter(db)
    writer.write(Batch(1, now, tiers=rows, retention=agg.cutoffs(now), n_samples=1))
    writer.close()
    conn = sqlite3.connect(db)
    stored = {t: (c, lo) for t, c, lo in conn.execute("SELECT tier, count(*), min(start) FROM monitor_tiers "
                                                      "GROUP BY tier")}
    assert stored["1s"] == (sum(1 for r in kept if r[0] == "1s"), oldest["1s"])
    assert stored["1m"] == (sum(1 for r in kept if r[0] == "1m"), oldest["1m"])
    assert stored["1h"][0] == 3


def test_tier_settings_are_checked():
    with pytest.raises(ValueError, match="unknown tier"):
        tiers_from({"5s": 10})
    with pytest.raises(ValueError, match="positive"):
        tiers_from({"1s": 0})


def test_a_failing_writer_loses_nothing_once_it_recovers(tmp_path):
    from workbench_plugins.monitor.engine import Monitor

    class Probe:
        gpu_status = "none"

        def __init__(self):
            self.n = 0

        def sample(self):
            self.n += 1
            return {"x": float(self.n)}

        def close(self):
            pass

    writer = SQLiteWriter(tmp_path / "w.sqlite")
    fail = [True]

    def write(batch):
        if fail[0]:
            raise OSError("disk full")
        writer.write(batch)

    mon = Monitor(write, probe=Probe(), rules=[], detect=False, interval=1.0, clock=lambda: T0 + 100)
    for i in range(10):
        mon.tick(T0 + i)
        if i % 3 == 2:
            mon.flush()
    assert mon.write_errors == ["OSError: disk full"] and len(mon._failed) == 3
    fail[0] = False
    mon.flush()
    rows = sqlite3.connect(tmp_path / "w.sqlite").execute(
        "SELECT SUM(count), SUM(sum) FROM monitor_tiers WHERE tier='1s'").fetchone()
    assert rows == (10, float(sum(range(1, 11))))
