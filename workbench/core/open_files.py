"""The project files this process has open, and what an encrypted project's first bytes look like.

A leaf module: :mod:`workbench.core.files` refuses to overwrite a project with what it knows,
and :mod:`workbench.core.project_crypto` records here every file it opens.
"""

from __future__ import annotations

import os

#: (device, inode) -> [connections, key id or None] of the project files this process has open
_open_files: dict[tuple[int, int], list] = {}


# Closing *any* descriptor of a file drops every POSIX lock this process holds on it, SQLite's
# included: then another process's SQLite takes itself for the last user and removes the WAL
# under our feet. So while this process has a project file open, its first bytes are never read
# again: what they said is remembered here, by inode (os.stat opens nothing).
def _identity(path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def opened(path, key_id: str | None) -> tuple[int, int]:
    """Record a connection to *path*; returns the handle for :func:`closed`."""
    ident = _identity(path)
    entry = _open_files.setdefault(ident, [0, key_id])
    entry[0] += 1
    return ident


def closed(ident: tuple[int, int]) -> None:
    entry = _open_files.get(ident)
    if entry is not None:
        entry[0] -= 1
        if entry[0] <= 0:
            del _open_files[ident]


def _known(path) -> list | None:
    try:
        return _open_files.get(_identity(path))
    except OSError:
        return None


def is_open_here(path) -> bool:
    return _known(path) is not None


def _is_key_id(head: bytes) -> bool:
    """Our salts are random (version 4) UUIDs: 6 fixed bits tell them from 63 in 64 random files."""
    return len(head) == 16 and head[6] >> 4 == 4 and head[8] >> 6 == 0b10


def looks_encrypted(head: bytes, size: int) -> bool:
    """A file with these first 16 bytes and this size is shaped like our SQLCipher files: a key id
    where SQLite's header would be, and whole 4 KiB pages (the page size we set)."""
    return _is_key_id(head[:16]) and size >= 4096 and size % 4096 == 0
