"""JUnit / xUnit XML: streaming import of any flavour, and pytest's own output.

Import (``iter_cases`` / ``import_junit``) reads, in one hardened streaming pass
(see ``xmlsafe``), the flavours people actually have:

* Ant/Maven JUnit: ``<testsuites><testsuite><testcase classname name time>``
  with ``<failure>``, ``<error>``, ``<skipped>``, Surefire's
  ``<flakyFailure>``/``<rerunFailure>``; suites may nest (JUnit 5, Gradle);
* pytest (xunit1 adds ``file`` and ``line``, xunit2 does not);
* go-junit-report (one suite per Go package, classname = package);
* Jest's jest-junit (suite = test file, classname = describe block);
* xUnit.net v2/v3 (``<assemblies><assembly><collection><test result="Pass|Fail|Skip|NotRun">``;
  NotRun, a test not run on purpose, is a skip).

Elements are cleared as soon as they are read, so memory stays flat with
100,000 test cases; cases go to the caller in batches.

``mangle`` gives the (classname, name) pytest's JUnit writer uses for a node
id; our own runs take their cases from the driver's events (``runner``).
"""

from __future__ import annotations

import re

from .errors import ImportFileError
from .masking import mask_text

MESSAGE_LIMIT = 4000
_OUTCOME_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _case(case_id, name, classname, file, outcome, duration, message, flaky=False) -> dict:
    return {"id": case_id, "name": name, "classname": classname, "file": file, "outcome": outcome,
            "duration": duration, "message": mask_text(_clip(message)) if message else "", "flaky": flaky}


def _float(value) -> float:
    try:
        return float(value) if value not in (None, "") else 0.0
    except ValueError:
        return 0.0


def iter_cases(path: str, max_bytes: int | None = None):
    """Yield one dict per test case of a JUnit/xUnit XML file (any flavour above)."""
    from . import xmlsafe

    kwargs = {} if max_bytes is None else {"max_bytes": max_bytes}
    stack: list = []          # open elements
    suites: list[str] = []    # names of open <testsuite>s
    result = None             # (outcome, message parts) of the current case
    flaky = False
    root_seen = False
    for event, elem, depth in xmlsafe.iter_elements(path, kind="JUnit/xUnit", **kwargs):
        tag = elem.tag.rsplit("}", 1)[-1]  # tolerate a namespace
        if event == "start":
            if depth == 0:
                root_seen = True
                if tag not in ("testsuites", "testsuite", "assemblies", "assembly", "testrun"):
                    raise ImportFileError(
                        f"{path}: not a JUnit/xUnit report (root element <{tag}>, expected <testsuites>, "
                        "<testsuite> or xUnit.net's <assemblies>)")
            if tag == "testsuite":
                suites.append(elem.get("name") or "")
            elif tag in ("testcase", "test"):
                result, flaky = None, False
            stack.append(elem)
            continue

        stack.pop()
        if tag in ("failure", "error", "skipped") and len(stack) and stack[-1].tag.rsplit("}", 1)[-1] in (
                "testcase", "test"):
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
            parts = [elem.get("message") or ""]
            # xUnit.net puts <message> and <stack-trace> in children; JUnit uses text.
            for child in elem:
                if child.text:
                    parts.append(child.text)
            if elem.text and elem.text.strip():
                parts.append(elem.text)
            if result is None or _OUTCOME_RANK[outcome] > _OUTCOME_RANK[result[0]]:
                result = (outcome, parts)
        elif tag in ("flakyFailure", "flakyError", "rerunFailure", "rerunError"):
            flaky = True
        elif tag == "reason" and stack and stack[-1].tag == "test" and elem.text:
            result = ("skipped", [elem.text])
        elif tag == "testcase":
            name = elem.get("name") or ""
            classname = elem.get("classname") or ""
            suite = suites[-1] if suites else ""
            owner = classname or suite
            outcome, parts = result if result else ("passed", [])
            if elem.get("status") in ("skipped", "notrun", "disabled") and outcome == "passed":
                outcome = "skipped"
            message = "\n".join(p.strip() for p in parts if p and p.strip())
            yield _case(f"{owner}::{name}" if owner else name, name, classname,
                        elem.get("file"), outcome, _float(elem.get("time")), message, flaky)
            elem.clear()
            if stack:
                stack[-1].clear()  # drop the cleared shells too: flat memory
        elif tag == "test":  # xUnit.net v2
            name = elem.get("name") or ""
            outcome = {"pass": "passed", "fail": "failed", "skip": "skipped", "notrun": "skipped"}.get(
                (elem.get("result") or "").lower(), "error")
            parts = result[1] if result else []
            if outcome == "failed" and not parts:
                parts = [elem.findtext("failure/message") or ""]
            message = "\n".join(p.strip() for p in parts if p and p.strip())
            classname = elem.get("type") or ""
            yield _case(name if "." in name or not classname else f"{classname}.{name}", name, classname,
                        None, outcome, _float(elem.get("time")), message)
            elem.clear()
            if stack:
                stack[-1].clear()
        elif tag == "testsuite":
            suites.pop()
            elem.clear()
    if not root_seen:
        raise ImportFileError(f"{path}: no XML elements found")


class _Totals:
    """Running totals while cases stream past."""

    _KEY = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped"}

    def __init__(self):
        self.counts = {"tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "flaky": 0,
                       "duration": 0.0}

    def add(self, c: dict) -> None:
        self.counts["tests"] += 1
        self.counts[self._KEY[c["outcome"]]] += 1
        self.counts["flaky"] += 1 if c.get("flaky") else 0
        self.counts["duration"] += c.get("duration") or 0.0


def totals_of(cases) -> dict:
    totals = _Totals()
    for c in cases:
        totals.add(c)
    return totals.counts


def import_junit(path: str, sink=None, batch_size: int = 5000, max_bytes: int | None = None) -> dict:
    """Stream a JUnit/xUnit file into ``sink(batch)``; returns its totals.

    With ``sink=None`` the cases are only counted (and still fully parsed and
    validated). A file with no test case at all is an error: there is nothing
    to import.
    """
    totals = _Totals()
    batch: list[dict] = []
    for case in iter_cases(path, max_bytes=max_bytes):
        totals.add(case)
        if sink is not None:
            batch.append(case)
            if len(batch) >= batch_size:
                sink(batch)
                batch = []
    if batch and sink is not None:
        sink(batch)
    if totals.counts["tests"] == 0:
        raise ImportFileError(f"{path}: a JUnit/xUnit report with no test cases: nothing to import")
    return totals.counts


# ---- our own pytest run -------------------------------------------------------------------

def mangle(nodeid: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml writes them for ``nodeid``."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]
