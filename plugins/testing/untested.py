"""Cross-pillar: code-audit findings on lines that no test executes ("untested").

``uncovered_lines_of_run(store, run_id)`` and ``uncovered_lines_of_target(store,
target)`` give {absolute file path: uncovered lines} from one test run (the
latest finished test run of the target for the latter); ``untested_findings``
keeps the findings that sit on those lines.

What "uncovered" means: lines inside coverage.py's missing-statement ranges
of the run (a range runs from one missing statement to the next, across
blank and comment lines, stopping at an executed statement). Files the run
did not measure are absent: unknown, never called untested. Give the target
its own coverage configuration (``source = ...``) to have never-imported files
measured, and so reported whole.

Other plugins' tables are never written; the code audit's findings are read
from the core ``findings`` table (read-only), through this plugin's store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from . import store as tables


def _absolute(path: str, base: str | None) -> str:
    return os.path.normpath(path if os.path.isabs(path) or not base else os.path.join(base, path))


def uncovered_lines_of_run(store, run_id: int) -> dict[str, set[int]]:
    row = tables.run_row(store, run_id)
    if row is None:
        return {}
    base = row["target"] if os.path.isdir(row["target"]) else os.path.dirname(row["target"])
    out: dict[str, set[int]] = {}
    for f in tables.coverage_files(store, run_id):
        lines = out.setdefault(_absolute(f["path"], base), set())
        for first, last in f["missing_ranges"]:
            lines.update(range(first, last + 1))
    return out


def latest_test_run(store, target: str) -> dict | None:
    """The latest finished test run (pytest or import) of ``target``."""
    target = os.path.normpath(os.path.abspath(target))
    runs = [r for r in store.runs() if r.job in ("test", "import") and r.target
            and os.path.normpath(r.target) == target]
    return runs[-1] if runs else None


def uncovered_lines_of_target(store, target: str) -> dict[str, set[int]] | None:
    """{absolute path: uncovered lines} from the latest test run of ``target``; None when it has none."""
    run = latest_test_run(store, target)
    return None if run is None else uncovered_lines_of_run(store, run["id"])


def _run_targets(store, run_ids) -> dict[int, str]:
    ids = sorted({i for i in run_ids if i is not None})
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r["id"]: r["target"] for r in store.query(f"SELECT id, target FROM runs WHERE id IN ({marks})", ids)}


def untested_findings(store, findings, uncovered: dict[str, set[int]] | None = None) -> list[dict]:
    """The findings (dicts as stored, or ``Finding`` objects) on lines no test executed.

    ``uncovered`` defaults to the latest test run of every target. A relative
    finding path is resolved against its run's target (dicts with ``run_id``),
    else against each tested target. Each returned dict has ``abs_path``.
    """
    if uncovered is None:
        uncovered = {}
        for run in store.latest_runs("test") + store.latest_runs("import"):
            for path, lines in uncovered_lines_of_run(store, run["id"]).items():
                uncovered.setdefault(path, set()).update(lines)
    if not uncovered:
        return []
    # Stored findings (records that read as mappings) or Finding objects made in this process.
    rows = [dict(f) if isinstance(f, Mapping) else {**vars(f)} for f in findings]
    bases = _run_targets(store, [f.get("run_id") for f in rows])
    test_targets = [os.path.normpath(r.target) for r in store.latest_runs("test")]
    out = []
    for f in rows:
        if not f.get("path") or not f.get("line"):
            continue
        base = bases.get(f.get("run_id"))
        if os.path.isabs(f["path"]):
            candidates = [os.path.normpath(f["path"])]
        elif base:
            candidates = [_absolute(f["path"], base if os.path.isdir(base) else os.path.dirname(base))]
        else:
            candidates = [_absolute(f["path"], t) for t in test_targets]
        for path in candidates:
            if f["line"] in uncovered.get(path, ()):
                out.append({**f, "abs_path": path})
                break
    return out


def code_audit_findings_for(store, target: str) -> list[dict]:
    """Findings of the latest finished code-audit run whose target overlaps ``target`` (read-only)."""
    target = os.path.normpath(os.path.abspath(target))
    out = []
    for run in store.query("SELECT id, target FROM runs WHERE plugin='code_audit' AND status='done' "
                           "AND id IN (SELECT MAX(id) FROM runs WHERE plugin='code_audit' AND status='done' "
                           "GROUP BY target)"):
        audited = os.path.normpath(run["target"] or "")
        if not audited or os.path.commonpath([audited, target]) not in (audited, target):
            continue
        out += store.query(
            "SELECT f.id, f.run_id, f.rule, f.severity, f.confidence, f.title, f.message, f.path, f.line, f.cwe, "
            "f.fingerprint, f.source_status, COALESCE(t.status, 'open') AS triage FROM findings f "
            "LEFT JOIN triage t USING (fingerprint) WHERE f.plugin='code_audit' AND f.run_id=? "
            "ORDER BY f.path, f.line", (run["id"],))
    return out


def untested_for_target(store, target: str) -> dict:
    """The code-audit findings of ``target`` on lines its latest test run did not execute."""
    from workbench.api import SEVERITY_RANK

    uncovered = uncovered_lines_of_target(store, target)
    findings = code_audit_findings_for(store, target)
    if uncovered is None:
        return {"tested": False, "audited": len(findings), "findings": []}
    untested = untested_findings(store, findings, uncovered)
    untested.sort(key=lambda f: (-SEVERITY_RANK.get(f["severity"], 0), f["abs_path"], f["line"]))
    return {"tested": True, "audited": len(findings), "findings": untested}
