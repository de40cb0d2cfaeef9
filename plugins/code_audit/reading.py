"""Reading a file of an audited tree: capped in size, never raising."""

from __future__ import annotations

import os


def read_limited(path: str, limit: int, scanner: str = "") -> tuple[bytes | None, str | None]:
    """(content, None), or (None, why it was not read) for a file too large or unreadable."""
    where = f" for the {scanner}" if scanner else ""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(limit + 1) if size <= limit else b""
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if size > limit or len(data) > limit:  # /proc-like files report size 0: check what was read too
        return None, f"too large{where} ({max(size, len(data)):,} bytes; the limit is {limit:,})"
    return data, None
