"""Hardened, streaming XML reading for files that come from elsewhere.

defusedxml refuses entity declarations (billion laughs, quadratic blow-up)
and external references; iterparse keeps memory flat however many test
cases a file holds, as long as the caller clears elements it is done with.
"""

from __future__ import annotations

import os

from .errors import ImportFileError

MAX_BYTES = 512 * 1024 * 1024


def _size_text(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def check_file(path: str, kind: str, max_bytes: int = MAX_BYTES) -> int:
    if not os.path.exists(path):
        raise ImportFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ImportFileError(f"{path}: is a folder, not a {kind} XML file")
    size = os.path.getsize(path)
    if size == 0:
        raise ImportFileError(f"{path}: empty file, not a {kind} XML file")
    if size > max_bytes:
        raise ImportFileError(f"{path}: {_size_text(size)} is more than the {_size_text(max_bytes)} "
                              f"limit for a {kind} XML import; split the file or raise the limit")
    return size


def iter_elements(path: str, kind: str, max_bytes: int = MAX_BYTES):
    """Yield (event, element, depth) for 'start' and 'end' events, hardened.

    Every error names the file, and the line and column for XML syntax errors.
    """
    import defusedxml
    from defusedxml.ElementTree import ParseError, iterparse

    check_file(path, kind, max_bytes)
    depth = 0
    try:
        with open(path, "rb") as fh:
            for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=False,
                                         forbid_entities=True, forbid_external=True):
                if event == "start":
                    yield event, elem, depth
                    depth += 1
                else:
                    depth -= 1
                    yield event, elem, depth
    except defusedxml.EntitiesForbidden as exc:
        raise ImportFileError(f"{path}: refused: the file declares XML entities ({exc.name!r}), the "
                              "form of an entity-expansion attack (billion laughs); test reports "
                              "never need them") from None
    except defusedxml.ExternalReferenceForbidden:
        raise ImportFileError(f"{path}: refused: the file references external XML resources") from None
    except defusedxml.DefusedXmlException as exc:
        raise ImportFileError(f"{path}: refused: {exc}") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        reason = str(exc).split(":")[0]
        raise ImportFileError(f"{path}: not well-formed XML at line {line}, column {column} ({reason}); "
                              f"is it really a {kind} XML file?") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: cannot be decoded as XML text ({exc.reason})") from None


def parse_tree(path: str, kind: str, max_bytes: int = MAX_BYTES):
    """The whole tree, through defusedxml (for our own small files, e.g. pytest's JUnit)."""
    import defusedxml
    from defusedxml.ElementTree import ParseError, parse

    check_file(path, kind, max_bytes)
    try:
        return parse(path, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise ImportFileError(f"{path}: refused: {exc}") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise ImportFileError(f"{path}: not well-formed XML at line {line}, column {column}") from None
