"""Generalisation hierarchies in ARX's CSV format (`value;level1;...;*`) and builders.

A hierarchy is a list of rows, one per original value: row[0] is the value, row[l]
its generalisation at level l. ARX computes its loss metric from the hierarchy as
given (the share of a generalised value is the fraction of *hierarchy rows* it
covers), so the rows are kept exactly as read.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from datetime import date
from pathlib import Path

from .errors import HierarchyError


class Hierarchy:
    def __init__(self, rows: list[list[str]], name: str = "", source: str = "<memory>"):
        if not rows:
            raise HierarchyError(source, "the hierarchy is empty")
        width = len(rows[0])
        index: dict[str, int] = {}
        for i, row in enumerate(rows):
            if len(row) != width:
                raise HierarchyError(source, f"row has {len(row)} levels, the first row has {width}",
                                     line=i + 1)
            if row[0] in index:
                raise HierarchyError(source, f"value {row[0]!r} appears twice (first on line "
                                     f"{index[row[0]] + 1})", line=i + 1)
            index[row[0]] = i
        self.rows = rows
        self.name = name
        self.source = source
        self._index = index

    @property
    def height(self) -> int:
        """Number of levels, level 0 (the original value) included."""
        return len(self.rows[0])

    @property
    def domain_size(self) -> int:
        return len(self.rows)

    def __contains__(self, value: str) -> bool:
        return value in self._index

    def generalise(self, value: str, level: int) -> str:
        return self.rows[self._index[value]][level]

    def is_tree(self) -> bool:
        """True when every label at level l has one parent at level l+1 (needed for hierarchical EMD)."""
        for level in range(1, self.height - 1):
            parent: dict[str, str] = {}
            for row in self.rows:
                if parent.setdefault(row[level], row[level + 1]) != row[level + 1]:
                    return False
        return True

    def check_covers(self, values: list[str], column: str, data_path: str = "") -> None:
        """Every distinct data value must have a row; names the first missing value."""
        missing = [v for v in values if v not in self._index]
        if missing:
            raise HierarchyError(
                self.source,
                f"column {column!r}{' of ' + data_path if data_path else ''} has "
                f"{len(missing)} value(s) not in the hierarchy, e.g. {missing[:3]!r}")

    def encode(self, dictionary: list[str]):
        """For data codes 0..len(dictionary)-1: per level, (code map, labels, shares).

        code map[l][c] is the integer code of dictionary[c] generalised to level l;
        shares[l][c] is the fraction of hierarchy rows under that generalised value.
        """
        import numpy as np

        rows = [self.rows[self._index[v]] for v in dictionary]
        maps, labels, shares = [], [], []
        for level in range(self.height):
            counts: dict[str, int] = {}
            for row in self.rows:
                counts[row[level]] = counts.get(row[level], 0) + 1
            lab: dict[str, int] = {}
            m = np.fromiter((lab.setdefault(r[level], len(lab)) for r in rows), dtype=np.int32,
                            count=len(rows))
            maps.append(m)
            labels.append(list(lab))
            shares.append(np.array([counts[r[level]] / self.domain_size for r in rows]))
        return maps, labels, shares


def read_arx_hierarchy(path, delimiter: str = ";", name: str | None = None) -> Hierarchy:
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise HierarchyError(p, "no such file") from None
    except UnicodeDecodeError as exc:
        raise HierarchyError(p, f"not UTF-8 (byte {exc.start})") from exc
    if "\x00" in text:
        raise HierarchyError(p, "contains a NUL byte", line=text[: text.index("\x00")].count("\n") + 1)
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
    if not rows:
        raise HierarchyError(p, "the hierarchy file is empty")
    return Hierarchy(rows, name=name or p.stem, source=str(p))


def write_arx_hierarchy(path, hierarchy: Hierarchy, delimiter: str = ";") -> None:
    """Written to a temporary file in the same folder, then renamed: never a partial file."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(hierarchy.rows)
        os.replace(tmp, p)
    except BaseException:
        os.unlink(tmp)
        raise


# -- builders ---------------------------------------------------------------------------


def interval_hierarchy(values, widths=(5, 10, 20), top: str = "*", name: str = "") -> Hierarchy:
    """Integer values into intervals of growing width, e.g. 37 -> 35-39 -> 30-39 -> 20-39 -> *."""
    rows = []
    for v in sorted(set(values), key=lambda s: float(s)):
        x = float(v)
        row = [v]
        for w in widths:
            lo = int(x // w * w)
            row.append(f"{lo}-{lo + w - 1}")
        row.append(top)
        rows.append(row)
    return Hierarchy(rows, name=name)


def date_hierarchy(values, top: str = "*", name: str = "") -> Hierarchy:
    """ISO dates: day -> month -> year -> decade -> *."""
    rows = []
    for v in sorted(set(values)):
        try:
            d = date.fromisoformat(v.strip()[:10])
        except ValueError:
            raise HierarchyError(name or "<dates>", f"{v!r} is not an ISO date (YYYY-MM-DD)") from None
        dec = d.year // 10 * 10
        rows.append([v, f"{d.year:04d}-{d.month:02d}", f"{d.year:04d}", f"{dec}-{dec + 9}", top])
    return Hierarchy(rows, name=name)


def prefix_hierarchy(values, step: int = 1, mask: str = "*", name: str = "") -> Hierarchy:
    """Strings masked from the right, `step` characters per level (postcodes, IDs): 12345 -> 1234* -> ...

    Values of different lengths are padded with the mask so every row has the same levels.
    """
    vals = sorted(set(values))
    width = max(len(v) for v in vals)
    nlevels = -(-width // step)
    rows = []
    for v in vals:
        padded = v.ljust(width, mask)
        row = [v]
        for lv in range(1, nlevels):
            keep = width - lv * step
            row.append(padded[:keep] + mask * (width - keep))
        row.append(mask)
        rows.append(row)
    return Hierarchy(rows, name=name)
