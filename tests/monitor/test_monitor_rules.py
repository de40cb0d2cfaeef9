"""Threshold rules with minimum duration and hysteresis, trends, outbound connections."""

from __future__ import annotations

import math
import random

import pytest

from workbench_plugins.monitor.connections import Conn, OutboundClassifier, parse_proc_net
from workbench_plugins.monitor.rules import DEFAULT_RULES, OutboundRule, ThresholdRule, TrendRule, build_rules

CPU_RULE = {"id": "cpu_high", "series": "cpu.total", "op": ">", "value": 90, "clear": 80, "for_s": 30}


def run(rule, values, start=0.0, step=1.0):
    alerts = []
    for i, v in enumerate(values):
        alerts += rule.evaluate(start + i * step, {"cpu.total": v})
    return alerts


def test_fires_only_after_the_minimum_duration():
    rule = ThresholdRule(CPU_RULE)
    alerts = run(rule, [95.0] * 29 + [50.0] + [95.0] * 29)
    assert alerts == []                                   # two 29 s stretches: no alert
    alerts = run(ThresholdRule(CPU_RULE), [95.0] * 31)
    assert [a.state for a in alerts] == ["firing"] and alerts[0].ts == 30.0


def test_wobbling_around_the_threshold_does_not_flap():
    rng = random.Random(3)
    # 10 minutes of CPU wobbling between 85 and 97 around the 90 % threshold, then idle
    wobble = [91 + 6 * math.sin(i / 3.0) + rng.uniform(-1, 1) for i in range(600)]
    values = [95.0] * 40 + wobble + [20.0] * 60
    crossings = sum(1 for a, b in zip(values, values[1:]) if (a > 90) != (b > 90))
    assert crossings > 50                                 # the naive rule would flap dozens of times
    alerts = run(ThresholdRule(CPU_RULE), values)
    assert [a.state for a in alerts] == ["firing", "resolved"]
    naive = ThresholdRule({**CPU_RULE, "clear": 90, "for_s": 0})
    assert len(run(naive, values)) > 20                   # what hysteresis and duration save us from


def test_clear_for_and_glob_series():
    rule = ThresholdRule({"id": "gpu_full", "series": "gpu*.mem_pct", "op": ">", "value": 95, "clear": 90,
                          "for_s": 0, "clear_for_s": 5})
    out = []
    for t in range(20):
        out += rule.evaluate(float(t), {"gpu0.mem_pct": 97.0 if t < 10 else 85.0, "gpu1.mem_pct": 10.0,
                                        "cpu.total": 99.0})
    assert [(a.series, a.state, a.ts) for a in out] == [("gpu0.mem_pct", "firing", 0.0),
                                                         ("gpu0.mem_pct", "resolved", 15.0)]


def test_below_rule_and_bad_specs():
    rule = ThresholdRule({"id": "disk_low", "series": "disk.free", "op": "<", "value": 10, "clear": 15})
    states = [a.state for t, v in enumerate([20, 9, 12, 14, 16]) for a in rule.evaluate(t, {"disk.free": v})]
    assert states == ["firing", "resolved"]
    with pytest.raises(ValueError, match="safe side"):
        ThresholdRule({**CPU_RULE, "clear": 95})
    with pytest.raises(ValueError, match="rule #2.*unknown kind"):
        build_rules([CPU_RULE, {"id": "x", "kind": "nope"}])
    with pytest.raises(ValueError, match="used twice"):
        build_rules([CPU_RULE, CPU_RULE])
    with pytest.raises(ValueError, match="'value' must be a number"):
        ThresholdRule({**CPU_RULE, "value": "high"})
    assert len(build_rules(DEFAULT_RULES)) == len(DEFAULT_RULES)


