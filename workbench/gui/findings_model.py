"""The base of the findings table (``findings_view.FindingsTableModel``): findings loaded once,
shown through an index list, not widgets or a proxy model, so 100,000 findings filter and sort
in a fraction of a second.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

SEVERITY_BG = {"HIGH": QColor("#e6b0aa"), "MEDIUM": QColor("#f8c471"), "LOW": QColor("#f9e79f")}
STATUSES = ("open", "suppressed", "false_positive", "accepted_risk", "fixed")


#: the roles ``IndexedFindingsModel.data`` answers
_ROLES = frozenset({Qt.DisplayRole, Qt.BackgroundRole, Qt.ForegroundRole, Qt.ToolTipRole})


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
        if role not in _ROLES or not index.isValid():  # Qt asks ~8 roles a cell when it sizes columns
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
