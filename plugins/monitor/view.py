"""What the Monitor tab shows, without Qt: the series groups, the texts of alerts, log hits and the
warm-up, the recording's parameters from the form, and the project reads the tab polls.

Kept out of ``tab.py`` so that it is tested without a window (``tests/monitor/test_monitor_view.py``)
and the tab holds only widgets and timers.
"""

from __future__ import annotations

import fnmatch
import html
import json
import os
import time

# title, series patterns, y axis (quantity, unit), fixed y range
GROUPS = (
    ("CPU", ("cpu.total", "cpu.core*", "proc.*.cpu_pct"), ("busy", "%"), (0, 100)),
    ("Memory", ("mem.used_pct", "swap.used_pct"), ("used", "%"), (0, 100)),
    ("Disk", ("disk.read_Bps", "disk.write_Bps"), ("read / write", "B/s"), None),
    ("Network", ("net.*.rx_Bps", "net.*.tx_Bps"), ("received / sent", "B/s"), None),
    ("GPU", ("gpu*.util_pct", "gpu*.mem_pct", "gpu*.temp_c"), ("use % · temperature °C", ""), (0, 100)),
    ("Jobs", ("job.*",), ("value", ""), None),
)
GPU, JOBS = 4, 5
CORES = os.cpu_count() or 1
WINDOWS = (("1 min", 60), ("10 min", 600), ("1 h", 3600), ("24 h", 86400))
STEP_X_BELOW = 1e8         # a job series whose x is below this is per step (epoch, epsilon), not a time
#: firing alerts' text colour per severity, (light theme, dark theme): lighter shades on the dark palette
ALERT_COLOURS = {"HIGH": ("#c81e1e", "#ff6e6e"), "MEDIUM": ("#aa5f00", "#f0aa3c")}


def group_of(series: str) -> int | None:
    """The index in :data:`GROUPS` of the plot that shows *series*, None for a series not shown."""
    for i, (_, patterns, _, _) in enumerate(GROUPS):
        if any(fnmatch.fnmatchcase(series, p) for p in patterns):
            return i
    return None


def is_process_cpu(series: str) -> bool:
    """A process's CPU % counts every core (up to N×100): it is shown as its share of the machine."""
    return fnmatch.fnmatchcase(series, "proc.*.cpu_pct")


def split_paths(text: str) -> list[str]:
    """The paths of a form field, separated by ``;`` (blanks dropped)."""
    return [p.strip() for p in text.split(";") if p.strip()]


def recording_params(*, interval: float, duration: float, warmup: int, raw_keep_hours: float, logs: str,
                     watch: str, pids) -> dict:
    """The ``monitor`` job's parameters from the tab's form: 0 s means until stopped, 0 h keeps every
    raw sample; the batch is committed every second so the graphs follow."""
    return dict(duration=float(duration) or None, interval=float(interval), flush_every=1.0, warmup=int(warmup),
                logs=split_paths(logs), watch=split_paths(watch), pids=list(pids), follow_jobs=True,
                raw_retention=float(raw_keep_hours) * 3600 or None)


def alert_cells(alert) -> tuple[str, str, str, str]:
    """An alert row's cells: local time, severity, state, and the title with its message."""
    when = time.strftime("%H:%M:%S", time.localtime(alert["ts"]))
    return when, alert["severity"], alert["state"], f"{alert['title']}: {alert['message']}"


def alert_colour(alert, dark: bool) -> str | None:
    """The text colour of a firing HIGH or MEDIUM alert in the theme; None for the palette's own."""
    if alert["state"] != "firing" or alert["severity"] not in ALERT_COLOURS:
        return None
    return ALERT_COLOURS[alert["severity"]][int(dark)]


def log_html(hits, dark: bool) -> str:
    """The log hits, oldest first, as HTML: the rule in bold, the line marked (readable in both themes)."""
    rule, mark = ("#ff7070", "#5a2424") if dark else ("#c02020", "#ffe0e0")
    return "".join(f"<div><b style='color:{rule}'>{html.escape(h['rule'])}</b> "
                   f"<span style='background:{mark}'>{html.escape(h['line'])}</span></div>" for h in reversed(hits))


def warmup_text(done: int, n: int, interval: float) -> tuple[str, bool]:
    """The warm-up label and whether the detector is still learning (static bounds only until then)."""
    if done < n:
        return f"warm-up {done}/{n} samples: learning the normal level, static bounds only", True
    return f"detector armed (warm-up: first {n} samples, {n * interval:g} s)", False


