"""Exports of code audit findings: SARIF 2.1.0, JSON and CSV.

SARIF details:
- ``partialFingerprints["workbench/v1"]`` is our edit-proof fingerprint;
- ``suppressions``: ``inSource`` for ``# nosec`` / allowlist pragmas,
  ``external`` for findings triaged false_positive, accepted_risk or fixed
  (with the justification);
- rules carry ``properties.tags`` including ``CWE-<n>``, and a
  ``relationships`` entry into the CWE taxonomy of the run.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from workbench.api import atomic_write

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"HIGH": "error", "MEDIUM": "warning", "LOW": "note"}
_RANK = {"HIGH": 90.0, "MEDIUM": 60.0, "LOW": 30.0}
_EXTERNAL = {"false_positive", "accepted_risk", "fixed"}
CSV_COLUMNS = ["rule", "severity", "confidence", "status", "path", "line", "end_line",
               "cwe", "title", "message", "fingerprint"]


def status_of(f: dict) -> str:
    """One word for a finding: suppressed (in source), a triage status, or open."""
    if f.get("source_status") == "suppressed":
        return "suppressed"
    return f.get("triage_status") or "open"


def _rule_help(rule: str) -> str:
    from .rules.catalog import RULES_BY_ID

    info = RULES_BY_ID.get(rule)
    return info.help if info else ""


def _rules(findings: list[dict]) -> tuple[list[dict], dict[str, int]]:
    rules, index = [], {}
    for f in findings:
        if f["rule"] in index:
            continue
        index[f["rule"]] = len(rules)
        rule = {
            "id": f["rule"],
            "name": (f.get("evidence") or {}).get("test_name") or f["rule"],
            "shortDescription": {"text": f["title"]},
            "defaultConfiguration": {"level": _LEVEL[f["severity"]]},
            "properties": {"tags": ["security"] + ([f"CWE-{f['cwe']}"] if f.get("cwe") else [])},
        }
        help_text = _rule_help(f["rule"])
        if help_text:
            rule["help"] = {"text": help_text}
        if f.get("cwe"):
            rule["relationships"] = [{
                "target": {"id": str(f["cwe"]), "toolComponent": {"name": "CWE"}},
                "kinds": ["relevant"],
            }]
        rules.append(rule)
    return rules, index


def _taxonomy(findings: list[dict]) -> dict:
    cwes = sorted({f["cwe"] for f in findings if f.get("cwe")})
    return {
        "name": "CWE",
        "organization": "MITRE",
        "informationUri": "https://cwe.mitre.org/",
        "taxa": [{"id": str(c), "helpUri": f"https://cwe.mitre.org/data/definitions/{c}.html"} for c in cwes],
    }


def _result(f: dict, rule_index: dict[str, int]) -> dict:
    location = {"physicalLocation": {"artifactLocation": {"uri": _uri(f["path"] or ""), "uriBaseId": "SRCROOT"}}}
    if f.get("line"):
        location["physicalLocation"]["region"] = {
            "startLine": f["line"], "endLine": max(f.get("end_line") or f["line"], f["line"])}
        if f.get("col") is not None:
            # bandit's columns are 0-based; SARIF's start at 1
            location["physicalLocation"]["region"]["startColumn"] = int(f["col"]) + 1
    res = {
        "ruleId": f["rule"],
        "ruleIndex": rule_index[f["rule"]],
        "level": _LEVEL[f["severity"]],
        "message": {"text": f["message"]},
        "locations": [location],
        "partialFingerprints": {"workbench/v1": f["fingerprint"]},
        "rank": _RANK[f["severity"]],
        "properties": {"confidence": f["confidence"], "status": status_of(f)},
    }
    suppressions = []
    if f.get("source_status") == "suppressed":
        suppressions.append({"kind": "inSource", "status": "accepted"})
    if f.get("triage_status") in _EXTERNAL:
        suppressions.append({"kind": "external", "status": "accepted",
                             "justification": f"{f['triage_status']}: {f.get('triage_justification') or ''}".strip()})
    if suppressions:
        res["suppressions"] = suppressions
    return res


def to_sarif(findings: list[dict], *, tool_version: str = "", target_uri: str | None = None) -> dict:
    """SARIF 2.1.0 log for findings as returned by ``Project.findings``."""
    rules, index = _rules(findings)
    run = {
        "tool": {"driver": {
            "name": "AI Security Workbench code audit",
            "version": tool_version or "0",
            "informationUri": "https://github.com/PyCQA/bandit",
            "rules": rules,
            "supportedTaxonomies": [{"name": "CWE"}],
        }},
        "taxonomies": [_taxonomy(findings)],
        "results": [_result(f, index) for f in findings],
        "columnKind": "unicodeCodePoints",
    }
    if target_uri:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": target_uri if target_uri.endswith("/") else target_uri + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _run_findings(store, run_id: int) -> tuple[list[dict], str | None]:
    findings = store.findings(run_id=run_id)
    run = store.run(run_id)
    target = run["target"] if run else None
    return findings, (Path(target).as_uri() if target and os.path.isabs(target) else None)


def write_sarif(store, run_id: int, path: str) -> None:
    """SARIF 2.1.0 of one run's findings, triage included."""
    findings, target_uri = _run_findings(store, run_id)
    atomic_write(path, json.dumps(to_sarif(findings, tool_version=tool_version(), target_uri=target_uri), indent=2))


def write_json(store, run_id: int, path: str) -> None:
    findings, _ = _run_findings(store, run_id)
    atomic_write(path, to_json(findings))


def write_csv(store, run_id: int, path: str) -> None:
    findings, _ = _run_findings(store, run_id)
    atomic_write(path, to_csv(findings))


def to_json(findings: list[dict]) -> str:
    keys = CSV_COLUMNS + ["column", "source_status", "triage_status", "evidence", "run_id"]
    rows = [{k: f.get(k if k != "column" else "col") if k != "status" else status_of(f) for k in keys}
            for f in findings]
    return json.dumps({"findings": rows}, indent=2, default=str)


def _uri(path: str) -> str:
    """A relative URI reference: every character outside RFC 3986's unreserved set and '/' is
    percent-encoded (tabs, quotes, '<', '|', spaces, non-ASCII, undecodable bytes)."""
    from urllib.parse import quote

    raw = path.encode("utf-8", "surrogateescape")
    return quote(raw, safe="/")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """OWASP's CSV-injection defence: a cell a spreadsheet would read as a formula gets a leading
    quote, so it is shown as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(findings: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for f in findings:
        writer.writerow([csv_safe(status_of(f) if c == "status" else f.get(c)) for c in CSV_COLUMNS])
    return buf.getvalue()


def tool_version() -> str:
    import bandit

    from .rules.catalog import PACK_VERSION

    return f"bandit {bandit.__version__}; ml-pack {PACK_VERSION}"
