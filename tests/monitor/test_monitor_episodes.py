"""Anomaly episodes become alerts: hysteresis, severity by size and duration, static bounds in the warm-up;
and the health score M per concern from those alerts."""

from __future__ import annotations

import random

import pytest

from workbench_plugins.monitor.detector import DetectorParams, RobustDetector
from workbench_plugins.monitor.engine import Monitor
from workbench_plugins.monitor.episodes import EpisodeParams, EpisodeTracker, severity_of
from workbench_plugins.monitor.score import (CONCERNS, DEFAULT_LAMBDAS, check_lambdas, concern_terms, episodes,
                                             health_score)


def _feed(values, warmup=10, params=None, series="cpu.total"):
    det = RobustDetector(DetectorParams(warmup=warmup, min_spread_abs=2.0))
    tr = EpisodeTracker(series, params or EpisodeParams())
    alerts = []
    for i, v in enumerate(values):
        alerts += tr.update(float(i), v, det.update(float(i), v), 1.0)
    return alerts


def _quiet(n, level=10.0, seed=1):
    rnd = random.Random(seed)
    return [level + rnd.uniform(-1, 1) for _ in range(n)]


def test_an_episode_is_one_alert_with_hysteresis_and_a_resolution():
    # a 20 s CPU hog after a quiet stretch, flickering once back to normal in the middle
    hog = [95.0] * 8 + [11.0] + [96.0] * 11
    alerts = _feed(_quiet(40) + hog + _quiet(10, seed=2))
    assert [(a.rule, a.state) for a in alerts] == [("anomaly", "firing"), ("anomaly", "resolved")]
    fire, done = alerts
    assert fire.series == "cpu.total" and fire.actions == [{"type": "notify"}]
    assert done.data["duration_s"] == pytest.approx(20.0)      # one episode across the flicker
    assert done.data["peak_value"] >= 95


def test_a_single_small_blip_is_not_an_alert_but_a_huge_one_is():
    quiet = _quiet(40)
    blip = quiet + [quiet[-1] + 20] + _quiet(5, seed=3)      # one sample, a few spreads out
    assert _feed(blip) == []
    spike = quiet + [500.0] + _quiet(5, seed=3)              # one sample far outside: opens at once
    assert [a.state for a in _feed(spike)] == ["firing", "resolved"]


def test_severity_grows_with_size_and_duration():
    p = EpisodeParams()
    assert severity_of(7, 1, p) == "LOW"
    assert severity_of(20, 1, p) == "MEDIUM"          # 3x the threshold
    assert severity_of(70, 1, p) == "MEDIUM"          # 10x: two size points
    assert severity_of(70, 31, p) == "HIGH"           # ... and lasting 30 s
    assert severity_of(7, 400, p) == "MEDIUM"         # small but five minutes long
    # a long hog (two cores' worth) escalates: MEDIUM at first, HIGH once it lasted 30 s
    alerts = _feed(_quiet(40) + [190.0] * 40, warmup=10, series="proc.9.cpu_pct")
    states = [(a.state, a.severity) for a in alerts]
    assert states[0][0] == "firing" and ("firing", "HIGH") in states and states[0][1] != "HIGH"
    assert alerts[1].data["escalated"]


def test_a_spike_inside_the_warm_up_is_caught_by_a_static_bound():
    # resident memory: flat for 3 samples, then 2 GiB more while the detector is still learning
    base = 300.0 * (1 << 20)
    values = [base] * 3 + [base + (2 << 30)] * 4 + [base] * 10
    alerts = _feed(values, warmup=30, series="proc.77.rss")
    assert [(a.rule, a.state) for a in alerts] == [("warmup_bound", "firing"), ("warmup_bound", "resolved")]
    assert alerts[0].data["warmup"] and "warm-up" in alerts[0].message and alerts[0].severity == "MEDIUM"
    # the same values without a bound for the series: the warm-up flags nothing
    assert _feed(values, warmup=30, series="disk.read_Bps") == []
    # one sample over a bound (the recording's own start-up) is not an episode; two are
    assert _feed([100.0, 20.0, 21.0, 20.0], warmup=30) == []
    assert [a.rule for a in _feed([100.0, 99.0, 20.0, 21.0, 20.0, 20.0], warmup=30)] == ["warmup_bound"] * 2


class _Probe:
    """A machine that replays given values (the sampler is tested on its own; here the engine's logic)."""

    gpu_status = "GPU sampling off"
    last_outbound: list = []

    def __init__(self, rows):
        self.rows = list(rows)

    def sample(self):
        return dict(self.rows.pop(0)) if self.rows else {}

    def close(self):
        pass


