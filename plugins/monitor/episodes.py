"""Anomaly episodes become alerts: hysteresis, severity by size and duration, static bounds in the warm-up.

The streaming detector (detector.py) flags single samples. A user needs one
alert per unusual stretch, not one per sample, so each alerting series has an
:class:`EpisodeTracker`:

* **Open** (hysteresis): ``open_after`` flagged samples in a row, or one
  sample whose score is at least ``open_at_once`` (a spike far outside the
  spread is not made to wait). The alert fires at once with the severity so far.
* **Close**: ``clear_after`` normal samples in a row; the resolved alert carries
  the episode's duration, peak and final severity. A flagged sample in between
  resets the count, so a value flickering around the threshold is one episode.
* **Severity** by size and duration: size points 1 at a peak score of
  ``3 × threshold`` and 2 at ``10 × threshold`` (score = |residual| / learned
  spread); duration points 1 from ``medium_after_s`` and 2 from ``high_after_s``.
  0 points is LOW, 1-2 MEDIUM, 3 or more HIGH. When an open episode climbs a
  severity, a firing alert with the new severity is raised (``escalated``).
* **Warm-up**: the detector learns the normal level from its first
  ``warmup`` samples and flags nothing then. A spike inside the warm-up is
  still caught by a *static bound* (:data:`STATIC_BOUNDS`): an absolute limit
  (CPU above 95 %) or a rise over the series' first sample (resident memory up
  512 MiB), held for ``open_after`` samples. Such an episode is an alert of
  rule ``warmup_bound``.

Only the series in :data:`ALERT_SERIES` raise alerts, and for machine resources
only when they rise; the others (per core, per interface, disk rates) and the
drops are still marked in the graphs, since a single busy core, a download or
memory being freed is not worth a notification.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from .rules import Alert

#: Series whose anomaly episodes are alerts (globs). For machine resources only a rise is a problem
#: (memory freed or a CPU gone idle is not); a job's own series (loss, accuracy) alert both ways.
ALERT_SERIES = ("cpu.total", "mem.used", "mem.used_pct", "swap.used_pct", "load.1", "proc.*.cpu_pct",
                "proc.*.rss", "gpu*.util_pct", "gpu*.mem_pct", "gpu*.temp_c", "gpu*.power_w", "net.outbound",
                "job.*")
BOTH_WAYS = ("job.*",)

#: Warm-up bounds: (glob, "above" an absolute value | "rise" over the first warm-up sample, limit).
STATIC_BOUNDS = (
    ("cpu.total", "above", 95.0),
    ("proc.*.cpu_pct", "rise", 80.0),
    ("mem.used_pct", "above", 95.0),
    ("mem.used", "rise", float(1 << 30)),
    ("proc.*.rss", "rise", float(512 << 20)),
    ("swap.used_pct", "rise", 10.0),
    ("gpu*.mem_pct", "above", 95.0),
    ("gpu*.temp_c", "above", 90.0),
)

SEVERITY_NAMES = ("LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class EpisodeParams:
    open_after: int = 2          # flagged samples in a row that open an episode
    clear_after: int = 3         # normal samples in a row that close it
    open_at_once: float = 2.0    # ... or one sample at this many times the detector threshold
    threshold: float = 6.0       # the detector's threshold (scores are in units of its spread)
    medium_after_s: float = 30.0
    high_after_s: float = 300.0

    def __post_init__(self) -> None:
        if self.open_after < 1 or self.clear_after < 1:
            raise ValueError("episodes: open_after and clear_after must be >= 1")


def alerting(series: str, patterns=ALERT_SERIES) -> bool:
    return any(fnmatch.fnmatchcase(series, p) for p in patterns)


def static_bound(series: str):
    for pattern, kind, limit in STATIC_BOUNDS:
        if fnmatch.fnmatchcase(series, pattern):
            return kind, limit
    return None


def severity_of(peak_score: float, duration_s: float, p: EpisodeParams) -> str:
    size = (peak_score >= 3 * p.threshold) + (peak_score >= 10 * p.threshold)
    dur = (duration_s >= p.medium_after_s) + (duration_s >= p.high_after_s)
    pts = size + dur
    return "LOW" if pts == 0 else "MEDIUM" if pts < 3 else "HIGH"


class EpisodeTracker:
    """One series: feed ``update(ts, value, verdict, interval)``; returns the alerts to raise (0 or 1)."""

    def __init__(self, series: str, params: EpisodeParams | None = None, actions=None):
        self.series = series
        self.p = params or EpisodeParams()
        self.actions = actions if actions is not None else [{"type": "notify"}]
        self.bound = static_bound(series)
        self.both_ways = any(fnmatch.fnmatchcase(series, p) for p in BOTH_WAYS)
        self.first: float | None = None
        self.run = 0               # flagged samples in a row before opening
        self.normal = 0            # normal samples in a row while open
        self.open = False
        self.start = self.last_flag = 0.0
        self.peak = 0.0
        self.peak_value = 0.0
        self.severity = "LOW"
        self.rule = "anomaly"
        self.level_shift = False
        self.episodes = 0

    def update(self, ts: float, value: float, verdict, interval: float) -> list[Alert]:
        if self.first is None:
            self.first = value
        if verdict.kind == "warmup":
            flagged, score, rule = self._bound_hit(value), 0.0, "warmup_bound"
            if flagged:
                score = 3 * self.p.threshold   # a static bound is a large deviation by definition
        else:
            flagged, score, rule = verdict.anomaly, verdict.score, "anomaly"
            if flagged and not self.both_ways and value < verdict.expected:
                flagged = False   # a resource falling below its usual level is no health problem
        if not self.open:
            if not flagged:
                self.run = 0
                return []
            if self.run == 0:
                self.start = ts
                self.peak = 0.0
            self.run += 1
            self._peak(score, value)
            # a static bound always waits for open_after samples: the first samples of a recording
            # measure its own start-up (CPU deltas over a short span), never alone worth an alert
            if self.run < self.p.open_after and (rule == "warmup_bound"
                                                 or score < self.p.open_at_once * self.p.threshold):
                return []
            self.open, self.normal, self.last_flag, self.rule = True, 0, ts, rule
            self.level_shift = verdict.kind == "level_shift"
            self.episodes += 1
            self.severity = severity_of(self.peak, ts - self.start + interval, self.p)
            return [self._alert("firing", ts, value, verdict, interval)]
        if flagged:
            self.normal = 0
            self.last_flag = ts
            self._peak(score, value)
            self.level_shift = self.level_shift or verdict.kind == "level_shift"
            sev = severity_of(self.peak, ts - self.start + interval, self.p)
            if SEVERITY_NAMES.index(sev) > SEVERITY_NAMES.index(self.severity):
                self.severity = sev
                return [self._alert("firing", ts, value, verdict, interval, escalated=True)]
            return []
        self.normal += 1
        if self.normal < self.p.clear_after:
            return []
        self.open, self.run = False, 0
        return [self._alert("resolved", ts, value, verdict, interval)]

    def _bound_hit(self, value: float) -> bool:
        if self.bound is None:
            return False
        kind, limit = self.bound
        return value > limit if kind == "above" else value - self.first > limit

    def _peak(self, score: float, value: float) -> None:
        if score >= self.peak:
            self.peak, self.peak_value = score, value

    def _alert(self, state: str, ts: float, value: float, verdict, interval: float, escalated=False) -> Alert:
        duration = (self.last_flag if state == "resolved" else ts) - self.start + interval
        warm = self.rule == "warmup_bound"
        if state == "firing":
            if warm:
                kind, limit = self.bound
                bound = _fmt(self.series, limit)
                what = (f"above the static bound {bound}" if kind == "above" else
                        f"{_fmt(self.series, value - self.first)} over its first sample (bound {bound})")
                msg = f"{self.series} = {_fmt(self.series, value)}, {what}, during the warm-up"
            else:
                msg = (f"{self.series} = {_fmt(self.series, value)}, expected about "
                       f"{_fmt(self.series, verdict.expected)} ({self.peak:.0f}× the usual spread)")
            if escalated:
                msg += f"; escalated to {self.severity} after {duration:.0f} s"
        else:
            msg = (f"{self.series} back to normal after {duration:.0f} s (peak {_fmt(self.series, self.peak_value)}"
                   + (", then learned as the new level)" if self.level_shift else ")"))
        title = (f"Unusual {self.series} during the warm-up (static bound)" if warm
                 else f"Unusual {self.series}")
        data = {"episode": self.episodes, "start": self.start, "duration_s": round(duration, 3),
                "peak_score": round(self.peak, 2), "peak_value": self.peak_value, "warmup": warm,
                "escalated": escalated, "level_shift": self.level_shift}
        return Alert(self.rule, "anomaly", state, self.severity, ts, title, msg, self.series, float(value), data,
                     self.actions if state == "firing" else [])


def _fmt(series: str, v: float) -> str:
    if series.endswith(("rss", "mem.used")):
        return f"{v / (1 << 20):.0f} MiB"
    if series.endswith("pct") or series == "cpu.total":
        return f"{v:.1f}%"
    return f"{v:.4g}"
