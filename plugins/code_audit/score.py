"""Pillar score of the code audit (its report section is report.py).

Score (0-100, higher is better), over the latest code audit run of every
audited target (a second, clean folder does not hide the first one's findings):

    weight(f) = S[severity] * C[confidence]
        S = {HIGH: 10, MEDIUM: 4, LOW: 1},  C = {HIGH: 1.0, MEDIUM: 0.7, LOW: 0.4}
    risk      = sum of weight(f) over OPEN findings (not suppressed in source,
                not triaged false_positive / accepted_risk / fixed)
    density   = 1000 * risk / max(lines of Python audited in those runs, 1000)
    score     = round(100 / (1 + density / 10))

So a clean tree scores 100; a density of 10 (one HIGH/HIGH finding per
thousand lines) scores 50; 30 scores 25. Secrets and model-file findings
count like code findings. Trees under 1000 lines are normalised as 1000
lines so that a tiny tree is not dominated by a single finding.
"""

from __future__ import annotations

from workbench.api import is_open

SEVERITY_WEIGHT = {"HIGH": 10.0, "MEDIUM": 4.0, "LOW": 1.0}
CONFIDENCE_WEIGHT = {"HIGH": 1.0, "MEDIUM": 0.7, "LOW": 0.4}
HALF_SCORE_DENSITY = 10.0
CLOSED = {"false_positive", "accepted_risk", "fixed"}


def weighted_risk(findings: list[dict]) -> float:
    return sum(SEVERITY_WEIGHT[f["severity"]] * CONFIDENCE_WEIGHT[f["confidence"]]
               for f in findings if is_open(f))


def score_from(findings: list[dict], lines: int) -> int:
    density = 1000.0 * weighted_risk(findings) / max(lines, 1000)
    return round(100.0 / (1.0 + density / HALF_SCORE_DENSITY))


def _lines(run: dict) -> int:
    return int((run.get("summary") or {}).get("lines", 0))


def score(store) -> int | None:
    """Score over the latest run of every target, or None before the first audit."""
    runs = store.latest_runs("audit")
    if not runs:
        return None
    return score_from(store.findings(latest=True), sum(_lines(r) for r in runs))
