"""Errors of the testing plugin: each message names the file, interpreter or URL."""

from __future__ import annotations

from workbench.api import WorkbenchError


class TestingError(WorkbenchError):
    """Something the user must fix before a test run, import, fuzz or probe can go on."""

    __test__ = False  # not a pytest test class, despite the name


class InterpreterError(TestingError):
    """The target's Python interpreter is missing, unusable, too old or lacks pytest/coverage."""


class ImportFileError(TestingError):
    """A JUnit or coverage XML file that cannot be imported (not XML, hostile, too large)."""


class EndpointError(TestingError):
    """An LLM endpoint that may not be contacted or does not answer usefully."""
