"""Errors of the robustness plugin: each names the file and, where it applies, the index."""

from __future__ import annotations

from workbench.api import WorkbenchError


class RobustnessError(WorkbenchError):
    """A message fit to show the user as it is."""


class UnsafeModelError(RobustnessError):
    """A model file that would run code when loaded, refused without the trust flag."""


class ModelFileError(RobustnessError):
    """A model file that is damaged, of the wrong format or does not fit the architecture."""


class DataFileError(RobustnessError):
    """A data file with the wrong shape, NaNs, or labels out of range."""
