"""The monitoring pillar's health score M, per monitored concern.

    M = 100 · Σ_c λ_c (1 − u_c) / Σ_c λ_c

over five concerns c (the seed's form Σλᵢ(1 − uᵢ); dividing by Σλ keeps M in
0-100 whatever weights the user sets, and with the default λ summing to 1 it
is exactly 100 · Σλ(1 − u)):

=============  =====  ======================================================
concern        λ      what counts against it
=============  =====  ======================================================
availability   0.20   log rules about failing service (5xx bursts, floods)
resources      0.20   CPU, memory, disk, GPU: threshold, trend and anomaly alerts
integrity      0.20   watched files created, modified, deleted or unreadable
intrusion      0.25   log rules on logins, sudo, web attacks; outbound connections
model_service  0.15   inference-service and LLM log rules (prompt injection,
                      tool calls to shells, CUDA OOM), anomalies of job series
=============  =====  ======================================================

The λ are edited in the tab (stored per project, table ``monitor_weights``,
one row per concern); λ = 0 leaves a concern out. Each u_c ∈ [0, 1] comes from
the concern's alert *episodes* (a firing alert up to its resolution; escalations
are the same episode; an episode still open counts up to the end of the run,
so a lasting degradation is never forgotten)::

    u_c = 1 − Π_episodes (1 − w(severity) · f(duration))
    w: LOW 0.25, MEDIUM 0.5, HIGH 0.9
    f(d) = 1 for a point event (a log line, a file change, no resolution);
           min(1, 0.5 + 0.5 · d / 60 s) for an episode that lasts d seconds

So one HIGH file change puts u_integrity at 0.9; a 10 s LOW blip costs 0.15;
independent episodes compound, never averaged over how many series exist.
Warm-up samples add nothing (the detector has not learned yet) except the
static-bound alerts raised inside the warm-up. No run: "not assessed" (None).
"""

from __future__ import annotations

import json

CONCERNS = ("availability", "resources", "integrity", "intrusion", "model_service")
DEFAULT_LAMBDAS = {"availability": 0.20, "resources": 0.20, "integrity": 0.20, "intrusion": 0.25,
                   "model_service": 0.15}
SEVERITY_WEIGHT = {"LOW": 0.25, "MEDIUM": 0.5, "HIGH": 0.9}
FULL_AFTER_S = 60.0


def concern_of(alert: dict) -> str:
    """The concern an alert counts against: its own ``data.concern`` (log rules declare one), else by kind."""
    data = alert.get("data") or {}
    if isinstance(data, str):
        data = json.loads(data or "{}")
    c = data.get("concern")
    if c in CONCERNS:
        return c
    kind, series = alert.get("kind"), alert.get("series") or ""
    if kind == "integrity":
        return "integrity"
    if kind == "outbound" or series == "net.outbound":
        return "intrusion"
    if kind == "log":
        return "intrusion"
    if series.startswith("job."):
        return "model_service"
    return "resources"


def check_lambdas(weights: dict | None) -> dict[str, float]:
    """The λ in use: the defaults with the user's replacements; unknown concerns and negatives refused."""
    out = dict(DEFAULT_LAMBDAS)
    for k, v in (weights or {}).items():
        if k not in CONCERNS:
            raise ValueError(f"health score: unknown concern {k!r}; the concerns are {list(CONCERNS)}")
        try:
            lam = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"health score: λ of {k} must be a number, got {v!r}") from None
        if lam < 0:
            raise ValueError(f"health score: λ of {k} must be >= 0, got {lam}")
        out[k] = lam
    return out


