"""Comparing runs of the same target: regressions, fixes, flaky tests.

A test *fails* when its outcome is failed or error. Skipped tests are neither
passing nor failing for the comparison.
"""

from __future__ import annotations

FAILING = {"failed", "error"}


def _outcomes(cases) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in cases}


def compare_runs(previous_cases, current_cases) -> dict:
    """What changed from ``previous_cases`` to ``current_cases`` (lists of case dicts).

    Returns sorted id lists: new_failures (passed or new before, failing now;
    a test that is new and fails counts here too), fixed (failing before,
    passing now), still_failing, new_tests, removed_tests; ``previous`` is
    False when there was no previous run (then only new_failures is filled,
    with nothing, and everything else is empty).
    """
    if previous_cases is None:
        return {"previous": False, "new_failures": [], "fixed": [], "still_failing": [],
                "new_tests": [], "removed_tests": []}
    before = _outcomes(previous_cases)
    now = _outcomes(current_cases)
    return {
        "previous": True,
        "new_failures": sorted(i for i, o in now.items() if o in FAILING and before.get(i) not in FAILING),
        "fixed": sorted(i for i, o in now.items() if o == "passed" and before.get(i) in FAILING),
        "still_failing": sorted(i for i, o in now.items() if o in FAILING and before.get(i) in FAILING),
        "new_tests": sorted(set(now) - set(before)),
        "removed_tests": sorted(set(before) - set(now)),
    }


def flaky_history(runs) -> dict[str, dict]:
    """Flip rates per test over a history of runs.

    ``runs``: oldest first, each ``{"code_hash": str, "cases": [case dicts with
    "reruns"]}``. Within one code hash, a test's observed outcomes (the run's
    outcome, then its reruns) are a sequence; a flip is a change between
    passed and failing from one observation to the next. A test with at least
    one flip on the same code is flaky. Returns {id: {"observations", "flips",
    "flip_rate", "flaky"}} for every test seen failing at least once.
    """
    seqs: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        for c in run["cases"]:
            observed = [c["outcome"], *c.get("reruns", [])]
            seqs.setdefault((run.get("code_hash") or "", c["id"]), []).extend(
                o for o in observed if o == "passed" or o in FAILING)
    out: dict[str, dict] = {}
    for (_, test_id), seq in seqs.items():
        if not any(o in FAILING for o in seq):
            continue
        flips = sum(1 for a, b in zip(seq, seq[1:]) if (a in FAILING) != (b in FAILING))
        entry = out.setdefault(test_id, {"observations": 0, "flips": 0})
        entry["observations"] += len(seq)
        entry["flips"] += flips
    for entry in out.values():
        entry["flip_rate"] = entry["flips"] / max(entry["observations"] - 1, 1)
        entry["flaky"] = entry["flips"] > 0
    return out
