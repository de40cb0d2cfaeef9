"""Errors the user sees: each names the file and says what to do."""

from __future__ import annotations


class WorkbenchError(Exception):
    """An error with a message fit to show the user as it is."""


class ProjectError(WorkbenchError):
    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class ProjectNotFoundError(ProjectError):
    pass


class NotSQLiteError(ProjectError):
    pass


class NotAProjectError(ProjectError):
    pass


class NewerSchemaError(ProjectError):
    pass


class DamagedProjectError(ProjectError):
    pass


class ProjectLockedError(ProjectError):
    def __init__(self, path, holder: dict):
        self.holder = holder
        who = f"pid {holder.get('pid', '?')}"
        if holder.get("user"):
            who += f", user {holder['user']}"
        if holder.get("host"):
            who += f" on {holder['host']}"
        if holder.get("since"):
            who += f", since {holder['since']}"
        if holder.get("command"):
            who += f" ({holder['command']})"
        super().__init__(
            path,
            f"already open for writing in another workbench process ({who}). "
            "Close it there, or open this copy read-only.",
        )


class StorageFullError(ProjectError):
    pass


#: SQLite's names for a write it could not make: what a full disk (or quota, or size limit) gives it
_SQLITE_WRITE_FAILURES = ("SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE",
                          "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_DIR_FSYNC")


def is_no_room(exc: BaseException) -> bool:
    """Whether *exc* is a write that failed for want of room: the disk or the quota is full, or the
    process's file size limit was reached (ENOSPC, EDQUOT, EFBIG), or SQLite's report of such a write
    (SQLITE_FULL, a failed write, sync or truncate). Not damage to a file: what was there is whole."""
    import errno

    if isinstance(exc, OSError):
        return exc.errno is not None and exc.errno in {
            getattr(errno, name) for name in ("ENOSPC", "EFBIG", "EDQUOT") if hasattr(errno, name)}
    # (SQLCipher's driver sets no error name: its full disk is known by SQLite's message only)
    return getattr(exc, "sqlite_errorname", None) in _SQLITE_WRITE_FAILURES or "database or disk is full" in str(exc)


class SecretsUnavailableError(WorkbenchError):
    pass
