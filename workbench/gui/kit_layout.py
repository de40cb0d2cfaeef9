"""Layout helpers for plugin tabs: a column, a row, two panes side by side, a page of tabs.

They take widgets (and, for rows, labels as plain strings) and return one widget, so a tab
says what goes where in one expression instead of a dozen layout calls.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

__all__ = ["column", "pages", "row", "side_by_side"]


def _box(layout: QBoxLayout, items, stretch) -> QWidget:
    box = QWidget()
    box.setLayout(layout)
    layout.setContentsMargins(0, 0, 0, 0)
    for i, w in enumerate(items):
        if w is None:
            continue
        if isinstance(w, str):
            w = QLabel(w)
        layout.addWidget(w, stretch.get(i, 0) if isinstance(stretch, dict) else int(i == stretch))
    return box


def column(*widgets, stretch: int | dict | None = -1) -> QWidget:
    """Widgets one under the other with no margin; *stretch* the index of the one that takes the
    spare height (the last by default), or {index: factor}; strings become labels."""
    stretch = len(widgets) - 1 if stretch == -1 else stretch
    return _box(QVBoxLayout(), widgets, stretch)


def row(*widgets, stretch: int | dict | None = None) -> QWidget:
    """Widgets side by side with no margin; strings become labels (a label before each input)."""
    return _box(QHBoxLayout(), widgets, stretch)


def side_by_side(*widgets, sizes=(3, 2), minimum: int | None = None) -> QSplitter:
    """Panes in a splitter that share the width as *sizes* (relative) when the tab grows, each at
    least *minimum* px wide."""
    split = QSplitter(Qt.Horizontal)
    split.setChildrenCollapsible(False)
    for i, w in enumerate(widgets):
        split.addWidget(w)
        split.setStretchFactor(i, sizes[i] if i < len(sizes) else 1)
        if minimum:
            w.setMinimumWidth(minimum)
    split.setSizes([1000 * s for s in sizes[:len(widgets)]])
    return split


def pages(*named) -> QTabWidget:
    """A tab widget with a page per (name, widget) pair."""
    tabs = QTabWidget()
    for name, widget in named:
        tabs.addTab(widget, name)
    return tabs
