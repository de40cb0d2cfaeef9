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
    cᵢ = the group's OWN coverage fraction in the run the cases come from:
         coverage.py's percent_covered / 100 over the files that group's
         tests executed, counting the lines and branches its tests ran plus
         those run outside any test (imports, collection). Measured exactly
         in the same single pytest run: every test runs in the coverage.py
         context "wb-group:<group>" (switched by our driver when the group
         changes, so the overhead is one switch per group change, not per
         test), then one JSON report per group restricted to its files and
         to its context plus the no-test context.
         Fallbacks, each named in the report: a run without per-group data
         (an import, a target whose own config sets dynamic_context, a group
         whose tests executed no measured file) uses the run's overall
         coverage; a run with no coverage at all counts with cᵢ = 1.
    tᵢ = mean over the group's counted cases of (ok · c of its run)
         (one run: tᵢ = pᵢ · cᵢ; several runs: pooled, each case weighted
         by its run's cᵢ), where ok = 1 passed, ½ flaky, 0 failed or error

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

import os
from fnmatch import fnmatch

GROUPS = ("functional", "performance", "security")
DEFAULT_WEIGHTS = {"functional": 0.5, "performance": 0.2, "security": 0.3}
DEFAULT_GROUPS = {
    "security": {"markers": ["security", "fuzz", "adversarial"],
                 "paths": ["*security*", "*fuzz*", "*adversarial*", "*/test_sec_*", "test_sec_*"]},
    "performance": {"markers": ["performance", "perf", "benchmark", "load"],
                    "paths": ["*perf*", "*bench*", "*load_test*"]},
}


def _matches(name: str, pattern: str) -> bool:
    """``fnmatch(name, pattern)``, with no regular expression compiled for a pattern of text and
    ``*`` only (every default one): compiling the eight defaults cost the Overview's first paint
    ~0.5 ms. ``*`` matches any run of characters, so the pattern's pieces are found in turn."""
    if "?" in pattern or "[" in pattern or os.path.normcase("A/") != "A/":
        return fnmatch(name, pattern)  # other wildcards, or a system that folds case and slashes
    if "*" not in pattern:
        return name == pattern
    first, *middle, last = pattern.split("*")
    end = len(name) - len(last)
    if end < len(first) or not name.startswith(first) or not name.endswith(last):
        return False
    at = len(first)
    for piece in middle:
        at = name.find(piece, at, end)
        if at < 0:
            return False
        at += len(piece)
    return True


def group_of(case: dict, groups: dict | None = None) -> str:
    groups = DEFAULT_GROUPS if groups is None else groups
    markers = set(case.get("markers") or [])
    for name, rule in groups.items():
        if markers & set(rule.get("markers", [])):
            return name
    for name, rule in groups.items():
        for pattern in rule.get("paths", []):
            if _matches(case.get("file") or "", pattern) or _matches(case.get("id") or "", pattern):
                return name
    return "functional"


def _fraction(percent: float) -> float:
    return max(0.0, min(1.0, percent / 100.0))


def group_coverage_of(run: dict, group: str) -> tuple[float, str]:
    """(cᵢ, where it comes from: "group", "run" or "none") for ``group``'s cases in ``run``."""
    own = (run.get("group_coverage") or {}).get(group)
    if isinstance(own, dict):  # a runner's result: the whole coverage entry
        own = own["percent_covered"]
    if own is not None:
        return _fraction(own), "group"
    if run.get("coverage_percent") is not None:
        return _fraction(run["coverage_percent"]), "run"
    return 1.0, "none"


def compute(test_runs=(), fuzz_runs=(), probe_runs=(), *, weights: dict | None = None,
            groups: dict | None = None) -> dict:
    """T(r) and its parts. ``test_runs``: dicts with "cases", "coverage_percent" (or None) and
    optionally "group_coverage" ({group: percent, or the runner's entry with "percent_covered"})."""
    weights = DEFAULT_WEIGHTS if weights is None else weights
    acc = {g: {"passed": 0.0, "counted": 0, "weighted": 0.0, "cases": 0, "c_sum": 0.0, "sources": set()}
           for g in GROUPS}
    coverage_missing = False
    for run in test_runs:
        for case in run.get("cases", []):
            if case["outcome"] == "skipped":
                continue
            g = group_of(case, groups)
            c_frac, source = group_coverage_of(run, g)
            coverage_missing = coverage_missing or source == "none"
            a = acc[g]
            a["cases"] += 1
            a["counted"] += 1
            ok = 1.0 if case["outcome"] == "passed" else (0.5 if case.get("flaky") else 0.0)
            a["passed"] += ok
            a["weighted"] += ok * c_frac
            a["c_sum"] += c_frac
            a["sources"].add(source)
    parts = {}
    for g in GROUPS:
        a = acc[g]
        if a["counted"]:
            parts[g] = {"cases": a["cases"], "pass_rate": a["passed"] / a["counted"],
                        "coverage": a["c_sum"] / a["counted"], "coverage_source": sorted(a["sources"]),
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


TEST_JOBS = ("test", "import")


def gather(store) -> dict:
    """The latest run of every target, of each kind, with its stored details."""
    # imported here: _pytest_driver.py loads this file by path in the target interpreter, outside the package
    from . import store as tables

    latest = store.latest_runs_of(TEST_JOBS + ("fuzz", "probe"))  # one read: the Overview scores at every refresh
    test_runs = []
    for r in latest:
        row = tables.run_row(store, r["id"]) if r.job in TEST_JOBS else None
        if row is None:
            continue
        test_runs.append({"run": r, "row": row, "cases": tables.cases(store, r["id"]),
                          "coverage_percent": row["coverage_percent"],
                          "group_coverage": {g: c["percent"] for g, c in tables.group_coverage(store, r["id"]).items()}})
    fuzz_runs = [{"run": r, **(r.summary or {})} for r in latest if r.job == "fuzz"]
    probe_runs = [{"run": r, **(r.summary or {})} for r in latest if r.job == "probe"]
    return {"tests": test_runs, "fuzz": fuzz_runs, "probes": probe_runs}


def score(store) -> float | None:
    """T(r) over the latest runs in the project (the module docstring); None when not assessed."""
    data = gather(store)
    result = compute([t for t in data["tests"] if t["cases"] or t["coverage_percent"] is not None],
                     data["fuzz"], data["probes"])
    return None if result["score"] is None else round(result["score"], 1)
