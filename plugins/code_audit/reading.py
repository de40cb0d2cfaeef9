"""Reading a file of an audited tree: regular files only, capped in size, never raising.

Every scanner opens files through here. A FIFO, socket or device in the tree
(or a symlink to one, such as ``/dev/zero`` named ``model.pkl``) is refused
before it is opened; the open itself uses ``O_NONBLOCK`` and checks the file
again, so a FIFO swapped in between the check and the open cannot block.
"""

from __future__ import annotations

import errno
import os
import stat

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
)


class NotRegularFile(OSError):
    """The path names something other than a regular file (after following symlinks)."""


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def not_regular_reason(path) -> str | None:
    """None for a regular file (symlinks followed); else why it must not be opened.

    For the walk: ``reason = not_regular_reason(path)`` and, when it is not None,
    record the file as skipped with that reason instead of handing it to a scanner.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if stat.S_ISREG(st.st_mode):
        return None
    return f"not a regular file ({_kind(st.st_mode)}): not opened"


def is_regular_file(path) -> bool:
    """True only for a regular file (symlinks followed); never opens it."""
    return not_regular_reason(path) is None


def open_regular(path):
    """A binary file object for ``path``, or NotRegularFile / OSError.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a
    writer; fstat on the open descriptor then decides, so what is read is what
    was checked. O_NOCTTY keeps a terminal device from becoming ours.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    reason = not_regular_reason(path)
    if reason is not None and not reason.startswith("unreadable"):
        raise NotRegularFile(errno.EINVAL, reason[0].upper() + reason[1:], path)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"Not a regular file ({_kind(mode)}): not read", path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_limited(path, limit: int, scanner: str = "") -> tuple[bytes | None, str | None]:
    """(content, None), or (None, why it was not read): too large, unreadable or not a regular file.

    At most ``limit + 1`` bytes are ever read, whatever the file claims its size is.
    """
    where = f" for the {scanner}" if scanner else ""
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(limit + 1) if size <= limit else b""
    except NotRegularFile as exc:
        return None, exc.strerror[0].lower() + exc.strerror[1:]
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if size > limit or len(data) > limit:  # a file can grow between fstat and read: check what was read too
        return None, f"too large{where} ({max(size, len(data)):,} bytes; the limit is {limit:,})"
    return data, None


def read_head(path, n: int) -> bytes | None:
    """The first ``n`` bytes of a regular file (whatever its size), or None when it cannot be read."""
    try:
        with open_regular(path) as fh:
            return fh.read(n)
    except OSError:
        return None


def hash_limited(path, limit: int) -> tuple[str | None, int, str | None]:
    """(sha256 hex, size, None) of a regular file read in blocks, or (None, size, why not).

    Large files are hashed without being held in memory; at most ``limit + 1`` bytes are read.
    """
    import hashlib

    digest, size = hashlib.sha256(), 0
    try:
        with open_regular(path) as fh:
            while size <= limit:
                block = fh.read(min(1 << 20, limit + 1 - size))
                if not block:
                    break
                digest.update(block)
                size += len(block)
    except NotRegularFile as exc:
        return None, 0, exc.strerror[0].lower() + exc.strerror[1:]
    except OSError as exc:
        return None, 0, f"unreadable: {exc.strerror or exc}"
    if size > limit:
        return None, size, f"too large ({size:,}+ bytes; the limit is {limit:,})"
    return digest.hexdigest(), size, None


def display_path(path) -> str:
    """``path`` as text that can be stored and printed: bytes that are not UTF-8 shown as ``\\xNN``.

    os.walk gives undecodable names as lone surrogates (surrogateescape); they
    cannot be encoded to UTF-8 (SQLite, JSON files, terminals), so they are
    escaped here. Valid names come back unchanged.
    """
    if isinstance(path, bytes):
        raw = path
    else:
        try:
            path.encode("utf-8")
            return path
        except UnicodeEncodeError:
            raw = path.encode("utf-8", "surrogateescape") if _only_escapes(path) else \
                path.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


def _only_escapes(text: str) -> bool:
    """Are all surrogates in ``text`` the U+DC80..U+DCFF that surrogateescape makes?"""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
