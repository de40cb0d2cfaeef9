"""The monitoring pillar's health score.

    M = 100 · Σᵢ λᵢ (1 − uᵢ) / Σᵢ λᵢ

where, for each monitored series i, uᵢ ∈ [0, 1] is its anomaly rate - the
share of its samples the streaming detector flagged (from the tiers' anomaly
counts over the runs assessed) - and λᵢ ≥ 0 its weight (set in the tab; 1 by
default). Dividing by Σλᵢ keeps M in 0-100 whatever the weights: 100 means no
series behaved unusually, 0 that every weighted series was anomalous all the
time. Series with weight 0 do not count; with no weighted series that has
samples the pillar is "not assessed" (None), never a made-up number.
"""

from __future__ import annotations


def health_score(rates: dict[str, float], weights: dict[str, float] | None = None,
                 default_weight: float = 1.0) -> float | None:
    weights = weights or {}
    num = den = 0.0
    for series, u in rates.items():
        lam = float(weights.get(series, default_weight))
        if lam < 0:
            raise ValueError(f"health score: weight of {series} must be >= 0, got {lam}")
        if not 0.0 <= u <= 1.0:
            raise ValueError(f"health score: anomaly rate of {series} must be in [0, 1], got {u}")
        num += lam * (1.0 - u)
        den += lam
    if den == 0:
        return None
    return 100.0 * num / den


def rates_from_tiers(rows, tier: str = "1m") -> dict[str, float]:
    """Anomaly rate per series from tier rows (tier, series, start, count, sum, min, max, anomalies)."""
    counts: dict[str, list[int]] = {}
    for r in rows:
        if r[0] != tier:
            continue
        c = counts.setdefault(r[1], [0, 0])
        c[0] += int(r[3])
        c[1] += int(r[7])
    return {s: a / n for s, (n, a) in counts.items() if n}
