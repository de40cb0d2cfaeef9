"""The report's "Dependencies and model provenance" section: the latest ``deps`` run of every target."""

from __future__ import annotations

from collections import Counter


def sections(store) -> list:
    from workbench.api import KeyValues, Paragraph, Section, Table, is_open

    from ..sarif import status_of
    from .provenance import RULE_CHANGED, RULE_UNPINNED

    runs = store.latest_runs("deps")
    if not runs:
        return []
    blocks: list = []
    for run in runs:
        s = run.summary or {}
        findings = store.findings(run_id=run.id)
        deps = [f for f in findings if f.evidence.get("scanner") == "osv"]
        prov = [f for f in findings if f.rule in (RULE_CHANGED, RULE_UNPINNED)]
        sev = Counter(f.severity for f in deps if f.is_open)
        blocks.append(KeyValues([
            ("Target", run["target"] or ""),
            ("OSV snapshot", s.get("snapshot", "")),
            ("Packages checked", f"{s.get('packages', 0)} from {s.get('manifests', 0)} files"),
            ("Vulnerable packages", f"{s.get('vulnerable_packages', 0)} ({s.get('advisories', 0)} advisories)"),
            ("Open dependency findings", f"{sum(sev.values())} (HIGH {sev['HIGH']}, MEDIUM {sev['MEDIUM']}, "
                                         f"LOW {sev['LOW']})"),
            ("Model files / hub references", f"{s.get('model_files', 0)} / {s.get('model_references', 0)} "
                                             f"({s.get('unpinned_references', 0)} not pinned to a commit)"),
        ]))
        fixes = s.get("fixes") or {}
        if fixes:
            per_pkg: dict[str, set] = {}
            for f in deps:
                ev = f.get("evidence") or {}
                per_pkg.setdefault(ev.get("package", "?"), set()).add(f["rule"])
            rows = [[pkg, len(ids), ("≥ " + fixes[k]) if (k := _key(pkg)) in fixes and fixes[k] else "none known"]
                    for pkg, ids in sorted(per_pkg.items())]
            blocks.append(Table(["Package", "Advisories", "Raise to"], rows, "Vulnerable packages and their fix",
                                widths=[40, 20, 40]))
        order = {"HIGH": 0, "MEDIUM": 1, "LOW": 2}
        ranked = sorted(deps, key=lambda f: (not is_open(f), order[f["severity"]], f["path"] or "", f["line"] or 0))
        rows = []
        for f in ranked:
            ev = f.get("evidence") or {}
            cvss = ev.get("cvss") or {}
            rows.append([f["rule"], ", ".join(ev.get("aliases") or []), f["severity"],
                         f"{cvss['score']:.1f}" if cvss else "", f"{ev.get('package')} "
                         + (ev.get("version") or ev.get("spec") or "(any)")
                         + (" (may resolve)" if ev.get("may_resolve") else ""),
                         f"{f['path']}:{f['line']}" if f.get("line") else f["path"], ev.get("first_fixed") or "",
                         status_of(f)])
        if rows:
            blocks.append(Table(["Advisory", "Aliases", "Severity", "CVSS", "Package", "Where", "First fixed",
                                 "Status"], rows, f"{len(rows)} dependency findings",
                                widths=[15, 16, 9, 6, 16, 20, 9, 9]))
        else:
            blocks.append(Paragraph("No dependency is affected by an advisory of the snapshot."))
        if prov:
            blocks.append(Table(["Rule", "Where", "Message", "Status"],
                                [[f["rule"], f"{f['path']}:{f['line']}" if f.get("line") else f["path"], f["message"],
                                  status_of(f)] for f in prov], "Model provenance", widths=[8, 22, 60, 10]))
        models = s.get("models") or {}
        if models:
            blocks.append(Table(["Model file", "SHA-256"], [[p, h] for p, h in sorted(models.items())],
                                f"{len(models)} model files", widths=[40, 60]))
    return [Section("Dependencies and model provenance", blocks, "code_audit")]


def _key(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))
