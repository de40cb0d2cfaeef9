"""Metric rules that raise alerts: thresholds with a minimum duration and hysteresis, trends, outbound traffic.

A threshold rule fires when its condition has held for ``for_s`` seconds
without a break, and clears only when the value is back past ``clear`` (the
hysteresis level, on the safe side of ``value``) for ``clear_for_s`` seconds.
A value wobbling around the threshold therefore raises one alert, not one per
crossing. Rules are plain dicts in storage and YAML::

    {"id": "cpu_high", "kind": "threshold", "series": "cpu.total", "op": ">",
     "value": 90, "clear": 80, "for_s": 30, "severity": "MEDIUM",
     "actions": [{"type": "notify"}]}

``series`` may be a glob (``gpu*.mem_pct``); each matching series has its own
state. Kinds: ``threshold``, ``trend`` (a series rising faster than
``min_slope`` per second, for ``window_s``) and ``outbound`` (any outbound
connection; see connections.py).
"""

from __future__ import annotations

import fnmatch
import json
from collections import deque
from dataclasses import asdict, dataclass, field

SEVERITIES = ("LOW", "MEDIUM", "HIGH")


def _new_id() -> str:
    # uuid imported here: it pulls in platform (~3 ms), and the GUI reads rules without raising alerts
    import uuid

    return uuid.uuid4().hex[:16]


@dataclass
class Alert:
    rule: str
    kind: str             # threshold, trend, outbound, log, integrity, anomaly
    state: str            # firing, resolved
    severity: str
    ts: float
    title: str
    message: str
    series: str | None = None
    value: float | None = None
    data: dict = field(default_factory=dict)
    actions: list = field(default_factory=list)
    id: str = field(default_factory=_new_id)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("actions")
        return d

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, default=str)


def check_severity_and_actions(d: dict, where: str, rid: str, error=ValueError) -> tuple[str, list]:
    """A rule's severity (upper-cased, MEDIUM by default) and actions list (notify when the rule has no
    ``actions``), for metric and log rules alike."""
    severity = str(d.get("severity", "MEDIUM")).upper()
    if severity not in SEVERITIES:
        raise error(f"{where}: rule {rid}: severity must be one of {SEVERITIES}, got {d.get('severity')!r}")
    # a rule that says nothing about actions notifies: an alert nobody sees is no alert
    # (``actions: []`` stores the alert without a notification)
    actions = d.get("actions", [{"type": "notify"}])
    if actions is None:
        actions = []
    if not isinstance(actions, list):
        raise error(f"{where}: rule {rid}: 'actions' must be a list")
    return severity, actions


def _check_common(d: dict, where: str) -> tuple[str, str, list]:
    rid = d.get("id")
    if not rid or not isinstance(rid, str):
        raise ValueError(f"{where}: every rule needs an 'id' (a short name)")
    return (rid, *check_severity_and_actions(d, where, rid))


def _series(d: dict, where: str, rid: str) -> str:
    series = str(d.get("series") or "")
    if not series:
        raise ValueError(f"{where}: rule {rid}: 'series' is required")
    return series


def _num(d: dict, key: str, where: str, default=None) -> float:
    v = d.get(key, default)
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: rule {d.get('id')}: '{key}' must be a number, got {v!r}") from None


