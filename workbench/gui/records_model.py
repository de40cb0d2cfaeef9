"""A read-only table model over a list of dicts (runs, events, plugins)."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

# data() runs for every cell and role at each paint; reading Qt.DisplayRole & co. from the Qt
# namespace costs about 3 µs each time in PySide6, as ints they cost nothing (the roles are IntEnums)
_DISPLAY, _USER, _ALIGNMENT = int(Qt.DisplayRole), int(Qt.UserRole), int(Qt.TextAlignmentRole)
_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
_HORIZONTAL = Qt.Horizontal


class RecordsModel(QAbstractTableModel):
    def __init__(self, columns: list[tuple[str, str]], parent=None,
                 formatters: dict[str, Callable] | None = None):
        """*columns*: [(key, header)]."""
        super().__init__(parent)
        self._columns = columns
        self._rows: list[dict] = []
        self._fmt = formatters or {}

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row_record(self, row: int) -> dict:
        return self._rows[row]

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index, role=_DISPLAY):
        if role != _DISPLAY and role != _USER and role != _ALIGNMENT or not index.isValid():
            return None
        key = self._columns[index.column()][0]
        value = self._rows[index.row()].get(key)
        if role == _DISPLAY:
            fmt = self._fmt.get(key)
            return fmt(value) if fmt else ("" if value is None else str(value))
        if role == _USER:
            return value
        return _RIGHT if isinstance(value, (int, float)) else None

    def headerData(self, section, orientation, role=_DISPLAY):
        # asked hundreds of times by the first paints: the Qt names read once (see _DISPLAY)
        if role == _DISPLAY and orientation == _HORIZONTAL:
            return self._columns[section][1]
        return None


def records_view(model, stretch_column: int) -> QTableView:
    """The read-only table look shared by the docks and tabs: whole rows, no row numbers."""
    view = QTableView()
    view.setModel(model)
    view.verticalHeader().hide()
    view.setSelectionBehavior(QTableView.SelectRows)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)  # one line per row: a long text is elided, not cut after its first word
    view.horizontalHeader().setSectionResizeMode(stretch_column, QHeaderView.Stretch)
    # Rows one line of text high: a first window shows more than a handful of them.
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    return view


def fit_columns(view: QTableView, maxima: dict[int, int] | None = None, default_max: int = 320) -> None:
    """Size each column to its header and contents (the rows Qt samples), at most *maxima*[column]
    or *default_max* pixels; a stretched column keeps stretching."""
    header = view.horizontalHeader()
    maxima = maxima or {}
    for column in range(header.count()):
        if header.sectionResizeMode(column) == QHeaderView.Stretch:
            continue
        wanted = max(view.sizeHintForColumn(column), header.sectionSizeHint(column))
        header.resizeSection(column, min(wanted, maxima.get(column, default_max)))
