"""Versions under OSV's semantics, and requirement specifiers as version intervals.

An OSV ``affected`` entry lists ``ranges`` (each a list of events: ``introduced``,
``fixed``, ``last_affected``, ``limit``) and explicit ``versions``. For the PyPI
ecosystem an ECOSYSTEM range's events are PEP 440 versions; ``introduced: "0"``
means "from the first version". A version is affected when it is one of the
explicit versions, or when, walking the range's events in version order, the
last event at or below it is an ``introduced`` (a ``fixed`` at or below it,
or a ``last_affected`` strictly below it, closes the interval).

Ranges are turned into intervals once, so that a pinned version is a lookup
and an unpinned requirement (a :class:`~packaging.specifiers.SpecifierSet`,
also turned into intervals) is an intersection: "may resolve to a vulnerable
version" means some version it admits lies in an affected interval.
GIT ranges (commit hashes) cannot be compared with release versions and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

ZERO = Version("0")


def parse_version(text) -> Version | None:
    try:
        return Version(str(text).strip())
    except (InvalidVersion, TypeError):
        return None


@dataclass(frozen=True)
class Interval:
    """A set of versions: ``lo`` .. ``hi``; None is unbounded; the flags say whether an end is included."""

    lo: Version | None
    lo_incl: bool
    hi: Version | None
    hi_incl: bool

    def contains(self, v: Version) -> bool:
        if self.lo is not None and (v < self.lo or (v == self.lo and not self.lo_incl)):
            return False
        if self.hi is not None and (v > self.hi or (v == self.hi and not self.hi_incl)):
            return False
        return True

    def empty(self) -> bool:
        if self.lo is None or self.hi is None:
            return False
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_incl and self.hi_incl))

    def intersect(self, other: "Interval") -> "Interval":
        lo, lo_incl = self.lo, self.lo_incl
        if other.lo is not None and (lo is None or other.lo > lo):
            lo, lo_incl = other.lo, other.lo_incl
        elif other.lo is not None and other.lo == lo:
            lo_incl = lo_incl and other.lo_incl
        hi, hi_incl = self.hi, self.hi_incl
        if other.hi is not None and (hi is None or other.hi < hi):
            hi, hi_incl = other.hi, other.hi_incl
        elif other.hi is not None and other.hi == hi:
            hi_incl = hi_incl and other.hi_incl
        return Interval(lo, lo_incl, hi, hi_incl)

    def text(self) -> str:
        if self.lo is not None and self.hi is not None and self.lo == self.hi:
            return f"=={self.lo}"
        parts = []
        if self.lo is not None and self.lo != ZERO:
            parts.append(f"{'>=' if self.lo_incl else '>'}{self.lo}")
        if self.hi is not None:
            parts.append(f"{'<=' if self.hi_incl else '<'}{self.hi}")
        return ",".join(parts) or "every version"


EVERYTHING = Interval(None, True, None, True)


# --------------------------------------------------------------- OSV ranges

@dataclass
class Affected:
    """One OSV ``affected`` entry, evaluated: intervals from its ranges, and its explicit versions."""

    intervals: list[Interval]
    versions: frozenset[str]
    parsed_versions: tuple[Version, ...]
    fixed: tuple[Version, ...]  # every ``fixed`` event, in version order

    def affects(self, v: Version, raw: str | None = None) -> bool:
        if raw is not None and raw in self.versions:
            return True
        if v in self.parsed_versions:
            return True
        return any(i.contains(v) for i in self.intervals)

    def first_fix_after(self, v: Version) -> Version | None:
        """The ``fixed`` event that ends the interval holding *v* (the first fix above it)."""
        for f in self.fixed:
            if f > v:
                return f
        return None

    def named_versions(self) -> list[Version]:
        out = list(self.parsed_versions) + list(self.fixed)
        for i in self.intervals:
            out += [x for x in (i.lo, i.hi) if x is not None and x != ZERO]
        return out


def ranges_to_intervals(ranges: list) -> tuple[list[Interval], list[Version]]:
    """Intervals of the ECOSYSTEM / SEMVER ranges of one ``affected`` entry, and its fixed versions."""
    intervals: list[Interval] = []
    fixed: list[Version] = []
    for rng in ranges or []:
        if not isinstance(rng, dict) or rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        events = []
        for ev in rng.get("events") or []:
            if not isinstance(ev, dict) or len(ev) != 1:
                continue
            (kind, raw), = ev.items()
            if kind == "limit":
                continue  # only meaningful for GIT ranges
            v = ZERO if (kind == "introduced" and str(raw) == "0") else parse_version(raw)
            if v is None or kind not in ("introduced", "fixed", "last_affected"):
                continue
            events.append((v, kind))
            if kind == "fixed":
                fixed.append(v)
        # At one version an introduced comes before a fix of it (OSV's reference evaluation order).
        order = {"introduced": 0, "last_affected": 1, "fixed": 2}
        events.sort(key=lambda e: (e[0], order[e[1]]))
        start: Version | None = None
        for v, kind in events:
            if kind == "introduced":
                if start is None:
                    start = v
            elif start is not None:
                intervals.append(Interval(None if start == ZERO else start, True, v, kind == "last_affected"))
                start = None
        if start is not None:
            intervals.append(Interval(None if start == ZERO else start, True, None, True))
    return intervals, sorted(set(fixed))


def evaluate_affected(entry: dict) -> Affected:
    intervals, fixed = ranges_to_intervals(entry.get("ranges") or [])
    raw_versions = [str(v) for v in entry.get("versions") or []]
    parsed = tuple(v for v in (parse_version(x) for x in raw_versions) if v is not None)
    return Affected(intervals, frozenset(raw_versions), parsed, tuple(fixed))


# -------------------------------------------------------------- specifiers

def _next_prefix(release: tuple[int, ...]) -> Version:
    """The first version after every X.Y.* with release prefix *release*."""
    bumped = list(release[:-1]) + [release[-1] + 1]
    return Version(".".join(str(p) for p in bumped) + ".dev0")


def _clause(op: str, version: str) -> list[Interval]:
    """Intervals of one specifier clause (a union; ``!=`` gives two)."""
    if version.endswith(".*"):
        base = Version(version[:-2])
        lo = Version(".".join(str(p) for p in base.release))  # its pre-releases are not admitted
        hi = _next_prefix(base.release)
        inside = Interval(lo, True, hi, False)
        if op == "==":
            return [inside]
        return [Interval(None, True, lo, False), Interval(hi, True, None, True)]  # !=X.*
    v = Version(version)
    if op in ("==", "==="):
        return [Interval(v, True, v, True)]
    if op == "!=":
        return [Interval(None, True, v, False), Interval(v, False, None, True)]
    if op == ">=":
        return [Interval(v, True, None, True)]
    if op == ">":
        return [Interval(v, False, None, True)]
    if op == "<=":
        return [Interval(None, True, v, True)]
    if op == "<":
        return [Interval(None, True, v, False)]
    if op == "~=":
        release = v.release
        prefix = release[:-1] if len(release) > 1 else release
        return [Interval(v, True, _next_prefix(prefix), False)]
    raise InvalidSpecifier(f"{op}{version}")


def spec_intervals(spec: SpecifierSet | str) -> list[Interval]:
    """The versions a specifier set admits, as a union of intervals (pre-release rules aside)."""
    if isinstance(spec, str):
        spec = SpecifierSet(spec)
    current = [EVERYTHING]
    for clause in spec:
        parts = _clause(clause.operator, clause.version)
        current = [c.intersect(p) for c in current for p in parts]
        current = [c for c in current if not c.empty()]
    return current


def pinned_version(spec: SpecifierSet | str) -> str | None:
    """The one version an exact pin (``==1.2.3`` / ``===1.2.3``) admits, else None."""
    if isinstance(spec, str):
        try:
            spec = SpecifierSet(spec)
        except InvalidSpecifier:
            return None
    clauses = list(spec)
    exact = [c for c in clauses if c.operator in ("==", "===") and not c.version.endswith(".*")]
    if len(exact) == 1 and parse_version(exact[0].version) is not None:
        v = exact[0].version
        if all(c.contains(v, prereleases=True) for c in clauses):
            return v
    return None


def overlap(admitted: list[Interval], affected: Affected) -> Interval | None:
    """The first part of *admitted* that *affected* covers (None when they do not meet)."""
    for a in admitted:
        for v in affected.parsed_versions:
            if a.contains(v):
                return Interval(v, True, v, True)
        for i in affected.intervals:
            x = a.intersect(i)
            if not x.empty():
                return x
    return None
