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


# -- automatic hierarchies (ARX's hierarchy wizard, from the data itself) ---------------

AUTO = "auto"
_NUMBER_ENTITIES = {"age", "salary"}
_DATE_ENTITIES = {"date_of_birth", "date"}
_MASK_ENTITIES = {"postcode", "national_id", "identifier", "phone", "iban", "credit_card"}


def _as_number(v: str):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if x == x and abs(x) != float("inf") else None


def _nice_width(span: float) -> int:
    """A round interval width giving about ten intervals over the span (1, 2, 5, 10, 20, 50, ...)."""
    target = max(span / 10.0, 1.0)
    base = 1
    while True:
        for m in (1, 2, 5):
            if base * m >= target:
                return base * m
        base *= 10


def auto_interval_hierarchy(values, name: str = "") -> Hierarchy:
    """Numbers into intervals whose width doubles per level until one interval holds them all."""
    nums = [_as_number(v) for v in values]
    lo, hi = min(nums), max(nums)
    w = _nice_width(hi - lo)
    widths = []
    while True:
        widths.append(w)
        if int(lo // w) == int(hi // w) or len(widths) >= 8:
            break
        w *= 2
    if len(widths) > 1 and int(lo // widths[-1]) == int(hi // widths[-1]):
        widths.pop()  # one interval for all says no more than '*'
    rows = []
    for v in sorted(set(values), key=_as_number):
        x = _as_number(v)
        row = [v]
        for width in widths:
            start = int(x // width * width)
            row.append(f"{start}-{start + width - 1}" if float(width).is_integer() and x.is_integer()
                       else f"[{start}, {start + width})")
        row.append("*")
        rows.append(row)
    return Hierarchy(rows, name=name, source=f"auto:{name}")


def auto_date_hierarchy(values, name: str = "") -> Hierarchy:
    """Dates (ISO or day/month/year): day -> month -> year -> decade -> *."""
    from .detect import parse_date

    rows = []
    for v in sorted(set(values)):
        d = parse_date(v)
        if d is None:
            raise HierarchyError(f"auto:{name}", f"{v!r} is not a date")
        dec = d.year // 10 * 10
        rows.append([v, f"{d.year:04d}-{d.month:02d}", f"{d.year:04d}", f"{dec}-{dec + 9}", "*"])
    return Hierarchy(rows, name=name, source=f"auto:{name}")


def auto_mask_hierarchy(values, name: str = "") -> Hierarchy:
    """Postcodes and identifiers: one more character masked from the right per level, then *."""
    h = prefix_hierarchy(values, step=1, name=name)
    h.source = f"auto:{name}"
    return h


def auto_category_hierarchy(values, name: str = "") -> Hierarchy:
    """Categories: the value or suppressed (*), ARX's two-level default."""
    return Hierarchy([[v, "*"] for v in sorted(set(values))], name=name, source=f"auto:{name}")


def auto_kind(values, entity: str | None = None) -> str:
    """Which builder fits the column: 'interval', 'date', 'mask' or 'category'."""
    from .detect import parse_date

    vals = [v for v in set(values) if v is not None]
    if not vals:
        return "category"
    if entity in _DATE_ENTITIES and all(parse_date(v) for v in vals):
        return "date"
    if entity in _MASK_ENTITIES:
        return "mask"
    if entity in _NUMBER_ENTITIES and all(_as_number(v) is not None for v in vals):
        return "interval"
    if entity in (None, "other") or entity not in ("gender", "occupation"):
        if len(vals) > 12 and all(_as_number(v) is not None for v in vals):
            # digit strings of one length with leading zeros are codes, not quantities
            if all(v.isdigit() for v in vals) and len({len(v) for v in vals}) == 1 and \
                    any(v.startswith("0") for v in vals):
                return "mask"
            return "interval"
        if len(vals) > 12 and sum(1 for v in vals if parse_date(v)) == len(vals):
            return "date"
    return "category"


def auto_hierarchy(values, entity: str | None = None, name: str = "") -> Hierarchy:
    """A hierarchy built from the column's own values (nulls and blanks count as the value '')."""
    vals = ["" if v is None else v for v in values]
    distinct = sorted(set(vals))
    kind = auto_kind([v for v in distinct if v != ""], entity)
    present = [v for v in distinct if v != ""]
    builder = {"interval": auto_interval_hierarchy, "date": auto_date_hierarchy,
               "mask": auto_mask_hierarchy, "category": auto_category_hierarchy}[kind]
    h = builder(present, name=name) if present else auto_category_hierarchy([""], name=name)
    if "" in distinct and present:
        # a blank stays blank until the top, so it never joins a real value's group early
        h = Hierarchy(h.rows + [[""] * (h.height - 1) + ["*"]], name=name, source=h.source)
    h.kind = kind
    return h


def describe_hierarchy(h: Hierarchy) -> str:
    """One line for the tab and the summary: the builder and the labels of a sample value."""
    kind = getattr(h, "kind", "file")
    sample = h.rows[len(h.rows) // 2]
    return f"auto {kind}: " + " → ".join(sample) if kind != "file" else " → ".join(sample)
