"""Writing output files safely: whole or not at all, and never over a project."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from workbench.core.errors import WorkbenchError
from workbench.core.open_files import is_open_here, looks_encrypted

SQLITE_MAGIC = b"SQLite format 3\x00"


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make a rename in *folder* durable (POSIX; elsewhere the rename is as durable as it gets)."""
    if hasattr(os, "O_DIRECTORY"):
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def check_writable_target(path: str | os.PathLike) -> Path:
    """Refuse an output path that is a folder, a pipe or device, in a missing folder, or an
    existing SQLite file (a project: one mistyped ``-o`` must not destroy an engagement)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise WorkbenchError(f"{path}: the folder {path.parent} does not exist")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise WorkbenchError(f"{path}: exists and is not a regular file")
        # Checked without reading first: an encrypted project has no SQLite header to see, and
        # reading a file this process has open would drop SQLite's locks on it.
        if path.suffix == ".wbproj" or is_open_here(path):
            raise WorkbenchError(f"{path}: is a project file; refusing to overwrite it")
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise WorkbenchError(f"{path}: cannot be replaced ({exc.strerror or exc})") from exc
        if head == SQLITE_MAGIC:
            raise WorkbenchError(f"{path}: is a SQLite database (a project?); refusing to overwrite it")
        if looks_encrypted(head, path.stat().st_size):
            raise WorkbenchError(f"{path}: looks like an encrypted project; refusing to overwrite it")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary path beside *path* (mode 0600) for the caller to write, renamed to *path* when the
    block ends normally and removed when it raises: a full disk or a crash leaves the previous file,
    never half of a new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write *data* to *path* through a temporary file in the same folder, renamed at the end:
    a full disk or a crash leaves the previous file, never half of a new one."""
    path = check_writable_target(path)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(data.encode(encoding) if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot write ({exc.strerror or exc}); the previous file, if any, "
                             "is unchanged") from exc
