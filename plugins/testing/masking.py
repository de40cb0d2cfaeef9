"""Masking of secrets in failure messages, fuzz inputs and transcripts we store.

Uses the code audit's masking (its known token shapes: AI-provider keys,
GitHub, AWS, Slack...; and its mask format), plus ``name = value`` assignments
of obvious secret names, which show up in assertion messages and tracebacks.
"""

from __future__ import annotations

import re

_ASSIGNED_SECRET = re.compile(
    r"""((?:password|passwd|secret|token|api[_-]?key|access[_-]?key|auth)[\w-]*['"]?\s*[:=]\s*['"]?)"""
    r"""([^\s'",;]{4,})""",
    re.IGNORECASE,
)


def mask_text(text: str | None) -> str:
    if not text:
        return text or ""
    from workbench_plugins.code_audit import masking

    if hasattr(masking, "mask_values"):
        text = masking.mask_values(text, ())  # every known token shape (AI keys, GitHub, AWS, Slack...)
    else:
        # bandit's plugin loader first: importing the code audit's key rule before
        # it makes bandit meet that module half-initialised (a circular import).
        import bandit.core.extension_loader  # noqa: F401

        text = masking.mask_ai_keys(text)
    return _ASSIGNED_SECRET.sub(lambda m: m.group(1) + masking.mask(m.group(2)), text)
