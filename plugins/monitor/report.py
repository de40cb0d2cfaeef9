"""The monitor's report section, read from the project (data, never Qt); the pillar score is score.py."""

from __future__ import annotations

import json

from workbench.api import KeyValues, LineChart, Paragraph, Section, Table

from .score import run_terms, score

CHART_GROUPS = (
    ("CPU and memory (%)", ("cpu.total", "mem.used_pct", "swap.used_pct"), "%"),
    ("GPU (%)", ("gpu0.util_pct", "gpu0.mem_pct"), "%"),
)


def report_sections(store, options: dict) -> list[Section]:
    runs = store.latest_runs("monitor")
    if not runs:
        return [Section("Monitoring", [Paragraph("Not assessed: no monitoring run yet.")], "monitor")]
    blocks: list = []
    ids = [r.id for r in runs]
    m = score(store)
    for run in runs:
        s = run.get("summary") or {}
        blocks.append(KeyValues([
            ("Machine", str(run.get("target"))), ("Samples", str(s.get("samples"))),
            ("Duration", f"{s.get('seconds', 0):.0f} s at {s.get('interval')} s"), ("GPU", str(s.get("gpu"))),
            ("Alerts", str(s.get("alerts"))),
            ("Warm-up", f"first {s.get('warmup_samples', 30)} samples per series (static bounds only)"),
            ("Health score", "n/a" if s.get("health_score") is None else f"{s['health_score']:.1f}"),
        ]))
    terms = run_terms(store, ids)
    blocks.append(Paragraph(f"Health score M = {'n/a' if m is None else f'{m:.1f}'} = 100 · Σλ_c(1 − u_c)/Σλ_c "
                            "over five concerns; u_c compounds the concern's alert and anomaly episodes, "
                            "each weighted by severity (LOW 0.25, MEDIUM 0.5, HIGH 0.9) and duration."))
    blocks.append(Table(["Concern", "λ", "u", "λ(1 − u)", "Episodes"],
                        [[c, f"{t['lambda']:g}", f"{t['u']:.2f}", f"{t['term']:.3f}", t["episodes"]]
                         for c, t in terms.items()], caption="Health score terms"))
    marks = ",".join("?" * len(ids))
    for title, series, unit in CHART_GROUPS:
        lines = {}
        for name in series:
            pts = store.query(f"SELECT start, sum / count AS mean FROM monitor_tiers WHERE tier = '1m' AND "
                              f"series = ? AND run_id IN ({marks}) ORDER BY start", [name, *ids])
            if len(pts) < 2:  # short runs: the 1 s tier
                pts = store.query(f"SELECT start, sum / count AS mean FROM monitor_tiers WHERE tier = '1s' AND "
                                  f"series = ? AND run_id IN ({marks}) ORDER BY start", [name, *ids])
            if pts:
                t0 = pts[0]["start"]
                lines[name] = [((p["start"] - t0) / 60.0, p["mean"]) for p in pts]
        if lines:
            # Percentages keep their whole scale: 40 % must not look like a full bar.
            blocks.append(LineChart(title, "minutes", unit, lines, y_range=(0.0, 100.0) if unit == "%" else None))
    alerts = store.query(f"SELECT ts, severity, state, title, message FROM monitor_alerts WHERE run_id IN ({marks}) "
                         f"ORDER BY ts", ids)
    if alerts:
        blocks.append(Table(["Severity", "State", "Alert", "Detail"],
                            [[a["severity"], a["state"], a["title"], a["message"]] for a in alerts],
                            caption="Alerts"))
    hits = store.query(f"SELECT rule, COUNT(*) AS n, MIN(line) AS example FROM monitor_log_hits "
                       f"WHERE run_id IN ({marks}) GROUP BY rule ORDER BY n DESC", ids)
    if hits:
        blocks.append(Table(["Log rule", "Matching lines", "Example"],
                            [[h["rule"], h["n"], h["example"][:200]] for h in hits], caption="Log-rule hits"))
    changes = [a for a in store.query(f"SELECT data FROM monitor_alerts WHERE kind = 'integrity' "
                                      f"AND run_id IN ({marks}) ORDER BY ts", ids)]
    if changes:
        rows = []
        for c in changes:
            d = json.loads(c["data"])
            rows.append([d.get("path"), d.get("change"), (d.get("old_sha256") or "")[:16],
                         (d.get("new_sha256") or "")[:16]])
        blocks.append(Table(["File", "Change", "Old SHA-256", "New SHA-256"], rows, caption="File integrity"))
    return [Section("Monitoring", blocks, "monitor")]