class ThresholdRule:
    kind = "threshold"

    def __init__(self, d: dict, where: str = "rule"):
        self.spec = dict(d)
        self.id, self.severity, self.actions = _check_common(d, where)
        self.series = _series(d, where, self.id)
        self.op = d.get("op", ">")
        if self.op not in (">", "<"):
            raise ValueError(f"{where}: rule {self.id}: 'op' must be '>' or '<', got {self.op!r}")
        self.value = _num(d, "value", where)
        self.clear = _num(d, "clear", where, self.value)
        if (self.op == ">" and self.clear > self.value) or (self.op == "<" and self.clear < self.value):
            raise ValueError(f"{where}: rule {self.id}: 'clear' ({self.clear:g}) must be on the safe side of "
                             f"'value' ({self.value:g}) for op {self.op}")
        self.for_s = _num(d, "for_s", where, 0)
        self.clear_for_s = _num(d, "clear_for_s", where, 0)
        self.title = d.get("title") or f"{self.series} {self.op} {self.value:g}"
        self._state: dict[str, dict] = {}

    def matches(self, series: str) -> bool:
        return fnmatch.fnmatchcase(series, self.series)

    def _bad(self, v: float) -> bool:
        return v > self.value if self.op == ">" else v < self.value

    def _good(self, v: float) -> bool:
        return v <= self.clear if self.op == ">" else v >= self.clear

    def evaluate(self, ts: float, values: dict[str, float]) -> list[Alert]:
        alerts = []
        for series, v in values.items():
            if not self.matches(series):
                continue
            st = self._state.setdefault(series, {"firing": False, "since": None})
            if not st["firing"]:
                if self._bad(v):
                    st["since"] = ts if st["since"] is None else st["since"]
                    if ts - st["since"] >= self.for_s:
                        st["firing"], st["since"] = True, None
                        alerts.append(self._alert("firing", ts, series, v))
                else:
                    st["since"] = None
            else:
                if self._good(v):
                    st["since"] = ts if st["since"] is None else st["since"]
                    if ts - st["since"] >= self.clear_for_s:
                        st["firing"], st["since"] = False, None
                        alerts.append(self._alert("resolved", ts, series, v))
                else:
                    st["since"] = None
        return alerts

    def _alert(self, state: str, ts: float, series: str, v: float) -> Alert:
        if state == "firing":
            msg = f"{series} = {v:g} {self.op} {self.value:g}" + (f" for {self.for_s:g} s" if self.for_s else "")
        else:
            msg = f"{series} = {v:g}, back past {self.clear:g}"
        return Alert(self.id, self.kind, state, self.severity, ts, self.title, msg, series, v,
                     {"op": self.op, "value": self.value, "clear": self.clear, "for_s": self.for_s},
                     self.actions if state == "firing" else [])


