"""The testing pillar's score, T(r) = Σ λᵢ tᵢ(r), 0-100, higher is better.

Inputs: the latest test run of every target (pytest runs and JUnit imports),
the latest fuzz run of every entry point and the latest probe run of every
endpoint.

Groups. Every test case belongs to one group i ∈ {functional, performance,
security}: the first group whose markers it carries, else whose path
patterns (fnmatch on the file, then on the test id) match, else functional.
Defaults (editable, ``DEFAULT_GROUPS``):

    security:    markers security, fuzz, adversarial;  paths *security*, *fuzz*, *adversarial*, */test_sec_*
    performance: markers performance, perf, benchmark, load;  paths *perf*, *bench*, *load_test*

Per group, over the cases of the group that ran (skipped ones are left out):

    pᵢ = (passed + ½ · flaky failures) / (passed + failed + errors)
    cᵢ = coverage fraction of the run the cases come from (coverage.py's
         percent_covered / 100, or an imported Cobertura's); a run with no
         coverage measured counts with cᵢ = 1 and the report says so
    tᵢ = pᵢ · cᵢ   (cases of several runs: pooled, each weighted by its run's c)

Security group, in addition:

    fuzz  f = Π over latest fuzz runs of 1 / (1 + crashes + ½ · (timeouts + memory + nondeterministic))
    probe q = Π over latest probe runs of (1 − hit rate)   (hits / answered requests)
    t_security = (p_security · c if the group has test cases, else 1) · f · q

so an entry point that crashes once halves the group; a probe pack with a 25 %
hit rate takes a quarter off. The security group is assessed when it has test
cases, a fuzz run or a probe run.

Weights λ: functional 0.5, performance 0.2, security 0.3 (``DEFAULT_WEIGHTS``),
renormalised over the groups that are assessed:

    T(r) = 100 · Σ λᵢ tᵢ / Σ λᵢ   over assessed groups

No run of any kind: None ("not assessed"), never a made-up number.
"""

from __future__ import annotations

from fnmatch import fnmatch

GROUPS = ("functional", "performance", "security")
DEFAULT_WEIGHTS = {"functional": 0.5, "performance": 0.2, "security": 0.3}
DEFAULT_GROUPS = {
    "security": {"markers": ["security", "fuzz", "adversarial"],
                 "paths": ["*security*", "*fuzz*", "*adversarial*", "*/test_sec_*", "test_sec_*"]},
    "performance": {"markers": ["performance", "perf", "benchmark", "load"],
                    "paths": ["*perf*", "*bench*", "*load_test*"]},
}


def group_of(case: dict, groups: dict | None = None) -> str:
    groups = DEFAULT_GROUPS if groups is None else groups
    markers = set(case.get("markers") or [])
    for name, rule in groups.items():
        if markers & set(rule.get("markers", [])):
            return name
    for name, rule in groups.items():
        for pattern in rule.get("paths", []):
            if fnmatch(case.get("file") or "", pattern) or fnmatch(case.get("id") or "", pattern):
                return name
    return "functional"


def compute(test_runs=(), fuzz_runs=(), probe_runs=(), *, weights: dict | None = None,
            groups: dict | None = None) -> dict:
    """T(r) and its parts. ``test_runs``: dicts with "cases" and "coverage_percent" (or None)."""
    weights = DEFAULT_WEIGHTS if weights is None else weights
    acc = {g: {"passed": 0.0, "counted": 0, "weighted": 0.0, "cases": 0} for g in GROUPS}
    coverage_missing = False
    for run in test_runs:
        c = run.get("coverage_percent")
        if c is None:
            coverage_missing = True
            c_frac = 1.0
        else:
            c_frac = max(0.0, min(1.0, c / 100.0))
        for case in run.get("cases", []):
            if case["outcome"] == "skipped":
                continue
            g = group_of(case, groups)
            a = acc[g]
            a["cases"] += 1
            a["counted"] += 1
            ok = 1.0 if case["outcome"] == "passed" else (0.5 if case.get("flaky") else 0.0)
            a["passed"] += ok
            a["weighted"] += ok * c_frac
    parts = {}
    for g in GROUPS:
        a = acc[g]
        if a["counted"]:
            parts[g] = {"cases": a["cases"], "pass_rate": a["passed"] / a["counted"],
                        "t": a["weighted"] / a["counted"]}
    fuzz_factor = 1.0
    for f in fuzz_runs:
        fuzz_factor *= 1.0 / (1.0 + f.get("crashes", 0)
                               + 0.5 * (f.get("timeouts", 0) + f.get("memory", 0) + f.get("nondeterministic", 0)))
    probe_factor = 1.0
    for p in probe_runs:
        if p.get("hit_rate") is not None:
            probe_factor *= 1.0 - p["hit_rate"]
    if fuzz_runs or probe_runs:
        base = parts.get("security", {"cases": 0, "pass_rate": None, "t": 1.0})
        parts["security"] = {**base, "t": base["t"] * fuzz_factor * probe_factor,
                             "fuzz_factor": fuzz_factor, "probe_factor": probe_factor}
    if not parts:
        return {"score": None, "groups": {}, "weights": weights, "coverage_missing": coverage_missing}
    total_weight = sum(weights.get(g, 0.0) for g in parts)
    if total_weight <= 0:
        return {"score": None, "groups": parts, "weights": weights, "coverage_missing": coverage_missing}
    score = 100.0 * sum(weights.get(g, 0.0) * parts[g]["t"] for g in parts) / total_weight
    return {"score": score, "groups": parts, "weights": weights, "coverage_missing": coverage_missing}
