"""A streaming anomaly detector per series: robust Holt level, MAD-like spread, learned bursts.

For each new value ``x`` the detector predicts ``level + trend`` (Holt's
damped linear method) and looks at the residual ``r`` in units of the learned
spread ``s``. The spread is an exponentially weighted mean absolute residual,
scaled to a standard deviation (x 1.2533) and initialised from the median
absolute deviation of the warm-up values; only normal samples update level,
trend and spread, so spikes do not teach the detector that spikes are normal.

* ``|r| > threshold * s`` opens an *episode* of unusual samples; every sample
  of an episode is flagged, unless the episode is a *regular burst*.
* Regular bursts: episodes are remembered (start time, sign, peak). A new
  episode is regular when earlier episodes of the same sign started at
  ``t - P``, ``t - 2P`` ... (``burst_repeats`` of them, each within a small
  tolerance) for some period ``P`` - a cron job, a periodic checkpoint, a
  batch every minute. A regular burst is not flagged unless it grows well past
  the bursts seen before. A spike at another time, or of the other sign, is.
* Level shifts: an episode longer than ``shift_after`` samples is a new normal
  level. Its samples were flagged; the detector then restarts from the median
  and MAD of the episode's recent values instead of alarming forever.

Everything is O(1) per sample except the burst check, which runs only when an
episode opens and looks at no more than ``burst_memory`` earlier episodes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import median

#: Residual scale of a normal law: E|r| = sigma * sqrt(2/pi).
_MEAN_ABS_TO_SIGMA = math.sqrt(math.pi / 2)
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class DetectorParams:
    threshold: float = 6.0
    alpha: float = 0.03
    trend_beta: float = 0.005
    damping: float = 0.98
    spread_beta: float = 0.02
    warmup: int = 30
    shift_after: int = 60
    merge_gap: int = 2
    burst_repeats: int = 3
    burst_memory: int = 48
    min_spread_abs: float = 1e-9
    min_spread_rel: float = 1e-3

    def __post_init__(self) -> None:
        if self.threshold <= 0 or not 0 < self.alpha < 1 or not 0 < self.spread_beta < 1:
            raise ValueError("detector: threshold must be > 0, alpha and spread_beta in (0, 1)")
        if self.warmup < 3 or self.shift_after < 2 or self.burst_repeats < 2:
            raise ValueError("detector: warmup >= 3, shift_after >= 2, burst_repeats >= 2")


@dataclass
class Verdict:
    anomaly: bool
    score: float        # |residual| / spread
    kind: str           # "warmup", "normal", "spike", "burst", "level_shift"
    expected: float


@dataclass
class _Episode:
    start: float
    sign: int
    peak: float
    regular: bool
    familiar_peak: float
    last_ts: float
    familiar_length: int
    length: int = 0


class RobustDetector:
    """One series' detector; feed it ``update(ts, value)`` in time order."""

    def __init__(self, params: DetectorParams | None = None):
        self.p = params or DetectorParams()
        self.level = 0.0
        self.trend = 0.0
        self.spread = 0.0
        self._warm: list[float] = []
        self._dt = 0.0
        self._last_ts: float | None = None
        self._episode: _Episode | None = None
        self._recent: deque[float] = deque(maxlen=self.p.shift_after)
        self._history: deque[tuple[float, int, float, int]] = deque(maxlen=self.p.burst_memory)
        self.samples = 0
        self.anomalies = 0

    # ------------------------------------------------------------------ public
    def update(self, ts: float, x: float) -> Verdict:
        x = float(x)
        self.samples += 1
        if self._last_ts is not None:
            step = ts - self._last_ts
            if step > 0:
                self._dt = step if self._dt == 0 else self._dt + 0.05 * (step - self._dt)
        self._last_ts = ts
        if not math.isfinite(x):
            return Verdict(False, 0.0, "normal", self.level)
        if len(self._warm) < self.p.warmup:
            self._warm.append(x)
            if len(self._warm) == self.p.warmup:
                self._restart(self._warm)
            return Verdict(False, 0.0, "warmup", x)

        expected = self.level + self.p.damping * self.trend
        residual = x - expected
        spread = self._floor(self.spread, expected)
        score = abs(residual) / spread
        ep = self._episode
        if score <= self.p.threshold:
            if ep is not None and ts - ep.last_ts > self.p.merge_gap * max(self._dt, 1e-9):
                self._close_episode()
            self._learn(x, residual, spread)
            return Verdict(False, score, "normal", expected)

        sign = 1 if residual > 0 else -1
        if ep is not None and (ep.sign != sign or ts - ep.last_ts > self.p.merge_gap * max(self._dt, 1e-9) + 1e-9):
            self._close_episode()
            ep = None
        if ep is None:
            regular, familiar, familiar_len = self._is_regular(ts, sign)
            ep = self._episode = _Episode(ts, sign, abs(residual), regular, familiar, ts, familiar_len)
        ep.length += 1
        ep.last_ts = ts
        ep.peak = max(ep.peak, abs(residual))
        self._recent.append(x)
        if ep.regular and ep.length > 2 * ep.familiar_length + self.p.merge_gap:
            ep.regular = False  # lasts far longer than the bursts it resembled: not one of them
        if ep.length >= self.p.shift_after:
            # A long episode is a new normal: flag this sample, then relearn from it.
            self._episode = None
            self._restart(list(self._recent))
            self.anomalies += 1
            return Verdict(True, score, "level_shift", expected)
        if ep.regular and abs(residual) <= 1.5 * ep.familiar_peak + self.p.threshold * spread:
            return Verdict(False, score, "burst", expected)
        self.anomalies += 1
        return Verdict(True, score, "spike", expected)

    @property
    def anomaly_rate(self) -> float:
        return self.anomalies / self.samples if self.samples else 0.0

    # ----------------------------------------------------------------- private
    def _floor(self, spread: float, level: float) -> float:
        return max(spread, self.p.min_spread_abs, self.p.min_spread_rel * abs(level))

    def _restart(self, values: list[float]) -> None:
        mid = median(values)
        mad = median(abs(v - mid) for v in values)
        self.level = mid
        self.trend = 0.0
        # Never below half the old spread: a quiet stretch must not make every wiggle an alarm.
        self.spread = max(_MAD_TO_SIGMA * mad, self.spread * 0.5)
        self._recent.clear()

    def _learn(self, x: float, residual: float, spread: float) -> None:
        p = self.p
        previous = self.level
        self.level = self.level + p.damping * self.trend + p.alpha * residual
        self.trend = p.damping * self.trend + p.trend_beta * (self.level - previous - p.damping * self.trend)
        # Huber-style clip: one large residual moves the spread by a bounded step.
        clipped = min(abs(residual), 3.0 * spread)
        self.spread += p.spread_beta * (_MEAN_ABS_TO_SIGMA * clipped - self.spread)

    def _close_episode(self) -> None:
        ep = self._episode
        if ep is not None:
            self._history.append((ep.start, ep.sign, ep.peak, ep.length))
        self._episode = None
        self._recent.clear()

    def _is_regular(self, ts: float, sign: int) -> tuple[bool, float, int]:
        """Did earlier episodes of this sign start about P, 2P, ... before ts, for one period P?

        The chain is walked one period at a time from the newest match, so a
        jitter of a sample or two per burst does not add up.
        """
        starts = [(s, peak, length) for s, sg, peak, length in self._history if sg == sign]
        need = self.p.burst_repeats
        if len(starts) < need:
            return False, 0.0, 0
        dt = max(self._dt, 1e-9)
        # Anchors: the last few episodes only. An old anchor gives a long period
        # whose tolerance would let a random spike line up with some burst.
        for anchor, _, _ in reversed(starts[-3:]):
            period = ts - anchor
            if period < 3 * dt:
                continue
            tol = max(3 * dt, 0.02 * period)
            point, peaks, lengths = ts, [], []
            for _ in range(need):
                hits = [(s, pk, ln) for s, pk, ln in starts if abs(s - (point - period)) <= tol]
                if not hits:
                    break
                point = min(hits, key=lambda h: abs(h[0] - (point - period)))[0]
                peaks.append(max(h[1] for h in hits))
                lengths.append(max(h[2] for h in hits))
            else:
                return True, max(peaks), max(lengths)
        return False, 0.0, 0