def test_memory_growing_for_ten_minutes():
    rule = TrendRule({"id": "mem_grow", "series": "mem.used", "window_s": 600, "min_slope": 1 << 20})
    rng = random.Random(5)
    base = 8 << 30
    out = []
    # 15 min flat with noise (allocations come and go), then a 2 MiB/s leak for 15 min, then flat again
    for t in range(900):
        out += rule.evaluate(float(t), {"mem.used": base + rng.uniform(-50, 50) * (1 << 20)})
    assert out == []
    for t in range(900, 1800):
        base += 2 << 20
        out += rule.evaluate(float(t), {"mem.used": base + rng.uniform(-20, 20) * (1 << 20)})
    assert [a.state for a in out] == ["firing"]
    assert 900 + 300 <= out[0].ts <= 1800                   # needs growth through most of the window
    for t in range(1800, 2700):
        out += rule.evaluate(float(t), {"mem.used": base + rng.uniform(-20, 20) * (1 << 20)})
    assert [a.state for a in out] == ["firing", "resolved"]


def test_a_step_in_memory_is_not_growth():
    rule = TrendRule({"id": "mem_grow", "series": "mem.used", "window_s": 600, "min_slope": 1 << 20})
    rng = random.Random(6)
    out = []
    for t in range(2400):  # a model of 3 GiB loaded at t = 1000, then flat
        level = (8 << 30) + ((3 << 30) if t >= 1000 else 0)
        out += rule.evaluate(float(t), {"mem.used": level + rng.uniform(-20, 20) * (1 << 20)})
    assert out == []


def test_outbound_classifier():
    conns = [
        Conn("tcp", "10.0.0.5", 50000, "192.0.2.10", 443, "ESTABLISHED"),   # out
        Conn("tcp", "10.0.0.5", 50001, "192.0.2.11", 80, "SYN_SENT"),       # an attempt: out
        Conn("tcp", "127.0.0.1", 50002, "127.0.0.1", 8080, "ESTABLISHED"),  # loopback
        Conn("tcp", "10.0.0.5", 22, "0.0.0.0", 0, "LISTEN"),
        Conn("tcp", "10.0.0.5", 22, "192.0.2.99", 61000, "ESTABLISHED"),    # someone ssh'd in: inbound
        Conn("tcp6", "::1", 50003, "::1", 8080, "ESTABLISHED"),
        Conn("udp", "10.0.0.5", 5353, "192.0.2.53", 53, "CONNECTED"),       # connected UDP: out
        Conn("tcp", "10.0.0.5", 50004, "192.0.2.12", 443, "TIME_WAIT"),     # over already
    ]
    out = OutboundClassifier().outbound(conns)
    assert [c.raddr for c in out] == ["192.0.2.10", "192.0.2.11", "192.0.2.53"]
    with pytest.raises(ValueError, match="bad network"):
        OutboundClassifier(["not-a-net"])


def test_proc_net_parsing():
    text = ("  sl  local_address rem_address   st tx_queue rx_queue\n"
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n"
            "   1: 0500000A:C350 0A0200C0:01BB 01 00000000:00000000\n")
    rows = parse_proc_net(text, "tcp")
    assert rows[0] == Conn("tcp", "127.0.0.1", 8080, "0.0.0.0", 0, "LISTEN")
    assert rows[1] == Conn("tcp", "10.0.0.5", 50000, "192.0.2.10", 443, "ESTABLISHED")
    six = ("  sl  local_address                         remote_address                        st\n"
           "   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 01\n")
    assert parse_proc_net(six, "tcp6")[0].raddr == "::1"


def test_outbound_rule_one_alert_per_connection():
    rule = OutboundRule({"id": "out"})
    c1 = Conn("tcp", "10.0.0.5", 50000, "192.0.2.10", 443, "ESTABLISHED")
    c2 = Conn("tcp", "10.0.0.5", 50001, "192.0.2.11", 443, "ESTABLISHED")
    a = rule.evaluate_connections(0.0, [c1])
    b = rule.evaluate_connections(1.0, [c1])
    c = rule.evaluate_connections(2.0, [c1, c2])
    d = rule.evaluate_connections(3.0, [])
    assert [x.state for x in a] == ["firing"] and b == []
    assert [x.data["remote"] for x in c] == ["192.0.2.11:443"]
    assert sorted(x.state for x in d) == ["resolved", "resolved"]
