"""The parameters of the code audit job (light: imported at start-up with the plugin)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class AuditParams:
    """What ``workbench audit`` and the tab's Run button ask for.

    target           folder to audit (stored resolved, so that runs of one tree group together)
    config           bandit config file (YAML, or TOML with [tool.bandit])
    include_secrets  scan for secrets with detect-secrets
    include_models   scan model files (pickle opcodes)
    exclude          bandit's -x entries, with its semantics (replacing its default excluded folders)
    skips, tests     bandit test ids, like -s / -t
    severity, confidence   report thresholds (LOW/MEDIUM/HIGH), like -l / -i
    path_skips       {glob: [test ids]} skipped only under matching paths
    workers          worker processes for bandit and secrets (default: usable CPUs)
    """

    target: str
    config: str | None = None
    include_secrets: bool = True
    include_models: bool = True
    exclude: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    severity: str | None = None
    confidence: str | None = None
    path_skips: dict[str, list[str]] | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        self.target = os.path.realpath(self.target)
        if self.config:
            self.config = os.path.realpath(self.config)
        for name in ("severity", "confidence"):
            value = getattr(self, name)
            if value is not None and value.upper() not in ("LOW", "MEDIUM", "HIGH"):
                raise ValueError(f"{name} must be LOW, MEDIUM or HIGH, got {value!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
