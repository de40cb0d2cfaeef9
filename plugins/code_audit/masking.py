"""Masking of secrets in anything we store or show."""

from __future__ import annotations

import hashlib
import re


def mask(secret: str) -> str:
    """A recognisable prefix and the last two characters; never the secret."""
    if len(secret) <= 8:
        return "*" * len(secret)
    keep = 4 if len(secret) < 24 else 6
    return f"{secret[:keep]}…{secret[-2:]}"


def secret_hash(secret: str) -> str:
    """sha256 of the secret: lets two findings be compared without the value."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def mask_in(text: str, secrets) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, mask(secret))
    return text


def mask_ai_keys(text: str) -> str:
    """Mask every AI-provider key (rule B908 patterns) found in ``text``."""
    from .rules.api_keys import KEY_PATTERNS

    for _, pattern in KEY_PATTERNS:
        text = pattern.sub(lambda m: mask(m.group(0)), text)
    return text


_PASSWORD_RULES = {"B105", "B106", "B107"}
_QUOTED = re.compile(r"'(.+)'")


def mask_issue_text(issue: dict) -> str:
    """bandit's message with quoted passwords (B105-B107) and AI keys masked."""
    text = issue["text"]
    if issue.get("test_id") in _PASSWORD_RULES:
        text = _QUOTED.sub(lambda m: "'" + mask(m.group(1)) + "'", text)
    return mask_ai_keys(text)
