"""Dependencies against the snapshot: which advisory affects which declared or pinned package, and the fix.

A pinned package (``==X``, a lock file, an installed distribution) is affected when its version is.
An unpinned requirement (``>=2.0``, ``^1.4``, no version) is checked against every version it
admits: when one of them is affected it "may resolve to a vulnerable version", with the part of
the affected range it admits as the witness. Which versions exist is only known from the
snapshot's records, so the witness is a range or a version the records name.

The fix of a package is one version X for all its advisories that matched: the smallest
version some advisory of the package names as fixed such that no matched advisory affects
X or any later version, and no advisory of the package at all affects X itself. "raise to ≥ X".
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEPENDENCY_CWE = 1395  # Dependency on Vulnerable Third-Party Component
_DB_SEVERITY = {"CRITICAL": "HIGH", "HIGH": "HIGH", "MODERATE": "MEDIUM", "MEDIUM": "MEDIUM", "LOW": "LOW"}


@dataclass
class Match:
    dep: object  # manifests.Dep
    advisory: dict
    affected: object  # versions.Affected
    pinned: bool  # the declared version itself is affected (else: may resolve to one)
    witness: str  # the affected version, or the affected versions the requirement admits
    first_fixed: str | None
    cvss: dict | None = None  # {"type", "vector", "score"}


@dataclass
class CheckResult:
    matches: list = field(default_factory=list)
    packages: int = 0  # distinct packages checked
    unchecked: list = field(default_factory=list)  # (dep, why)
    fixes: dict = field(default_factory=dict)  # normalised name -> fix version text or None
    deps: list = field(default_factory=list)  # every dependency looked at


def cvss_of(severity: list) -> dict | None:
    """The newest CVSS vector of an advisory with its base score, computed with the ``cvss`` library."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    order = {"CVSS_V4": 0, "CVSS_V3": 1, "CVSS_V2": 2}
    for entry in sorted((s for s in severity or [] if s.get("type") in order), key=lambda s: order[s["type"]]):
        vector = str(entry.get("score") or "")
        try:
            if entry["type"] == "CVSS_V4":
                score = float(CVSS4(vector).base_score)
            elif entry["type"] == "CVSS_V3":
                score = float(CVSS3(vector).scores()[0])
            else:
                score = float(CVSS2(vector).scores()[0])
        except (CVSSError, ValueError, KeyError, IndexError, TypeError):
            continue  # a vector the library refuses: try the next one
        return {"type": entry["type"], "vector": vector, "score": score}
    return None


def severity_of(cvss: dict | None, advisory: dict) -> str:
    if cvss is not None:
        s = cvss["score"]
        return "HIGH" if s >= 7.0 else "MEDIUM" if s >= 4.0 else "LOW"
    return _DB_SEVERITY.get(str(advisory.get("db_severity") or "").upper(), "MEDIUM")


def check(deps: list, snapshot) -> CheckResult:
    from packaging.specifiers import InvalidSpecifier

    from .osvdb import normalise_name
    from .versions import overlap, parse_version, spec_intervals

    out = CheckResult(deps=list(deps))
    names = set()
    for dep in deps:
        if dep.unchecked:
            out.unchecked.append((dep, dep.unchecked))
            continue
        key = normalise_name(dep.ecosystem, dep.name)
        names.add((dep.ecosystem, key))
        advisories = snapshot.advisories(dep.ecosystem, dep.name)
        if not advisories:
            continue
        version = dep.version
        v = parse_version(version) if version else None
        try:
            admitted = None if v is not None else spec_intervals(dep.spec)
        except (InvalidSpecifier, ValueError) as exc:
            out.unchecked.append((dep, f"specifier {dep.spec!r} not understood ({exc})"))
            continue
        for adv, aff in advisories:
            if v is not None:
                if not aff.affects(v, version):
                    continue
                first = aff.first_fix_after(v)
                out.matches.append(Match(dep, adv, aff, True, str(v), str(first) if first else None,
                                         cvss_of(adv["severity"])))
            else:
                hit = overlap(admitted, aff)
                if hit is None:
                    continue
                first = aff.first_fix_after(hit.lo) if hit.lo is not None else (aff.fixed[0] if aff.fixed else None)
                out.matches.append(Match(dep, adv, aff, False, hit.text(), str(first) if first else None,
                                         cvss_of(adv["severity"])))
    out.packages = len(names)
    by_package: dict[tuple, list] = {}
    for m in out.matches:
        by_package.setdefault((m.dep.ecosystem, normalise_name(m.dep.ecosystem, m.dep.name)), []).append(m)
    for (eco, key), matches in by_package.items():
        out.fixes[key] = fix_version(snapshot.advisories(eco, key), [m.affected for m in matches])
    return out


def fix_version(all_advisories: list, matched: list) -> str | None:
    """The smallest fixed version X with no matched advisory at or above it and no advisory at X."""
    from .versions import Interval

    candidates = sorted({f for _, aff in all_advisories for f in aff.fixed})
    for x in candidates:
        above = Interval(x, True, None, True)
        if any(any(not i.intersect(above).empty() for i in aff.intervals) or any(p >= x for p in aff.parsed_versions)
               for aff in matched):
            continue
        if any(aff.affects(x, str(x)) for _, aff in all_advisories):
            continue
        return str(x)
    return None