def parse_rules(text: str) -> list:
    """The rules editor's text as a list of rule specs (ValueError when it is not a JSON list)."""
    specs = json.loads(text)
    if not isinstance(specs, list):
        raise ValueError("the rules must be a JSON list")
    return specs


def parse_weights(text: str) -> dict[str, float]:
    """The weights editor's text, checked: concern -> λ >= 0 (ValueError or TypeError otherwise)."""
    from .score import check_lambdas

    weights = json.loads(text or "{}")
    if not isinstance(weights, dict):
        raise ValueError("weights must be a JSON object of concern to λ >= 0")
    return check_lambdas(weights)


def tier_for(window: float) -> tuple[str, int]:
    """The aggregate tier (and its bucket in seconds) that fills a window beyond the raw samples."""
    return ("1m", 60) if window <= 86400 else ("1h", 3600)


# --------------------------------------------------------------------- reads of the run on screen
def save_weights(store, weights: dict[str, float]) -> None:
    """Replace the project's λ per concern."""
    with store.transaction():
        store.execute("DELETE FROM monitor_weights")
        store.executemany("INSERT INTO monitor_weights (series, weight) VALUES (?, ?)",
                          [(k, float(v)) for k, v in weights.items()])


def new_marks(store, run_id, since: float) -> tuple[list[tuple[int, float, float]], float]:
    """The anomaly marks of the run's 1 s buckets from *since* on, (group, start, mean as plotted) of
    those shown, and where the next read starts."""
    rows = store.query("SELECT series, start, sum / count AS mean FROM monitor_tiers WHERE run_id=? AND "
                       "tier='1s' AND anomalies > 0 AND start >= ? ORDER BY start", (run_id, since))
    marks = [(group_of(m["series"]), m["start"], m["mean"] / CORES if is_process_cpu(m["series"]) else m["mean"])
             for m in rows]
    return [m for m in marks if m[0] is not None], rows[-1]["start"] + 1 if rows else since


def alerts(store, run_id, limit: int = 500) -> list:
    return store.query("SELECT id, ts, severity, state, title, message FROM monitor_alerts WHERE run_id=? "
                       "ORDER BY ts DESC LIMIT ?", (run_id, limit))


def log_hits(store, run_id, limit: int = 200) -> list:
    return store.query("SELECT ts, path, rule, line FROM monitor_log_hits WHERE run_id=? ORDER BY rowid DESC "
                       "LIMIT ?", (run_id, limit))


def warmup_state(store, run_id) -> tuple[int, int, float, float | None]:
    """The run's warm-up: samples done, samples needed, the interval, and its first sample's time."""
    params = (store.run(run_id) or {}).get("params") or {}
    row = store.query_one("SELECT MAX(samples) AS n FROM monitor_flushes WHERE run_id=?", (run_id,))
    first = store.query_one("SELECT MIN(start) AS t FROM monitor_tiers WHERE run_id=? AND tier='1s' "
                            "AND series='cpu.total'", (run_id,))
    return (int(row["n"] or 0) if row else 0, int(params.get("warmup", 30)), float(params.get("interval", 1.0)),
            first["t"] if first and first["t"] is not None else None)


def tier_series(store, run_id, window: float) -> tuple[float | None, list[str]]:
    """For a recording whose raw samples retention removed: the end of the tier that fills *window*
    (None when it has none) and its series."""
    tier, span = tier_for(window)
    end = store.query_one("SELECT MAX(start) AS t FROM monitor_tiers WHERE run_id=? AND tier=?", (run_id, tier))
    if end is None or end["t"] is None:
        return None, []
    rows = store.query("SELECT DISTINCT series FROM monitor_tiers WHERE run_id=? AND tier=?", (run_id, tier))
    return end["t"] + span, [r["series"] for r in rows]


def tier_means(store, run_id, series: str, window: float, newest: float, oldest: float):
    """The tier means of *series* over the window ending at *newest*, in whole buckets before *oldest*
    (raw and aggregate never overlap): two float arrays, times and means."""
    import numpy as np

    tier, span = tier_for(window)
    rows = store.query("SELECT start, sum / count AS mean FROM monitor_tiers WHERE run_id=? AND tier=? "
                       "AND series=? AND start >= ? AND start + ? <= ? ORDER BY start",
                       (run_id, tier, series, newest - window - span, span, oldest))
    return np.array([r["start"] for r in rows], dtype=float), np.array([r["mean"] for r in rows], dtype=float)
