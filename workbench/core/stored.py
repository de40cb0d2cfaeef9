"""What the store returns: typed, read-only records of runs and findings.

:class:`RunRecord` and :class:`StoredFinding` (a :class:`~workbench.core.findings.Finding` with its id, run and
triage) are frozen dataclasses; read their attributes
(``run.target``, ``finding.severity``). They also read as mappings (``run["target"]``,
``finding.get("line")``, ``dict(finding)``) so code written when the store returned plain dicts
keeps working; new code should use the attributes. ``as_dict()`` gives a plain dict for JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from typing import Any, ClassVar

from workbench.core.findings import Finding, finding_status


class _ReadsAsMapping(Mapping):
    """A frozen dataclass that also reads as a read-only mapping of its fields."""

    __slots__ = ()
    _keys: ClassVar[tuple[str, ...]] = ()
    #: old dict keys that name a field differently (the ``findings`` table's ``col`` is ``column``)
    _aliases: ClassVar[dict[str, str]] = {}
    #: (field, column of the core table) of every field
    _columns: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __getitem__(self, key: str) -> Any:
        name = self._aliases.get(key, key)
        if name in self._keys:
            return getattr(self, name)
        raise KeyError(key)

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def as_dict(self) -> dict:
        """A plain dict of the fields (JSON-ready: every value is what the project file holds)."""
        return {k: getattr(self, k) for k in self._keys}

    @classmethod
    def from_row(cls, row: Mapping):
        """From a row of the core table (``sqlite3.Row`` or dict, JSON columns decoded); columns
        the record does not know (a newer schema's) are left out."""
        keys = row.keys()
        return cls(**{name: row[column] for name, column in cls._columns if column in keys})


@dataclass(frozen=True, eq=True, slots=True)
class RunRecord(_ReadsAsMapping):
    """One run of a job: a row of the core ``runs`` table."""

    id: int
    #: the plugin id and the job name (``JobDef`` key) that ran
    plugin: str
    job: str
    #: what the runs list shows, e.g. "Code audit: /src/app"
    title: str | None = None
    #: what the run assessed (a folder, a model file, a URL); None for a job without a target
    target: str | None = None
    #: the job's parameters as given (the params dataclass as a dict)
    params: dict = field(default_factory=dict)
    #: queued, running, done, failed, cancelled or interrupted
    status: str = "queued"
    #: ISO 8601 UTC times; ``started``/``finished`` are None until then
    created: str | None = None
    started: str | None = None
    finished: str | None = None
    #: the job's summary dict (what ``--summary-json`` writes); None until it finished
    summary: dict | None = None
    #: why a run failed (the last lines of its traceback), and a short note (e.g. why it was interrupted)
    error: str | None = None
    message: str | None = None
    #: the process that ran it, and that process's start time (to tell a reused pid)
    pid: int | None = None
    pid_started: float | None = None

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(eq=True, init=False)
class StoredFinding(_ReadsAsMapping, Finding):
    """A finding as stored (a row of the core ``findings`` table) with its triage joined in.

    It is a :class:`Finding` (the same fields, one definition) that also has its ``id``, ``run_id`` and
    triage, and it cannot be changed: assigning to a field raises ``FrozenInstanceError``. Its values
    are what the project holds, not checked again like a new finding's (a project written before
    evidence was checked may hold a string)."""

    #: the stored finding and its run
    id: int = field(kw_only=True)
    run_id: int = field(kw_only=True)
    #: the triage decision by fingerprint: open, false_positive, accepted_risk or fixed, and why
    triage_status: str = "open"
    triage_justification: str | None = None

    _aliases: ClassVar[dict[str, str]] = {"col": "column"}

    def __init__(self, **values: Any) -> None:
        """Keyword arguments named like the fields; ``id``, ``run_id`` and Finding's first six are needed."""
        unknown = values.keys() - _FINDING_DEFAULTS.keys()
        missing = _FINDING_NEEDED - values.keys()
        if unknown or missing:
            raise TypeError("StoredFinding: " + "; ".join(
                f"{what} fields {sorted(names)}" for what, names in (("unknown", unknown), ("missing", missing))
                if names))
        state = {**_FINDING_DEFAULTS, "evidence": {}, **values}
        object.__setattr__(self, "__dict__", state)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r} of a stored finding")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r} of a stored finding")

    @classmethod
    def from_values(cls, values) -> "StoredFinding":
        """From the values of every field in ``_keys`` order (a row of ``records._FINDING_RECORDS_SQL``),
        the evidence still JSON text: the store's fast path, one dict per finding and no checks."""
        state = dict(zip(cls._keys, values))
        state["evidence"] = decode_json(state["evidence"], {})
        record = _new(cls)
        _set_state(record, "__dict__", state)
        return record

    # The mapping reads straight from the fields' dict: old code ranks 100,000 findings through them.
    def __getitem__(self, key: str) -> Any:
        try:
            return self.__dict__[self._aliases.get(key, key)]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(self._aliases.get(key, key), default)

    def __contains__(self, key: object) -> bool:
        return self._aliases.get(key, key) in self.__dict__

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @property
    def status(self) -> str:
        """What the finding's status reads: 'suppressed', else its triage status."""
        return finding_status(self.source_status, self.triage_status)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def where(self) -> str:
        """``path:line``, or the path alone."""
        return f"{self.path}:{self.line}" if self.line else (self.path or "")


_new, _set_state = object.__new__, object.__setattr__
RunRecord._keys = tuple(f.name for f in fields(RunRecord))
# the store's order: the row's id and run first, Finding's fields, then the triage joined in
StoredFinding._keys = ("id", "run_id", *(f.name for f in fields(Finding)), "triage_status", "triage_justification")
for _cls in (RunRecord, StoredFinding):
    _columns = {new: old for old, new in _cls._aliases.items()}
    _cls._columns = tuple((name, _columns.get(name, name)) for name in _cls._keys)
del _cls, _columns
#: every field's default (None for the needed ones), in the store's order: a record's ``__dict__`` starts as it
_FINDING_DEFAULTS = {f.name: (None if f.default is MISSING else f.default)
                     for f in sorted(fields(StoredFinding), key=lambda f: StoredFinding._keys.index(f.name))}
_FINDING_NEEDED = frozenset(f.name for f in fields(StoredFinding)
                            if f.default is MISSING and f.default_factory is MISSING)


def decode_json(text: str | None, empty):
    """A stored JSON column; a damaged one reads as ``{"damaged": …}`` (and fails verification)."""
    if not text:
        return empty
    if text == "{}":  # most findings' evidence: a new dict, far quicker than parsing
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"damaged": text[:200]}
