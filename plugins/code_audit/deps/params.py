"""The parameters of the dependency audit job (light: imported at start-up with the plugin)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class DepsParams:
    """What ``workbench deps`` asks for.

    target          folder (or one manifest file) whose requirements, pyproject and lock files are read
    venv            a virtual environment whose installed distributions are read too (never run)
    index           the OSV index to use (default: the one ``workbench deps-db import`` fills)
    include_models  list model files and hub references (provenance), and compare model hashes
    """

    target: str
    venv: str | None = None
    index: str | None = None
    include_models: bool = True

    def __post_init__(self) -> None:
        self.target = os.path.realpath(self.target)
        if self.venv:
            self.venv = os.path.realpath(self.venv)
        if self.index:
            self.index = os.path.realpath(self.index)