class TrendRule:
    """A series rising by more than ``min_slope`` per second over the last ``window_s`` seconds.

    Least-squares slope over the window (running sums, O(1) per sample) and,
    so that a step, noise or growth that only began does not count, growth
    through the whole window (see ``_rising``). It clears
    when the slope falls under half of ``min_slope``.
    """

    kind = "trend"

    def __init__(self, d: dict, where: str = "rule"):
        self.spec = dict(d)
        self.id, self.severity, self.actions = _check_common(d, where)
        self.series = _series(d, where, self.id)
        self.window_s = _num(d, "window_s", where, 600)
        self.min_slope = _num(d, "min_slope", where, 0)
        if self.window_s <= 0 or self.min_slope <= 0:
            raise ValueError(f"{where}: rule {self.id}: 'window_s' and 'min_slope' must be > 0")
        self.title = d.get("title") or f"{self.series} growing"
        self._state: dict[str, dict] = {}

    def matches(self, series: str) -> bool:
        return fnmatch.fnmatchcase(series, self.series)

    def evaluate(self, ts: float, values: dict[str, float]) -> list[Alert]:
        alerts = []
        for series, v in values.items():
            if not self.matches(series):
                continue
            st = self._state.get(series)
            if st is None:
                st = self._state[series] = {"pts": deque(), "t0": ts, "s": [0.0] * 5, "firing": False}
            pts, s = st["pts"], st["s"]
            t = ts - st["t0"]
            pts.append((t, v))
            s[0] += 1; s[1] += t; s[2] += v; s[3] += t * t; s[4] += t * v  # noqa: E702
            while pts and t - pts[0][0] > self.window_s:
                ot, ov = pts.popleft()
                s[0] -= 1; s[1] -= ot; s[2] -= ov; s[3] -= ot * ot; s[4] -= ot * ov  # noqa: E702
            covered = pts and t - pts[0][0] >= 0.95 * self.window_s and s[0] >= 5
            slope = 0.0
            if covered:
                den = s[0] * s[3] - s[1] * s[1]
                slope = (s[0] * s[4] - s[1] * s[2]) / den if den > 0 else 0.0
            if not st["firing"]:
                if covered and slope > self.min_slope and self._rising(pts):
                    st["firing"] = True
                    alerts.append(Alert(self.id, self.kind, "firing", self.severity, ts, self.title,
                                        f"{series} rising {slope:.4g}/s over {self.window_s:g} s",
                                        series, v, {"slope": slope, "window_s": self.window_s}, self.actions))
            elif covered and slope < self.min_slope / 2:
                st["firing"] = False
                alerts.append(Alert(self.id, self.kind, "resolved", self.severity, ts, self.title,
                                    f"{series} no longer rising ({slope:.4g}/s)", series, v, {"slope": slope}))
        return alerts

    def _rising(self, pts) -> bool:
        """Growth through the whole window, not a step or a late start: each half rises at
        least half as fast as ``min_slope``, and the means of the window's tenths rise at least
        8 times out of 9."""
        n = len(pts)
        if n < 10:
            return False
        half = n // 2
        if min(_slope(list(pts)[:half]), _slope(list(pts)[half:])) <= self.min_slope / 2:
            return False
        vals = [p[1] for p in pts]
        means = [sum(vals[k * n // 10:(k + 1) * n // 10]) / max(1, (k + 1) * n // 10 - k * n // 10)
                 for k in range(10)]
        return sum(1 for a, b in zip(means, means[1:]) if b > a) >= 8


def _slope(pts) -> float:
    n = len(pts)
    if n < 2:
        return 0.0
    mt = sum(p[0] for p in pts) / n
    mv = sum(p[1] for p in pts) / n
    den = sum((p[0] - mt) ** 2 for p in pts)
    return sum((p[0] - mt) * (p[1] - mv) for p in pts) / den if den > 0 else 0.0


class OutboundRule:
    """Any outbound connection: one alert per new connection, resolved when it is gone."""

    kind = "outbound"

    def __init__(self, d: dict, where: str = "rule"):
        self.spec = dict(d)
        self.id, self.severity, self.actions = _check_common(d, where)
        self.title = d.get("title") or "Outbound network connection"
        self.ignore_networks = d.get("ignore_networks")
        self._open: dict[str, object] = {}

    def evaluate_connections(self, ts: float, outbound: list, owner=None) -> list[Alert]:
        alerts = []
        now = {c.key: c for c in outbound}
        for key, c in now.items():
            if key not in self._open:
                who = owner(c) if owner else None
                data = {"proto": c.proto, "local": f"{c.laddr}:{c.lport}", "remote": f"{c.raddr}:{c.rport}",
                        "state": c.state, "process": who}
                by = f" by {who['name']} (pid {who['pid']})" if who else ""
                alerts.append(Alert(self.id, self.kind, "firing", self.severity, ts, self.title,
                                    f"outbound {c.proto} connection to {c.raddr}:{c.rport}{by}", "net.outbound",
                                    float(len(now)), data, self.actions))
        for key in set(self._open) - set(now):
            c = self._open[key]
            alerts.append(Alert(self.id, self.kind, "resolved", self.severity, ts, self.title,
                                f"connection to {c.raddr}:{c.rport} closed", "net.outbound", float(len(now)),
                                {"remote": f"{c.raddr}:{c.rport}"}))
        self._open = now
        return alerts

    def evaluate(self, ts: float, values: dict[str, float]) -> list[Alert]:
        return []  # driven by evaluate_connections, which sees the connections themselves


RULE_KINDS = {"threshold": ThresholdRule, "trend": TrendRule, "outbound": OutboundRule}

#: The rules a new monitor starts with (the tab edits a copy stored in the project).
DEFAULT_RULES = [
    {"id": "cpu_high", "kind": "threshold", "series": "cpu.total", "op": ">", "value": 90, "clear": 80,
     "for_s": 30, "severity": "MEDIUM", "title": "CPU above 90% for 30 s", "actions": [{"type": "notify"}]},
    {"id": "memory_high", "kind": "threshold", "series": "mem.used_pct", "op": ">", "value": 95, "clear": 90,
     "for_s": 30, "severity": "HIGH", "title": "Memory above 95%", "actions": [{"type": "notify"}]},
    {"id": "memory_growing", "kind": "trend", "series": "mem.used", "window_s": 600,
     "min_slope": 1 << 20, "severity": "MEDIUM", "title": "Memory growing for 10 minutes (> 1 MiB/s)",
     "actions": [{"type": "notify"}]},
    {"id": "outbound_connection", "kind": "outbound", "severity": "HIGH",
     "title": "Outbound connection on an offline machine", "actions": [{"type": "notify"}]},
    {"id": "gpu_memory_full", "kind": "threshold", "series": "gpu*.mem_pct", "op": ">", "value": 95,
     "clear": 90, "for_s": 10, "severity": "MEDIUM", "title": "GPU memory nearly full",
     "actions": [{"type": "notify"}]},
]


def build_rules(specs, where: str = "rules") -> list:
    rules, seen = [], set()
    for i, d in enumerate(specs or []):
        if not isinstance(d, dict):
            raise ValueError(f"{where}: rule #{i + 1} must be a mapping, got {type(d).__name__}")
        kind = d.get("kind", "threshold")
        cls = RULE_KINDS.get(kind)
        if cls is None:
            raise ValueError(f"{where}: rule #{i + 1} ({d.get('id')}): unknown kind {kind!r}; "
                             f"use one of {sorted(RULE_KINDS)}")
        rule = cls(d, f"{where}: rule #{i + 1}")
        if rule.id in seen:
            raise ValueError(f"{where}: rule #{i + 1}: id {rule.id!r} is used twice")
        seen.add(rule.id)
        rules.append(rule)
    return rules

