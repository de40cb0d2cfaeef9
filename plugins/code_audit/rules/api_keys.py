"""Rule B908: hard-coded API keys of AI providers and model hubs.

Matched by the documented prefixes of each provider's key format. The
message never contains the key: it shows only a masked form.
"""

from __future__ import annotations

import re

import bandit
from bandit.core import test_properties as test

from .catalog import RULES_BY_ID

# (provider, pattern). Anchored on the provider prefix plus a minimum length
# so that ordinary identifiers such as "sk-learn" do not match.
KEY_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (name, re.compile(rx)) for name, rx in (
        ("Anthropic", r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{32,}"),
        ("OpenAI", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}"),
        ("Hugging Face", r"hf_[A-Za-z0-9]{30,}"),
        ("Google AI / Gemini", r"AIza[0-9A-Za-z_\-]{35}"),
        ("Replicate", r"r8_[A-Za-z0-9]{37}"),
        ("Groq", r"gsk_[A-Za-z0-9]{48,}"),
        ("Perplexity", r"pplx-[A-Za-z0-9]{40,}"),
        ("xAI", r"xai-[A-Za-z0-9]{60,}"),
        ("Weights & Biases", r"(?<![A-Za-z0-9])wandb_v1_[A-Za-z0-9_]{40,}"),
    )
)


def mask(secret: str) -> str:
    """Keep a recognisable prefix and the last two characters only."""
    from ..masking import mask as _mask

    return _mask(secret)


_PREFIX = re.compile(r"^(?:sk-ant-(?:api|admin)\d{2}-|sk-(?:proj-|svcacct-|admin-)?|hf_|AIza|r8_|gsk_|pplx-|xai-|"
                     r"wandb_v1_)")


def is_placeholder(key: str) -> bool:
    """``hf_xxxxxxxx…``, ``sk-000000…``: one character repeated after the prefix is an example, not a key."""
    body = _PREFIX.sub("", key)
    return len(set(body.lower())) <= 2


def find_key(text: str) -> tuple[str, str] | None:
    """(provider, matched key) of the first AI key in ``text`` that is not a placeholder."""
    for provider, pattern in KEY_PATTERNS:
        for m in pattern.finditer(text):
            if not is_placeholder(m.group(0)):
                return provider, m.group(0)
    return None


@test.checks("Str")
@test.test_id("B908")
def hardcoded_ai_api_key(context):
    value = context.string_val
    if not isinstance(value, str) or len(value) < 20:
        return None
    hit = find_key(value)
    if hit is None:
        return None
    provider, key = hit
    info = RULES_BY_ID["B908"]
    return bandit.Issue(
        severity=bandit.HIGH, confidence=bandit.MEDIUM, cwe=info.cwe,
        text=f"Hard-coded {provider} API key {mask(key)}. {info.help}",
    )
