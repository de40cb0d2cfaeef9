"""The code audit's report sections: totals per target, rules, top findings, skipped files, changes
(the score and its formula are score.py)."""

from __future__ import annotations

from collections import Counter

from workbench.api import is_open

from .score import CLOSED, _lines, score_from


def report_sections(store, options: dict | None = None) -> list:
    """Report data: totals per target, rules, top findings, skipped files, changes."""
    from workbench.api import KeyValues, Paragraph, Section, Table

    from . import engine
    from . import store as tables
    from .sarif import status_of

    options = options or {}
    runs = store.latest_runs("audit")
    if not runs:
        return [Section("Code audit", [Paragraph("No code audit has been run in this project.")], "code_audit"),
                *_dependencies(store)]
    findings = store.findings(latest=True)
    blocks: list = []
    if len(runs) > 1:
        rows = []
        for run in runs:
            of_run = [f for f in findings if f.run_id == run.id]
            sev = Counter(f.severity for f in of_run if f.is_open)
            rows.append([run.target, _lines(run), score_from(of_run, _lines(run)), sev["HIGH"], sev["MEDIUM"],
                         sev["LOW"]])
        blocks.append(Table(["Target", "Lines", "Score", "High", "Medium", "Low"], rows,
                            f"{len(runs)} audited targets (the latest run of each)"))
    per_run = []
    for run in runs:
        of_run = [f for f in findings if f.run_id == run.id]
        changes = engine.diff_runs(store, run.id)
        blocks.append(KeyValues(_totals(run, of_run, changes)))
        per_run += [_skipped_table(tables.skipped_files(store, run.id)), _changes_table(store, changes)]
    blocks += [
        _severity_chart(findings),
        _rules_table(findings),
        _top_table(findings, int(options.get("top", 25)), status_of),
        *per_run,
    ]
    return [Section("Code audit", blocks, "code_audit"), *_dependencies(store)]


def _dependencies(store) -> list:
    """The dependency audit's section (deps/report.py), after the code audit's."""
    from .deps.report import sections

    return sections(store)


def _totals(run: dict, findings: list[dict], changes: dict) -> list[tuple[str, str]]:
    open_f = [f for f in findings if is_open(f)]
    sev = Counter(f["severity"] for f in open_f)
    summary = run.get("summary") or {}
    return [
        ("Target", run["target"]),
        ("Python files / lines", f"{summary.get('files', 0)} / {_lines(run)}"),
        ("Score", f"{score_from(findings, _lines(run))} / 100"),
        ("Open findings", f"{len(open_f)} (HIGH {sev['HIGH']}, MEDIUM {sev['MEDIUM']}, LOW {sev['LOW']})"),
        ("Suppressed in source", str(sum(1 for f in findings if f["source_status"] == "suppressed"))),
        ("Triaged (false positive / accepted / fixed)",
         str(sum(1 for f in findings if f.get("triage_status") in CLOSED))),
        ("Since previous run", f"{len(changes['new'])} new, {len(changes['unchanged'])} unchanged, "
                               f"{len(changes['fixed'])} fixed, {len(changes['not_checked'])} not checked "
                               "in this run (scanner off, or file skipped or gone)"),
    ]


def _rules_table(findings: list[dict]):
    from workbench.api import Table

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
    from workbench.api import Table

    order = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
    ranked = sorted(findings, key=lambda f: (not is_open(f), order[f["severity"]], order[f["confidence"]],
                                             f["path"] or "", f["line"] or 0))
    rows = [[f["severity"], f["confidence"], f["rule"], _where(f),
             f["message"], status_of(f)] for f in ranked[:top]]  # whole: a reviewer reads the remedy
    return Table(["Severity", "Confidence", "Rule", "Where", "Message", "Status"], rows,
                 f"Top {min(top, len(findings))} findings", widths=[11, 12, 15, 19, 33, 10])


def _severity_chart(findings: list[dict]):
    from collections import Counter

    from workbench.api import severity_chart

    return severity_chart("Open findings by severity", Counter(f["severity"] for f in findings if is_open(f)))


def _where(f: dict) -> str:
    return f"{f['path']}:{f['line']}" if f.get("line") else (f["path"] or "")


def _skipped_table(skipped: list[dict]):
    from workbench.api import Paragraph, Table

    if not skipped:
        return Paragraph("Every file was audited.")
    return Table(["File", "Scanner", "Reason"], [[s["path"], s["scanner"], s["reason"]] for s in skipped],
                 "Files that could not be audited")


def _changes_table(store, changes: dict):
    from workbench.api import Paragraph, Table

    if changes.get("previous_run_id") is None:
        return Paragraph("First audit of this target: no previous run to compare with.")
    new = set(changes["new"])
    rows = [[f.severity, f.rule, _where(f), "new"]
            for f in store.findings(run_id=changes.get("current_run_id") or 0) if f.fingerprint in new]
    fixed, unchecked = set(changes["fixed"]), set(changes["not_checked"])
    rows += [[f.severity, f.rule, _where(f), "fixed" if f.fingerprint in fixed else "not checked"]
             for f in store.findings(run_id=changes["previous_run_id"]) if f.fingerprint in fixed | unchecked]
    return Table(["Severity", "Rule", "Where", "Change"], rows,
                 f"Since the previous run: {len(changes['new'])} new, {len(changes['fixed'])} fixed, "
                 f"{len(changes['not_checked'])} not checked in this run")
