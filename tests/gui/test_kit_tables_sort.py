"""Kit tables sort numbers as numbers (3 < 9 < 12 < 100), not as text ("100" < "12" < "3")."""

from __future__ import annotations


def _column(model, col):
    return [model.index(r, col).data() for r in range(model.rowCount())]


def test_table_model_sorts_a_numeric_column_by_value(qtbot):
    from PySide6.QtCore import Qt

    from workbench.gui.api import table_model, table_view

    model = table_model(["Run", "Hits", "Rate", "Name"],
                        [(3, 7, "12.5", "c"), (12, 0, "100.0", "a"), (100, 41, "9.0", "b"), (9, None, "", "d")])
    view = table_view(model)
    qtbot.addWidget(view)
    view.sortByColumn(0, Qt.AscendingOrder)
    assert _column(model, 0) == ["3", "9", "12", "100"]  # the text shown is unchanged
    view.sortByColumn(0, Qt.DescendingOrder)
    assert _column(model, 0) == ["100", "12", "9", "3"]
    view.sortByColumn(1, Qt.AscendingOrder)
    assert _column(model, 1) == ["0", "7", "41", ""]  # an empty cell sorts last
    view.sortByColumn(3, Qt.AscendingOrder)
    assert _column(model, 3) == ["a", "b", "c", "d"]


def test_numbers_written_as_text_sort_by_value_when_right_aligned(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QStandardItemModel

    from workbench.gui.api import item, table_view

    model = QStandardItemModel()  # a tab's own model, filled after the view is made
    view = table_view(model)
    qtbot.addWidget(view)
    for text in ("12.5", "100.0", "9.0", "45.6 %"):
        model.appendRow([item(text, align_right=True), item(text)])
    view.sortByColumn(0, Qt.AscendingOrder)
    assert _column(model, 0) == ["9.0", "12.5", "45.6 %", "100.0"]
    assert item(1234567.891).text() == "1234567.891"  # not rounded or grouped by the locale