def episodes(alerts, end_ts: float) -> list[dict]:
    """Alert rows (dicts with ts, rule, kind, state, severity, series, data) folded into episodes:
    ``{"concern", "severity", "duration_s" (None: a point event), "rule", "series"}``."""
    rows = sorted(alerts, key=lambda a: a["ts"])
    open_: dict[tuple, dict] = {}
    out = []
    for a in rows:
        data = a.get("data") or {}
        if isinstance(data, str):
            data = json.loads(data or "{}")
        key = (a["rule"], a.get("series"), data.get("key"), data.get("path"), data.get("remote"))
        if a["kind"] == "outbound":  # one episode per connection: opened and closed by its remote
            key = (a["rule"], data.get("remote"))
        if a["state"] == "firing":
            ep = open_.get(key)
            if ep is None:
                ep = {"concern": concern_of(a), "severity": a["severity"], "start": a["ts"], "duration_s": None,
                      "rule": a["rule"], "series": a.get("series"), "point": a["kind"] in ("log", "integrity")}
                if ep["point"]:
                    out.append(ep)
                else:
                    open_[key] = ep
            elif SEVERITY_WEIGHT.get(a["severity"], 0) > SEVERITY_WEIGHT.get(ep["severity"], 0):
                ep["severity"] = a["severity"]   # escalated: the same episode
        elif a["state"] == "resolved":
            ep = open_.pop(key, None)
            if ep is not None:
                if SEVERITY_WEIGHT.get(a["severity"], 0) > SEVERITY_WEIGHT.get(ep["severity"], 0):
                    ep["severity"] = a["severity"]
                dur = data.get("duration_s")
                ep["duration_s"] = float(dur) if dur is not None else max(0.0, a["ts"] - ep["start"])
                out.append(ep)
    for ep in open_.values():   # still going at the end of the run
        ep["duration_s"] = max(0.0, end_ts - ep["start"])
        out.append(ep)
    return out


def impact(ep: dict) -> float:
    w = SEVERITY_WEIGHT.get(ep["severity"], 0.5)
    d = ep["duration_s"]
    f = 1.0 if d is None else min(1.0, 0.5 + 0.5 * d / FULL_AFTER_S)
    return w * f


def concern_terms(alerts, end_ts: float, weights: dict | None = None) -> dict[str, dict]:
    """Per concern: λ, u, the term λ(1 − u), and how many episodes made u."""
    return terms_from_episodes(episodes(alerts, end_ts), weights)


def terms_from_episodes(eps, weights: dict | None = None) -> dict[str, dict]:
    lams = check_lambdas(weights)
    keep = {c: 1.0 for c in CONCERNS}
    count = {c: 0 for c in CONCERNS}
    for ep in eps:
        keep[ep["concern"]] *= 1.0 - impact(ep)
        count[ep["concern"]] += 1
    return {c: {"lambda": lams[c], "u": round(1.0 - keep[c], 4), "term": round(lams[c] * keep[c], 4),
                "episodes": count[c]} for c in CONCERNS}


def health_score(terms: dict[str, dict]) -> float | None:
    """M from :func:`concern_terms`' output; None when every λ is 0."""
    den = sum(t["lambda"] for t in terms.values())
    if den <= 0:
        return None
    return 100.0 * sum(t["lambda"] * (1.0 - t["u"]) for t in terms.values()) / den


def terms_text(terms: dict[str, dict]) -> str:
    """One line: each concern's λ·(1 − u), for the CLI and the tab."""
    return ", ".join(f"{c} {t['lambda']:g}·(1−{t['u']:.2f})" for c, t in terms.items())


def _weights(store) -> dict[str, float]:
    """The user's λ per concern (rows of other names, from an older per-series editor, are ignored)."""
    return {r["series"]: r["weight"] for r in store.query("SELECT series, weight FROM monitor_weights")
            if r["series"] in CONCERNS}


def run_terms(store, run_ids, weights: dict | None = None) -> dict[str, dict]:
    """The concern terms of M over the given runs, from their stored alerts; an episode still open
    counts up to the run's last sample."""
    eps = []
    for rid in run_ids:
        rows = store.query("SELECT ts, rule, kind, state, severity, series, data FROM monitor_alerts "
                           "WHERE run_id = ? ORDER BY ts", (rid,))
        end = store.query_one("SELECT MAX(last_sample_ts) AS t FROM monitor_flushes WHERE run_id = ?", (rid,))
        end_ts = end["t"] if end is not None and end["t"] is not None else max((r["ts"] for r in rows), default=0.0)
        eps.extend(episodes([dict(r) for r in rows], end_ts))
    return terms_from_episodes(eps, _weights(store) if weights is None else weights)


def score(store) -> float | None:
    """M = 100 · Σλ_c(1 − u_c) / Σλ_c over the latest run of each machine (see the module docstring)."""
    runs = store.latest_runs("monitor")
    if not runs:
        return None
    m = health_score(run_terms(store, [r.id for r in runs]))
    return None if m is None else round(m, 1)
