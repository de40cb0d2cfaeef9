"""Tables for plugin tabs: read-only rows as a model, a table widget filled from rows, and a model
straight over a pyarrow table (millions of rows, nothing copied per row).

Every tab shows lists of records (runs, fuzz crashes, a hierarchy, a data preview); these
helpers are the one way to do it, so that each looks and sorts alike.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QTableView, QTableWidget, QTableWidgetItem

__all__ = ["ArrowTableModel", "SORT_ROLE", "fill_table", "item", "table_model", "table_view"]

# what a column sorts by: the number itself for numbers (3 < 12 < 100), the text otherwise. The shown
# text stays ours (Qt would write a number in the user's locale and round a float to 6 digits).
SORT_ROLE = Qt.UserRole + 1


def _sort_key(text, align_right):
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return text
    if text is None:
        return None  # empty cells sort last
    if align_right:  # a number written as text ("0.123", "45.6 %", "1,024")
        try:
            return float(str(text).replace(",", "").rstrip("% "))
        except ValueError:
            pass
    return str(text)


def item(text, *, data=None, colour: str | None = None, align_right: bool | None = None) -> QStandardItem:
    """A read-only cell: *data* under ``Qt.UserRole``, text in *colour*; numbers are right-aligned
    (pass *align_right* for numbers written as text, e.g. ``"0.123"``). Numbers, and right-aligned
    text that reads as one, sort as numbers (``SORT_ROLE``, which :func:`table_model` and
    :func:`table_view` set on their model)."""
    cell = QStandardItem("" if text is None else str(text))
    cell.setEditable(False)
    key = _sort_key(text, align_right)
    if key is not None:
        cell.setData(key, SORT_ROLE)
    if data is not None:
        cell.setData(data, Qt.UserRole)
    if colour:
        cell.setForeground(QBrush(QColor(colour)))
    if align_right or (align_right is None and isinstance(text, (int, float)) and not isinstance(text, bool)):
        cell.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
    return cell


def table_model(headers, rows) -> QStandardItemModel:
    """Rows (sequences of values or ready :func:`item` cells) under *headers*, read-only."""
    model = QStandardItemModel(0, len(headers))
    model.setHorizontalHeaderLabels(list(headers))
    model.setSortRole(SORT_ROLE)
    for row in rows:
        cells = [v if isinstance(v, QStandardItem) else item(v) for v in row]
        for cell in cells:
            if cell.data(SORT_ROLE) is None and cell.text():  # a cell made by hand sorts by its text
                cell.setData(cell.text(), SORT_ROLE)
        model.appendRow(cells)
    return model


def table_view(model=None, *, sortable: bool = True) -> QTableView:
    """A read-only table: whole rows selected, no row numbers, one line of text per row."""
    view = QTableView()
    if model is not None:
        if isinstance(model, QStandardItemModel):  # filled later with item() cells: sort by their keys
            model.setSortRole(SORT_ROLE)
        view.setModel(model)
    view.verticalHeader().hide()
    view.setSelectionBehavior(QAbstractItemView.SelectRows)
    view.setEditTriggers(QAbstractItemView.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.horizontalHeader().setSortIndicator(-1, Qt.AscendingOrder)  # rows as given until a header is clicked
    view.setSortingEnabled(sortable)
    view.horizontalHeader().setStretchLastSection(True)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    return view


def fill_table(table: QTableWidget, headers, rows, *, limit: int | None = None) -> int:
    """Replace a QTableWidget's contents by *rows* under *headers* (the first *limit* rows), one
    line of text a row; returns how many are shown."""
    rows = list(rows if limit is None else rows[:limit])
    table.clear()
    table.verticalHeader().hide()  # one line of text a row, no row numbers: as table_view
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels([str(h) for h in headers])
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, v in enumerate(values):
            table.setItem(r, c, _TableItem("" if v is None else str(v)))
    return len(rows)


class _TableItem(QTableWidgetItem):
    """A cell that sorts numbers as numbers ("9.5" < "85.9" < "100.0", "#9" < "#12"), text as text."""

    def __init__(self, text: str):
        super().__init__(text)
        self._key = _sort_key(text.lstrip("#"), True)

    def __lt__(self, other) -> bool:
        mine, theirs = self._key, getattr(other, "_key", other.text())
        if isinstance(mine, float) and isinstance(theirs, float):
            return mine < theirs
        return self.text() < other.text()


class ArrowTableModel(QAbstractTableModel):
    """Rows straight from pyarrow columns: nothing is copied per row, so millions stay fast."""

    def __init__(self, table=None, parent=None):
        super().__init__(parent)
        self.set_table(table)

    def set_table(self, table) -> None:
        self.beginResetModel()
        self._table = table
        self._cols = [c.combine_chunks() for c in table.columns] if table is not None else []
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() or self._table is None else self._table.num_rows

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() or self._table is None else self._table.num_columns

    def data(self, index, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and index.isValid():
            return self._cols[index.column()][index.row()].as_py()
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role != Qt.DisplayRole or self._table is None:
            return None
        return self._table.column_names[section] if orientation == Qt.Horizontal else str(section + 1)
