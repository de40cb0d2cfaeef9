"""Findings shared by every plugin, and their edit-proof fingerprints."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

SEVERITIES = ("LOW", "MEDIUM", "HIGH")
CONFIDENCES = ("LOW", "MEDIUM", "HIGH")
TRIAGE_STATUSES = ("open", "false_positive", "accepted_risk", "fixed")
SOURCE_STATUSES = ("open", "suppressed")
#: Triage decisions that close a finding.
CLOSED_TRIAGE = frozenset({"false_positive", "accepted_risk", "fixed"})

# The one definition of an open finding: not suppressed in the source, and not
# closed by triage. OPEN_SQL is the same rule for a query over ``findings f``
# LEFT JOIN ``triage t`` USING (fingerprint).
OPEN_SQL = "f.source_status = 'open' AND COALESCE(t.status, 'open') = 'open'"


def finding_status(source_status: str | None, triage_status: str | None) -> str:
    """What a finding's status reads: 'suppressed' in the source, else its triage ('open' by default)."""
    return "suppressed" if source_status == "suppressed" else (triage_status or "open")


def is_open(finding: dict) -> bool:
    """Is this finding (a row of ``Project.findings``, with its triage joined in) open?"""
    return finding_status(finding.get("source_status"), finding.get("triage_status")) == "open"

_WS = re.compile(r"\s+")


class FindingError(ValueError):
    """A finding built wrong; the message names the plugin, the rule and the finding."""


_JSON_LEAVES = frozenset({str, int, bool, type(None)})  # float apart: NaN and infinities are no JSON


def evidence_problem(value, where: str = "evidence") -> str | None:
    """What in *value* a finding's evidence cannot hold (said in words), or None when it is fine:
    a dict with string keys whose values are JSON values (str, finite numbers, bool, None, lists, dicts)."""
    kind = type(value)
    # the common cases first: checked for every finding of a large audit
    if kind in _JSON_LEAVES or (kind is float and math.isfinite(value)):
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has a key {key!r} that is not a string"
            if type(item) not in _JSON_LEAVES:
                problem = evidence_problem(item, f"{where}[{key!r}]")
                if problem:
                    return problem
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if type(item) not in _JSON_LEAVES:
                problem = evidence_problem(item, f"{where}[{i}]")
                if problem:
                    return problem
        return None
    import numbers  # past the common cases: a number of another type (numpy's), or no JSON value

    if isinstance(value, numbers.Real):  # subclasses too: numpy's numbers register as Real
        if math.isfinite(value):
            return None
        return (f"{where} is {float(value)!r}, which JSON cannot hold (SARIF and JSON readers refuse it); "
                "store None or a string such as \"nan\"")
    if isinstance(value, str) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")):
        return None
    return f"{where} is a {kind.__name__} ({str(value)[:60]!r}), not a JSON value"


@dataclass
class Finding:
    plugin: str
    rule: str
    severity: str
    confidence: str
    title: str
    message: str
    path: str | None = None
    line: int | None = None
    end_line: int | None = None
    column: int | None = None
    cwe: int | None = None
    fingerprint: str = ""
    evidence: dict = field(default_factory=dict)
    source_status: str = "open"

    def __post_init__(self) -> None:
        self.severity = self.severity.upper()
        self.confidence = self.confidence.upper()
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {CONFIDENCES}, got {self.confidence!r}")
        if self.source_status not in SOURCE_STATUSES:
            raise ValueError(f"source_status must be one of {SOURCE_STATUSES}")
        if self.evidence is None:
            self.evidence = {}
        self.check()

    def describe(self) -> str:
        """Which finding this is, for an error message: plugin, rule, title and place."""
        where = f" at {self.path}:{self.line}" if self.path and self.line else f" at {self.path}" if self.path else ""
        return f"plugin {self.plugin!r}, rule {self.rule!r}, finding {self.title!r}{where}"

    def check(self) -> None:
        """Raise :class:`FindingError` when the evidence is not a dict of JSON values. The store calls
        it again before writing: evidence changed after the finding was made is caught too."""
        if not isinstance(self.evidence, dict):
            raise FindingError(f"{self.describe()}: evidence must be a dict (e.g. {{\"code\": ...}}), "
                               f"got a {type(self.evidence).__name__}: {str(self.evidence)[:60]!r}")
        problem = evidence_problem(self.evidence)
        if problem:
            raise FindingError(f"{self.describe()}: {problem}; evidence must be a dict of JSON values "
                               "(str, numbers, bool, None, lists, dicts)")

    def as_dict(self) -> dict:
        return asdict(self)


def normalise_code(code: str) -> str:
    """Collapse all whitespace so re-indenting or re-wrapping keeps identity."""
    return _WS.sub(" ", code).strip()


def fingerprint(rule: str, relpath: str, code: str, occurrence: int) -> str:
    """Identity of a finding that survives edits elsewhere in the file.

    Built from the rule, the relative path, the whitespace-normalised flagged
    code and the index of this (rule, path, code) among its twins. The line
    number is left out on purpose: inserting lines above must not change it.
    """
    import hashlib  # here (OpenSSL, ~3 ms to load): opening and showing a project make no fingerprint

    h = hashlib.sha256()
    for part in (rule, relpath.replace("\\", "/"), normalise_code(code), str(occurrence)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def assign_fingerprints(findings: Iterable[Finding], code_of: Callable[[Finding], str]) -> None:
    """Set ``.fingerprint`` on each finding, counting twins in the order given."""
    seen: Counter = Counter()
    for f in findings:
        code = normalise_code(code_of(f))
        key = (f.rule, f.path or "", code)
        f.fingerprint = fingerprint(f.rule, f.path or "", code, seen[key])
        seen[key] += 1


SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
