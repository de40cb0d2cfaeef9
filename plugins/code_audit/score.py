"""Pillar score and report sections of the code audit.

Score (0-100, higher is better), over the latest code audit run:

    weight(f) = S[severity] * C[confidence]
        S = {HIGH: 10, MEDIUM: 4, LOW: 1},  C = {HIGH: 1.0, MEDIUM: 0.7, LOW: 0.4}
    risk      = sum of weight(f) over OPEN findings (not suppressed in source,
                not triaged false_positive / accepted_risk / fixed)
    density   = 1000 * risk / max(lines of Python audited, 1000)
    score     = round(100 / (1 + density / 10))

So a clean tree scores 100; a density of 10 (one HIGH/HIGH finding per
thousand lines) scores 50; 30 scores 25. Secrets and model-file findings
count like code findings. Trees under 1000 lines are normalised as 1000
lines so that a tiny tree is not dominated by a single finding.
"""

from __future__ import annotations

from collections import Counter

SEVERITY_WEIGHT = {"HIGH": 10.0, "MEDIUM": 4.0, "LOW": 1.0}
CONFIDENCE_WEIGHT = {"HIGH": 1.0, "MEDIUM": 0.7, "LOW": 0.4}
HALF_SCORE_DENSITY = 10.0
CLOSED = {"false_positive", "accepted_risk", "fixed"}


def is_open(f: dict) -> bool:
    return f.get("source_status", "open") != "suppressed" and (f.get("triage_status") or "open") not in CLOSED


def weighted_risk(findings: list[dict]) -> float:
    return sum(SEVERITY_WEIGHT[f["severity"]] * CONFIDENCE_WEIGHT[f["confidence"]]
               for f in findings if is_open(f))


def score_from(findings: list[dict], lines: int) -> int:
    density = 1000.0 * weighted_risk(findings) / max(lines, 1000)
    return round(100.0 / (1.0 + density / HALF_SCORE_DENSITY))


def score(project) -> int | None:
    """Score of the latest code audit run, or None before the first one."""
    from . import store

    latest = store.latest_run(project.conn)
    if latest is None:
        return None
    return score_from(project.findings(run_id=latest["run_id"], plugin="code_audit"), latest["lines"])


def report_sections(project, options: dict | None = None) -> list:
    """Report data: totals, rules, top findings, skipped files, changes."""
    from workbench.core.report import KeyValues, Paragraph, Section

    from . import engine, store
    from .sarif import status_of

    options = options or {}
    latest = store.latest_run(project.conn)
    if latest is None:
        return [Section("Code audit", [Paragraph("No code audit has been run in this project.")], "code_audit")]
    run_id = latest["run_id"]
    findings = project.findings(run_id=run_id, plugin="code_audit")
    changes = engine.diff_runs(project, run_id)
    blocks = [
        KeyValues(_totals(latest, findings, changes)),
        _severity_chart(findings),
        _rules_table(findings),
        _top_table(findings, int(options.get("top", 25)), status_of),
        _skipped_table(store.skipped_files(project.conn, run_id)),
        _changes_table(project, changes),
    ]
    return [Section("Code audit", blocks, "code_audit")]


def _totals(latest: dict, findings: list[dict], changes: dict) -> list[tuple[str, str]]:
    open_f = [f for f in findings if is_open(f)]
    sev = Counter(f["severity"] for f in open_f)
    return [
        ("Target", latest["target"]),
        ("Python files / lines", f"{latest['files']} / {latest['lines']}"),
        ("Score", f"{score_from(findings, latest['lines'])} / 100"),
        ("Open findings", f"{len(open_f)} (HIGH {sev['HIGH']}, MEDIUM {sev['MEDIUM']}, LOW {sev['LOW']})"),
        ("Suppressed in source", str(sum(1 for f in findings if f["source_status"] == "suppressed"))),
        ("Triaged (false positive / accepted / fixed)",
         str(sum(1 for f in findings if f.get("triage_status") in CLOSED))),
        ("Since previous run", f"{len(changes['new'])} new, {len(changes['unchanged'])} unchanged, "
                               f"{len(changes['fixed'])} fixed"),
    ]


def _rules_table(findings: list[dict]):
    from workbench.core.report import Table

    by_rule: dict[str, Counter] = {}
    titles = {}
    for f in findings:
        by_rule.setdefault(f["rule"], Counter())["open" if is_open(f) else "closed"] += 1
        titles[f["rule"]] = f["title"]
    rows = [[rule, titles[rule], c["open"], c["closed"]]
            for rule, c in sorted(by_rule.items(), key=lambda kv: (-kv[1]["open"], kv[0]))]
    return Table(["Rule", "Title", "Open", "Suppressed/triaged"], rows, "Findings by rule",
                 widths=[28, 50, 8, 14])


def _top_table(findings: list[dict], top: int, status_of):
    from workbench.core.report import Table

    order = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
    ranked = sorted(findings, key=lambda f: (not is_open(f), order[f["severity"]], order[f["confidence"]],
                                             f["path"] or "", f["line"] or 0))
    rows = [[f["severity"], f["confidence"], f["rule"], _where(f),
             _clip(f["message"], 160), status_of(f)] for f in ranked[:top]]
    return Table(["Severity", "Confidence", "Rule", "Where", "Message", "Status"], rows,
                 f"Top {min(top, len(findings))} findings", widths=[11, 12, 15, 19, 33, 10])


def _severity_chart(findings: list[dict]):
    from collections import Counter

    from workbench.core.report import severity_chart

    return severity_chart("Open findings by severity", Counter(f["severity"] for f in findings if is_open(f)))


def _where(f: dict) -> str:
    return f"{f['path']}:{f['line']}" if f.get("line") else (f["path"] or "")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _skipped_table(skipped: list[dict]):
    from workbench.core.report import Paragraph, Table

    if not skipped:
        return Paragraph("Every file was audited.")
    return Table(["File", "Scanner", "Reason"], [[s["path"], s["scanner"], s["reason"]] for s in skipped],
                 "Files that could not be audited")


def _changes_table(project, changes: dict):
    from workbench.core.report import Paragraph, Table

    if changes.get("previous_run_id") is None:
        return Paragraph("First audit of this target: no previous run to compare with.")
    new = set(changes["new"])
    rows = [[f["severity"], f["rule"], _where(f), "new"]
            for f in project.findings(run_id=changes.get("current_run_id") or 0) if f["fingerprint"] in new]
    fixed = set(changes["fixed"])
    rows += [[f["severity"], f["rule"], _where(f), "fixed"]
             for f in project.findings(run_id=changes["previous_run_id"]) if f["fingerprint"] in fixed]
    return Table(["Severity", "Rule", "Where", "Change"], rows,
                 f"Since the previous run: {len(changes['new'])} new, {len(changes['fixed'])} fixed")