# ----------------------------------------------------------------- findings

def _cwe(advisory: dict) -> int:
    for c in advisory.get("cwes") or []:
        digits = str(c).upper().removeprefix("CWE-")
        if digits.isdigit():
            return int(digits)
    return DEPENDENCY_CWE


def _display_id(advisory: dict) -> str:
    """The id people search for: a CVE alias when there is one, else the OSV id."""
    cves = [a for a in advisory.get("aliases") or [] if str(a).startswith("CVE-")]
    return cves[0] if cves else advisory["id"]


def fix_text(name: str, fix: str | None) -> str:
    return f"raise {name} to ≥ {fix}" if fix else f"no fixed version of {name} in the snapshot: remove or replace it"


def to_findings(result: CheckResult, snapshot_label, lines_of=None) -> tuple[list, dict]:
    """Findings (one per advisory and place that declares the package) and their fingerprint code.

    *snapshot_label* cites the snapshot: one text, or {ecosystem: text} so that each finding
    cites the export its advisory came from.

    *lines_of(file, line)* returns the declaring line's text (for the evidence), or None.
    A requirement that only may resolve to a vulnerable version, while a lock file of the scan
    pins the package to a version the advisory does not affect, is kept with LOW confidence.
    """
    from workbench.api import Finding

    from .osvdb import normalise_name

    findings, code = [], {}
    pins = _locked_versions(result)
    for m in result.matches:
        dep, adv = m.dep, m.advisory
        key = normalise_name(dep.ecosystem, dep.name)
        fix = result.fixes.get(key)
        aliases = [a for a in adv.get("aliases") or [] if a != adv["id"]]
        where = f"{dep.file}:{dep.line}" if dep.line else dep.file
        confidence = "HIGH" if m.pinned else "MEDIUM"
        lock_note = ""
        if not m.pinned:
            safe = [v for v in pins.get(key, []) if not m.affected.affects(v, str(v))]
            if safe and len(safe) == len(pins.get(key, [])):
                confidence = "LOW"
                lock_note = (f" A lock file (or the venv) of this scan pins {dep.name} {', '.join(map(str, safe))}, "
                             "which it does not affect.")
        what = (f"{dep.name} {m.witness}" if m.pinned
                else f"{dep.name}{(' ' + dep.spec) if dep.spec else ' (any version)'}")
        verb = "is affected by" if m.pinned else f"may resolve to a vulnerable version ({m.witness}) of"
        cvss = (f" CVSS {m.cvss['score']:.1f} ({m.cvss['vector']})." if m.cvss else "")
        summary = (adv.get("summary") or "").strip().rstrip(".")
        cite = snapshot_label.get(dep.ecosystem, "") if isinstance(snapshot_label, dict) else snapshot_label
        message = (f"{what} ({dep.kind}, {where}) {verb} {adv['id']}"
                   + (f" ({', '.join(aliases)})" if aliases else "") + (f": {summary}." if summary else ".")
                   + cvss + (f" First fixed in {m.first_fixed}." if m.first_fixed else " No fixed version known.")
                   + f" Fix: {fix_text(dep.name, fix)}." + lock_note + f" Source: {cite}.")
        title = f"{dep.name} {m.witness if m.pinned else dep.spec or '(any)'}: {_display_id(adv)}; " \
                f"fix: {'raise to ≥ ' + fix if fix else 'none known'}"
        evidence = {
            "scanner": "osv", "package": dep.name, "ecosystem": dep.ecosystem,
            "version": m.witness if m.pinned else None,
            "spec": dep.spec, "may_resolve": not m.pinned, "kind": dep.kind, "osv_id": adv["id"], "aliases": aliases,
            "summary": summary, "cvss": m.cvss, "first_fixed": m.first_fixed, "fix_version": fix,
            "fix": fix_text(dep.name, fix), "snapshot": cite, "modified": adv.get("modified"),
        }
        text = lines_of(dep.file, dep.line) if lines_of and dep.line else None
        if text:
            evidence["code"] = text[:500]
        f = Finding(plugin="code_audit", rule=adv["id"], severity=severity_of(m.cvss, adv), confidence=confidence,
                    title=title, message=message, path=dep.file, line=dep.line, end_line=dep.line, cwe=_cwe(adv),
                    evidence=evidence)
        findings.append(f)
        # The package, what pins it and the advisory: moving the line keeps the identity, raising the pin ends it.
        code[id(f)] = f"{key}|{dep.spec}|{adv['id']}"
    return findings, code


def _locked_versions(result: CheckResult) -> dict:
    """{package: [versions]} pinned by lock files or installed, among the matched and checked deps."""
    from .osvdb import normalise_name
    from .versions import parse_version

    out: dict[str, list] = {}
    for dep in result.deps:
        if dep.locked and dep.version:
            v = parse_version(dep.version)
            if v is not None:
                out.setdefault(normalise_name(dep.ecosystem, dep.name), []).append(v)
    return out
