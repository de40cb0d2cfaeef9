"""Tiered aggregates of samples: per second, per minute and per hour, each with its own retention.

Each tier keeps, per series and bucket, ``count``, ``sum``, ``min``, ``max``
and ``anomalies`` (how many of the bucket's samples the detector flagged);
the mean and the anomaly rate follow from them. Buckets start at multiples of
the tier's width in Unix time, so two recordings line up.

:class:`TierAggregator` is fed samples in time order and hands out the buckets
that changed since the last call as *upserts*: a bucket still open is written
again, complete, on the next flush, so a recording killed mid-minute still has
its partial minute and no bucket is ever counted twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    name: str
    seconds: int
    retention_s: float   # rows whose bucket ended longer ago than this are dropped


#: Netdata-like defaults: 1 s for a day, 1 min for 30 days, 1 h for two years.
DEFAULT_TIERS = (
    Tier("1s", 1, 24 * 3600.0),
    Tier("1m", 60, 30 * 24 * 3600.0),
    Tier("1h", 3600, 730 * 24 * 3600.0),
)


@dataclass
class Bucket:
    tier: str
    series: str
    start: float
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    anomalies: int = 0

    def add(self, value: float, anomaly: bool) -> None:
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        if anomaly:
            self.anomalies += 1

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def row(self) -> tuple:
        """(tier, series, start, count, sum, min, max, anomalies): the stored shape."""
        return (self.tier, self.series, self.start, self.count, self.total, self.low, self.high, self.anomalies)


def tiers_from(retention: dict[str, float] | None = None, tiers=DEFAULT_TIERS) -> tuple[Tier, ...]:
    """The default tiers with some retentions replaced, e.g. ``{"1s": 3600}``."""
    retention = retention or {}
    unknown = set(retention) - {t.name for t in tiers}
    if unknown:
        raise ValueError(f"unknown tier(s) {sorted(unknown)}; the tiers are {[t.name for t in tiers]}")
    for name, seconds in retention.items():
        if not seconds or seconds <= 0:
            raise ValueError(f"retention of tier {name} must be a positive number of seconds, got {seconds!r}")
    return tuple(Tier(t.name, t.seconds, float(retention.get(t.name, t.retention_s))) for t in tiers)


class TierAggregator:
    def __init__(self, tiers=DEFAULT_TIERS):
        self.tiers = tuple(tiers)
        self._open: dict[tuple[str, str], Bucket] = {}   # (tier, series) -> open bucket
        self._changed: dict[tuple[str, str, float], Bucket] = {}

    def add(self, series: str, ts: float, value: float, anomaly: bool = False) -> None:
        if not math.isfinite(value):
            return
        for tier in self.tiers:
            start = math.floor(ts / tier.seconds) * tier.seconds
            key = (tier.name, series)
            bucket = self._open.get(key)
            if bucket is None or bucket.start != start:
                bucket = Bucket(tier.name, series, float(start))
                self._open[key] = bucket
            bucket.add(value, anomaly)
            self._changed[(tier.name, series, bucket.start)] = bucket

    def take_changed(self) -> list[tuple]:
        """Rows of every bucket touched since the last call (open ones included, as they stand)."""
        rows = [b.row() for b in self._changed.values()]
        self._changed.clear()
        return rows

    def cutoffs(self, now: float) -> dict[str, float]:
        """Per tier, the bucket start below which rows have outlived the retention."""
        return {t.name: now - t.retention_s - t.seconds for t in self.tiers}


def apply_retention(rows, cutoffs: dict[str, float]) -> list[tuple]:
    """The rows a store keeps after retention (the same rule the SQLite writer applies)."""
    return [r for r in rows if r[2] >= cutoffs[r[0]]]


def merge_rows(rows) -> dict[tuple[str, str, float], tuple]:
    """Upserts folded into the final state per (tier, series, start): the last row wins."""
    out: dict[tuple[str, str, float], tuple] = {}
    for r in rows:
        out[(r[0], r[1], r[2])] = r
    return out