def test_the_engine_raises_episode_alerts_for_alerting_series_only_and_shows_the_warm_up():
    rows = ([{"cpu.total": 10.0 + (i % 3), "cpu.core0": 10.0 + (i % 3)} for i in range(20)]
            + [{"cpu.total": 97.0, "cpu.core0": 97.0} for _ in range(5)]
            + [{"cpu.total": 10.0, "cpu.core0": 10.0} for _ in range(5)])
    got = []
    mon = Monitor(lambda b: None, interval=0.1, probe=_Probe(rows), rules=[], warmup=8, on_alert=got.append)
    assert mon.warmup == 8 and mon.warming_up
    for i in range(30):
        mon.tick(1000.0 + i * 0.1)
        if i == 6:
            assert mon.warming_up            # 7 samples of 8
    assert not mon.warming_up
    assert [(a.series, a.state) for a in got] == [("cpu.total", "firing"), ("cpu.total", "resolved")]
    assert mon.alert_log[0]["rule"] == "anomaly"                # cpu.core0 is marked, not alerted
    assert mon.detectors["cpu.core0"].anomalies > 0


def test_health_score_per_concern_from_alerts():
    assert health_score(concern_terms([], 100.0)) == pytest.approx(100.0)
    assert sum(DEFAULT_LAMBDAS.values()) == pytest.approx(1.0) and set(DEFAULT_LAMBDAS) == set(CONCERNS)

    def a(ts, rule, kind, state, sev, series=None, **data):
        return {"ts": ts, "rule": rule, "kind": kind, "state": state, "severity": sev, "series": series,
                "data": data}

    alerts = [
        a(10, "file_integrity", "integrity", "firing", "HIGH", path="/m.bin"),
        a(20, "anomaly", "anomaly", "firing", "MEDIUM", "cpu.total"),
        a(25, "anomaly", "anomaly", "firing", "HIGH", "cpu.total"),          # escalation: same episode
        a(80, "anomaly", "anomaly", "resolved", "HIGH", "cpu.total", duration_s=60.0),
        a(30, "ssh_brute_force", "log", "firing", "HIGH", key="1.2.3.4", concern="intrusion"),
        a(90, "cpu_high", "threshold", "firing", "MEDIUM", "cpu.total"),      # still firing at the end
    ]
    eps = episodes(alerts, end_ts=150.0)
    assert len(eps) == 4
    terms = concern_terms(alerts, end_ts=150.0)
    assert terms["integrity"]["u"] == pytest.approx(0.9)
    assert terms["intrusion"]["u"] == pytest.approx(0.9)
    # resources: HIGH for 60 s (0.9) and MEDIUM still open for 60 s (0.5): 1 - 0.1 * 0.5
    assert terms["resources"]["u"] == pytest.approx(0.95)
    assert terms["availability"]["u"] == 0 and terms["model_service"]["u"] == 0
    m = health_score(terms)
    expected = 100 * (0.2 * 1 + 0.2 * 0.05 + 0.2 * 0.1 + 0.25 * 0.1 + 0.15 * 1)
    assert m == pytest.approx(expected)
    # a lasting degradation is not forgotten: the same open episode weighs more the longer the run
    short = concern_terms([a(0, "cpu_high", "threshold", "firing", "LOW", "cpu.total")], end_ts=5.0)
    long = concern_terms([a(0, "cpu_high", "threshold", "firing", "LOW", "cpu.total")], end_ts=600.0)
    assert long["resources"]["u"] > short["resources"]["u"]
    # λ are editable; a zero λ drops a concern, all zero: not assessed; bad λ refused
    only = {c: 0 for c in CONCERNS} | {"integrity": 1}
    assert health_score(concern_terms(alerts, 150.0, only)) == pytest.approx(10.0)
    assert health_score(concern_terms(alerts, 150.0, {c: 0 for c in CONCERNS})) is None
    with pytest.raises(ValueError, match="unknown concern"):
        check_lambdas({"cpu.total": 1})
    with pytest.raises(ValueError, match=">= 0"):
        check_lambdas({"integrity": -1})


def test_a_resource_dropping_is_marked_but_not_an_alert_a_job_series_both_ways():
    values = _quiet(40, level=60.0) + [5.0] * 10 + _quiet(10, level=60.0, seed=4)
    det = RobustDetector(DetectorParams(warmup=10, min_spread_abs=2.0))
    tr = EpisodeTracker("cpu.total")
    flagged, alerts = 0, []
    for i, v in enumerate(values):
        verdict = det.update(float(i), v)
        flagged += verdict.anomaly
        alerts += tr.update(float(i), v, verdict, 1.0)
    assert flagged >= 10 and alerts == []        # the detector marks the drop; nobody is paged for it
    assert [a.state for a in _feed(values, series="job.robustness#3.harden/accuracy")] == ["firing", "resolved"]


def test_a_followed_process_that_exits_is_an_availability_alert(tmp_path):
    import subprocess
    import sys
    import time

    from workbench_plugins.monitor.score import concern_terms

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    got = []
    mon = Monitor(lambda b: None, interval=0.1, pids=[child.pid], rules=[], gpu=False, on_alert=got.append)
    try:
        child.wait()
        for i in range(3):
            mon.tick(2000.0 + i)
            time.sleep(0.05)
    finally:
        mon.stop()
    exits = [a for a in got if a.rule == "process_exit"]
    assert len(exits) == 1 and exits[0].data["pid"] == child.pid and exits[0].severity == "HIGH"
    terms = concern_terms(mon.alert_log, end_ts=2060.0)
    assert terms["availability"]["u"] == pytest.approx(0.9)     # down for the rest of the run
