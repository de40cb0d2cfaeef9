"""What the code view may show: source with every credential line masked (pure, no Qt)."""

from __future__ import annotations

import re

from .masking import mask

_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.:@]{8,}")
_ASSIGNMENT = re.compile(r"^(\s*[\w.\-\[\]'\"]+\s*[:=]\s*)(.*)$")


def is_secret_finding(rec: dict) -> bool:
    """Hard-coded credentials (CWE-798) and detect-secrets hits: never shown in clear."""
    return rec.get("cwe") == 798 or str(rec.get("rule", "")).upper().startswith("SECRET")


def mask_lines(text: str, first: int, last: int) -> str:
    """Mask long tokens on lines first..last (1-based) so a secret is not shown in clear."""
    lines = text.split("\n")
    for n in range(max(first, 1) - 1, min(last, len(lines))):
        # In "name = value" / "name: value" only the value is masked, so the name stays readable.
        m = _ASSIGNMENT.match(lines[n])
        head, tail = (m.group(1), m.group(2)) if m else ("", lines[n])
        # As stored findings are masked: no character of the secret, a known provider prefix at most.
        lines[n] = head + _TOKEN.sub(lambda t: mask(t.group(0)), tail)
    return "\n".join(lines)


def untested_fingerprints(store, run_id: int) -> frozenset:
    """Fingerprints of this run's findings on lines that the latest test run of the same target did
    not execute (the Tests plugin's coverage); empty when that plugin or a test run is missing."""
    try:
        from workbench_plugins.testing.untested import uncovered_lines_of_target, untested_findings
    except ImportError:
        return frozenset()
    run = store.run(run_id)
    if run is None or not run.target:
        return frozenset()
    testing = store.of("testing")
    uncovered = uncovered_lines_of_target(testing, run.target)
    if not uncovered:
        return frozenset()
    return frozenset(f["fingerprint"] for f in untested_findings(testing, store.findings(run_id=run_id), uncovered))
