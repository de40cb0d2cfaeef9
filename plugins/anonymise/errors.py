"""Errors of the anonymisation engine: each names the file and, where it applies, the row."""

from __future__ import annotations

from workbench.api import WorkbenchError


class AnonymiseError(WorkbenchError, ValueError):
    """A problem the user can fix; the message is shown as it is."""


class InputError(AnonymiseError):
    """Bad input data: names the file and the line/row."""

    def __init__(self, path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class HierarchyError(InputError):
    """A generalisation hierarchy that cannot be used."""


class VerificationError(AnonymiseError):
    """A check on the written output failed: the export is blocked."""

    def __init__(self, failures: list[str]):
        self.failures = list(failures)
        super().__init__("output blocked: " + "; ".join(self.failures))
