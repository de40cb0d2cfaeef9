"""Generated metric series with known, injected anomalies, and a scorer for the detector.

Times are synthetic seconds at 1 Hz; nothing here reads a clock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass
class Series:
    name: str
    values: list[float]
    #: (first index, last index, kind) of each injected anomaly
    injected: list[tuple[int, int, str]] = field(default_factory=list)
    hours: float = 0.0


def make_series(name: str, *, hours: float = 6.0, seed: int = 1, base: float = 50.0, sd: float = 2.0,
                spikes: int = 24, shifts: int = 3, bursts_every: int | None = None, burst_len: int = 8,
                burst_height: float = 12.0, drift: float = 0.0, noise: str = "gauss") -> Series:
    rng = random.Random(seed)
    n = int(hours * 3600)
    level = [base] * n
    # level shifts at spread-out random points, each of 8-15 sd, up or down
    injected: list[tuple[int, int, str]] = []
    shift_points = sorted(rng.sample(range(1800, n - 1800), shifts)) if shifts else []
    offset = 0.0
    j = 0
    for i in range(n):
        if j < len(shift_points) and i == shift_points[j]:
            offset += rng.choice((-1, 1)) * rng.uniform(8, 15) * sd
            injected.append((i, i + 60, "level_shift"))
            j += 1
        level[i] = base + offset + drift * math.sin(2 * math.pi * i / 7200.0)
    values = []
    for i in range(n):
        e = rng.gauss(0, sd) if noise == "gauss" else rng.choice((-1, 1)) * rng.expovariate(1 / (sd / math.sqrt(2)))
        values.append(level[i] + e)
    if bursts_every:
        for start in range(900, n, bursts_every):
            jitter = rng.choice((-1, 0, 0, 1))
            for k in range(start + jitter, min(n, start + jitter + burst_len)):
                values[k] += burst_height * sd
    # spikes: 1-3 samples, 8-20 sd, away from shifts and from each other
    busy = {k for a, b, _ in injected for k in range(a - 120, b + 120)}
    placed = 0
    while placed < spikes:
        i = rng.randrange(60, n - 10)
        if any(k in busy for k in range(i - 30, i + 30)):
            continue
        length = rng.randint(1, 3)
        sign = rng.choice((-1, 1))
        height = rng.uniform(8, 20) * sd
        for k in range(i, i + length):
            values[k] += sign * height
        injected.append((i, i + length - 1, "spike"))
        busy.update(range(i - 30, i + 30))
        placed += 1
    injected.sort()
    return Series(name, values, injected, hours)


@dataclass
class Score:
    name: str
    hours: float
    injected: int
    detected: int
    false_alarms: int     # flagged episodes that overlap no injected anomaly

    @property
    def detections_per_hour(self) -> float:
        return self.detected / self.hours

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours

    @property
    def recall(self) -> float:
        return self.detected / self.injected if self.injected else 1.0

    def line(self) -> str:
        return (f"{self.name:<28} {self.hours:4.1f} h  injected {self.injected:3d}  detected {self.detected:3d} "
                f"({self.recall:5.1%}, {self.detections_per_hour:5.2f}/h)  "
                f"false alarms {self.false_alarms:3d} ({self.false_alarms_per_hour:5.2f}/h)")


def score(series: Series, flags: list[bool]) -> Score:
    # A spike's window is the spike plus two ticks. A level shift is flagged until the detector has
    # relearned the new level (one shift_after, twice if a burst interrupts it): three minutes.
    windows = [(a, a + 180) if kind == "level_shift" else (a, b + 2) for a, b, kind in series.injected]
    detected = sum(1 for a, b in windows if any(flags[a:b + 1]))
    false_alarms = 0
    i, n = 0, len(flags)
    while i < n:
        if flags[i]:
            j = i
            while j + 1 < n and flags[j + 1]:
                j += 1
            if not any(a <= j and i <= b for a, b in windows):
                false_alarms += 1
            i = j + 1
        else:
            i += 1
    return Score(series.name, series.hours, len(series.injected), detected, false_alarms)


def run_detector(series: Series, make_detector) -> list[bool]:
    det = make_detector()
    return [det.update(float(t), v).anomaly for t, v in enumerate(series.values)]
