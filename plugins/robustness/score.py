"""The robustness pillar score R(x) = Σ λᵢ rᵢ(x), on 0-100.

For a model x and one robustness measure i (an attack such as ``pgd``, or a
corruption family such as ``gaussian_noise``) swept over epsilons (or
severities) 0 < e₁ < … < eₙ:

    rᵢ(x) = (1 / eₙ) ∫₀^eₙ accᵢ(e) de

the normalised area under the robust-accuracy-versus-epsilon curve, computed
with the trapezoid rule through the points (0, clean accuracy), (e₁, acc(e₁)),
…, (eₙ, acc(eₙ)). rᵢ is the mean robust accuracy over [0, eₙ], so it lies in
[0, 1]: 1 for a model that is always right whatever the perturbation, 0 for one
that is always wrong.

    R(x) = 100 · Σᵢ λᵢ rᵢ(x) / Σᵢ λᵢ

over the measures of one run. The pillar score of a project is the lowest R
over the latest run of every model (target): a project is as robust as its
weakest model. A ``harden`` run counts with the model as given ("original");
the hardened copy counts once it is evaluated as a model of its own. The weights λᵢ are stored in the project
(table ``robustness_weights``); a measure without a stored weight gets
λ = 1 for an attack and λ = 0.5 for a corruption family, because worst-case
perturbations matter more to a security review than natural ones. A project
with no robustness run is "not assessed" (None), never a number.

Curves over different epsilon ranges are not comparable: the report states
the range of every rᵢ next to it.
"""

from __future__ import annotations

DEFAULT_ATTACK_WEIGHT = 1.0
DEFAULT_CORRUPTION_WEIGHT = 0.5


def normalised_auc(clean_accuracy: float, curve: dict[float, float]) -> float:
    """rᵢ: the mean robust accuracy over [0, max eps] (trapezoid through (0, clean accuracy))."""
    points = sorted((float(e), float(a)) for e, a in curve.items() if float(e) > 0)
    if not points:
        return float(clean_accuracy)
    xs = [0.0] + [e for e, _ in points]
    ys = [float(clean_accuracy)] + [a for _, a in points]
    area = sum((xs[k + 1] - xs[k]) * (ys[k + 1] + ys[k]) / 2.0 for k in range(len(xs) - 1))
    return area / xs[-1]


def measures(clean_accuracy: float, curves: dict[str, dict[float, float]]) -> dict[str, float]:
    """{measure: rᵢ} for every attack or corruption curve."""
    return {name: normalised_auc(clean_accuracy, curve) for name, curve in curves.items()}


def default_weight(name: str) -> float:
    from .corruptions import CORRUPTIONS

    return DEFAULT_CORRUPTION_WEIGHT if name in CORRUPTIONS else DEFAULT_ATTACK_WEIGHT


def combine(r: dict[str, float], weights: dict[str, float] | None = None) -> float | None:
    """R(x) on 0-100, or None when there is no measure (or every weight is zero)."""
    weights = weights or {}
    total_w = 0.0
    total = 0.0
    for name, value in r.items():
        w = float(weights.get(name, default_weight(name)))
        total_w += w
        total += w * value
    if not r or total_w <= 0:
        return None
    return 100.0 * total / total_w
