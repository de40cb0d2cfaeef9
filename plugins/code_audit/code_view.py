"""What the code view may show: source with every credential line masked (pure, no Qt)."""

from __future__ import annotations

import re

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
        lines[n] = head + _TOKEN.sub(lambda t: t.group(0)[:4] + "…" + "*" * 6, tail)
    return "\n".join(lines)
