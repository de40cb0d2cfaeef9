"""One writer per project file: an OS advisory lock on ``<project>.lock``.

The OS drops the lock when the holding process dies, so a crash never leaves
a stale lock behind. The file also says who holds it, for the error message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from workbench.core.errors import ProjectError, ProjectLockedError
from workbench.core.host import holder_description

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def lock_path(project_path: Path) -> Path:
    return project_path.with_name(project_path.name + ".lock")


class ProjectLock:
    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, project_path: Path) -> "ProjectLock":
        path = lock_path(Path(project_path))
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ProjectError(project_path, f"cannot create the lock file {path.name} ({exc.strerror}).") from exc
        locked = _try_lock(fd)
        if locked and not _same_file(fd, path):
            # The holder released and deleted the file between our open and lock:
            # we locked an orphan. Start again on the file now at that path.
            os.close(fd)
            return cls.acquire(project_path)
        if not locked:
            try:
                holder = json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
            except (ValueError, OSError):
                holder = {}
            os.close(fd)
            raise ProjectLockedError(project_path, holder)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(holder_description()).encode("utf-8"))
        os.fsync(fd)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            _unlock(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        try:
            self.path.unlink()
        except OSError:
            pass
