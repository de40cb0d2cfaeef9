"""The streaming detector on generated series with injected spikes and level shifts."""

from __future__ import annotations

import pytest

from workbench_plugins.monitor.detector import DetectorParams, RobustDetector

from .monitor_synthetic import make_series, run_detector, score

CASES = [
    # name, generator kwargs, (min recall, max false alarms per hour)
    ("gauss", dict(seed=1), (0.9, 0.5)),
    ("gauss+drift", dict(seed=4, drift=10.0), (0.9, 0.5)),
    ("gauss+bursts/120s", dict(seed=2, bursts_every=120), (0.9, 1.5)),
    ("laplace+drift+bursts/300s", dict(seed=3, bursts_every=300, drift=6.0, noise="laplace"), (0.9, 3.0)),
]


def test_detections_and_false_alarms_per_hour(capsys):
    lines, failures = [], []
    for name, kwargs, (min_recall, max_fa) in CASES:
        series = make_series(name, hours=6.0, **kwargs)
        result = score(series, run_detector(series, RobustDetector))
        lines.append(result.line())
        if result.recall < min_recall or result.false_alarms_per_hour > max_fa:
            failures.append(f"{name}: recall {result.recall:.2f} (min {min_recall}), "
                            f"false alarms {result.false_alarms_per_hour:.2f}/h (max {max_fa})")
    with capsys.disabled():
        print("\ndetector on generated 1 Hz series (spikes 8-20 sd, level shifts 8-15 sd):")
        print("\n".join(lines))
    assert not failures, failures


def test_regular_bursts_are_learned_but_an_offbeat_spike_is_not():
    series = make_series("bursts", hours=2.0, seed=7, spikes=0, shifts=0, bursts_every=60, burst_len=5)
    det = RobustDetector()
    flags = [det.update(float(t), v).anomaly for t, v in enumerate(series.values)]
    burst_starts = list(range(900, len(series.values), 60))
    flagged_bursts = [s for s in burst_starts if any(flags[s - 1:s + 7])]
    # the first few bursts are new and flagged, after that they are the normal rhythm
    assert flagged_bursts, "the very first burst should look unusual"
    assert all(s < burst_starts[6] for s in flagged_bursts), flagged_bursts
    # same height, but half-way between two bursts: an anomaly
    t = burst_starts[-3] + 30
    v = series.values[t] + 12.0 * 2.0
    fresh = RobustDetector()
    for i, x in enumerate(series.values[:t]):
        fresh.update(float(i), x)
    assert fresh.update(float(t), v).anomaly


def test_level_shift_is_flagged_then_relearned():
    params = DetectorParams(shift_after=30)
    det = RobustDetector(params)
    flags = []
    for t in range(2000):
        x = 10.0 + (0.5 if t % 2 else -0.5) + (40.0 if t >= 1000 else 0.0)
        flags.append(det.update(float(t), x).anomaly)
    assert flags[1000], "the shift itself is flagged"
    assert not any(flags[1100:]), "after shift_after samples the new level is normal"
    assert abs(det.level - 50.0) < 1.0


def test_spread_floor_keeps_a_flat_series_quiet():
    det = RobustDetector(DetectorParams(min_spread_abs=2.0))
    for t in range(100):
        det.update(float(t), 0.0)
    assert not det.update(100.0, 1.0).anomaly     # a 1-point blip on an idle CPU
    assert det.update(101.0, 30.0).anomaly


def test_bad_parameters_and_non_finite_values():
    with pytest.raises(ValueError):
        DetectorParams(threshold=0)
    det = RobustDetector()
    for t in range(50):
        det.update(float(t), 1.0)
    assert det.update(50.0, float("nan")).anomaly is False
