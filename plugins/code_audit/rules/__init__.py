"""AI/ML rule pack: real bandit plugins (ids B901..B911).

Importing this package does not import bandit; the rule modules do.
"""

from .catalog import PACK_VERSION, RULES, RULES_BY_ID  # noqa: F401
