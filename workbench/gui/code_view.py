"""A read-only code view with line numbers in a gutter, in the system's fixed-width font."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFontDatabase, QPainter, QPalette
from PySide6.QtWidgets import QPlainTextEdit, QWidget


class _Gutter(QWidget):
    def __init__(self, view: "CodeView"):
        super().__init__(view)
        self.view = view

    def sizeHint(self) -> QSize:
        return QSize(self.view.gutter_width(), 0)

    def paintEvent(self, event) -> None:
        self.view.paint_gutter(event)


class CodeView(QPlainTextEdit):
    """Source shown as in an editor: numbered lines, no wrapping, read-only. ``first_line`` numbers
    a snippet from where it starts in its file."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.first_line = 1
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self._gutter = _Gutter(self)
        self.blockCountChanged.connect(lambda *_: self._fit_gutter())
        self.updateRequest.connect(self._scroll_gutter)
        self._fit_gutter()

    def gutter_width(self) -> int:
        digits = len(str(max(1, self.first_line + self.blockCount() - 1)))
        return 10 + self.fontMetrics().horizontalAdvance("9") * digits

    def set_code(self, text: str, first_line: int = 1) -> None:
        self.first_line = first_line
        self.setPlainText(text)
        self._fit_gutter()

    def _fit_gutter(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect, dy) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        area = self.contentsRect()
        self._gutter.setGeometry(QRect(area.left(), area.top(), self.gutter_width(), area.height()))

    def paint_gutter(self, event) -> None:
        painter = QPainter(self._gutter)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.color(QPalette.AlternateBase))
        painter.setPen(palette.color(QPalette.PlaceholderText))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            if block.isVisible() and bottom >= event.rect().top():
                painter.drawText(0, top, self._gutter.width() - 5, height, Qt.AlignRight,
                                 str(self.first_line + block.blockNumber()))
            block, top = block.next(), bottom
        painter.end()
