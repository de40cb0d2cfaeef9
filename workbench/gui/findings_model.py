"""A findings table model over column data loaded once from SQLite.

Filtering and sorting work on an index list, not on widgets or a proxy model,
so 100,000 findings filter and sort in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from workbench.core.findings import SEVERITY_RANK, finding_status

# Column keys as selected by FINDINGS_SQL, in order.
FIELDS = ("id", "severity", "confidence", "rule", "title", "path", "line", "status", "fingerprint", "message",
          "cwe", "source_status", "triage_status")
F = {name: i for i, name in enumerate(FIELDS)}
FINDINGS_SQL = (
    "SELECT f.id, f.severity, f.confidence, f.rule, f.title, f.path, f.line, NULL, "
    "f.fingerprint, f.message, f.cwe, f.source_status, COALESCE(t.status,'open') "
    "FROM findings f LEFT JOIN triage t ON t.fingerprint = f.fingerprint WHERE f.run_id = ? ORDER BY f.id")

COLUMNS = [("severity", "Severity"), ("confidence", "Confidence"), ("rule", "Rule"), ("title", "Title"),
           ("path", "File"), ("line", "Line"), ("status", "Status")]
SEVERITY_BG = {"HIGH": QColor("#e6b0aa"), "MEDIUM": QColor("#f8c471"), "LOW": QColor("#f9e79f")}
STATUSES = ("open", "suppressed", "false_positive", "accepted_risk", "fixed")


@dataclass
class FindingFilter:
    min_severity: str = "LOW"
    min_confidence: str = "LOW"
    statuses: frozenset = frozenset({"open"})
    rule: str = ""
    path: str = ""
    text: str = ""
    only_fingerprints: frozenset | None = None  # e.g. "new since the previous run"
    group: tuple[str, str] | None = None  # ("rule"|"path", value)
    extra: dict = field(default_factory=dict)

    def accepts(self, row: tuple) -> bool:
        if SEVERITY_RANK[row[F["severity"]]] < SEVERITY_RANK[self.min_severity]:
            return False
        if SEVERITY_RANK[row[F["confidence"]]] < SEVERITY_RANK[self.min_confidence]:
            return False
        if self.statuses and row[F["status"]] not in self.statuses:
            return False
        if self.rule and self.rule.lower() not in row[F["rule"]].lower():
            return False
        if self.path and self.path.lower() not in (row[F["path"]] or "").lower():
            return False
        if self.text:
            needle = self.text.lower()
            if needle not in row[F["title"]].lower() and needle not in row[F["message"]].lower():
                return False
        if self.only_fingerprints is not None and row[F["fingerprint"]] not in self.only_fingerprints:
            return False
        if self.group is not None and (row[F[self.group[0]]] or "") != self.group[1]:
            return False
        return True


class IndexedFindingsModel(QAbstractTableModel):
    """Findings held once, shown through a filtered, sorted index over them (no proxy model, no
    widget per row). Subclasses say how a row gives a column's value (``_value``), how rows sort
    (``_sort_view``) and what a cell's tooltip is (``_tooltip``)."""

    columns: list[tuple[str, str]] = []

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []
        self.view: list[int] = []
        self._sort: tuple[int, Qt.SortOrder] = (0, Qt.DescendingOrder)

    def _value(self, row, key: str):
        raise NotImplementedError

    def _tooltip(self, row, key: str):
        return None

    def _sort_view(self) -> None:
        raise NotImplementedError

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        self.beginResetModel()
        self._sort = (column, order)
        self._sort_view()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.view)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[self.view[index.row()]]
        key = self.columns[index.column()][0]
        value = self._value(row, key)
        if role == Qt.DisplayRole:
            if key == "status":
                return (value or "").replace("_", " ")
            return "" if value is None else str(value)
        if role == Qt.BackgroundRole and key == "severity":
            return SEVERITY_BG.get(value)
        if role == Qt.ForegroundRole and key == "severity":
            return QColor("#1b1b1b")
        if role == Qt.ToolTipRole:
            return self._tooltip(row, key)
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return self.columns[section][1]
        return None


class FindingsModel(IndexedFindingsModel):
    """One run's findings as column tuples (``FIELDS``), loaded once from SQLite."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent)
        self.filter = FindingFilter()

    # ------------------------------------------------------------ loading
    def load(self, db, run_id: int | None) -> None:
        """Load one run's findings from *db* (a plugin store, or anything with ``execute``)."""
        status, source, triage = F["status"], F["source_status"], F["triage_status"]
        rows = []
        for r in (db.execute(FINDINGS_SQL, (run_id,)) if run_id else ()):
            r = list(r)
            r[status] = finding_status(r[source], r[triage])
            rows.append(tuple(r))
        self.rows = rows
        self.apply()

    def set_filter(self, flt: FindingFilter) -> None:
        self.filter = flt
        self.apply()

    def apply(self) -> None:
        self.beginResetModel()
        flt = self.filter
        self.view = [i for i, row in enumerate(self.rows) if flt.accepts(row)]
        self._sort_view()
        self.endResetModel()

    def _sort_view(self) -> None:
        column, order = self._sort
        key_name = COLUMNS[column][0]
        idx = F[key_name]
        rows = self.rows
        if key_name in ("severity", "confidence"):
            def key(i):
                return (SEVERITY_RANK[rows[i][idx]], rows[i][F["path"]] or "", rows[i][F["line"]] or 0)
        elif key_name == "line":
            def key(i):
                return (rows[i][F["path"]] or "", rows[i][idx] or 0)
        else:
            def key(i):
                return (rows[i][idx] or "", rows[i][F["line"]] or 0)
        self.view.sort(key=key, reverse=order == Qt.DescendingOrder)

    # ------------------------------------------------------------- access
    def record(self, view_row: int) -> dict:
        return dict(zip(FIELDS, self.rows[self.view[view_row]]))

    def visible_records(self) -> list[dict]:
        return [dict(zip(FIELDS, self.rows[i])) for i in self.view]

    def groups(self, by: str, flt: FindingFilter) -> list[tuple[str, int]]:
        """(value, count) of the findings *flt* accepts, grouped by 'rule' or 'path', largest first."""
        counts: dict[str, int] = {}
        idx = F[by]
        for row in self.rows:
            if flt.accepts(row):
                counts[row[idx] or ""] = counts.get(row[idx] or "", 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def _value(self, row: tuple, key: str):
        return row[F[key]]

    def _tooltip(self, row: tuple, key: str):
        if key == "title":
            return row[F["message"]]
        return row[F["path"]] if key == "path" else None
