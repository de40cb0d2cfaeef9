"""A read-only code view with line numbers in a gutter, in the system's fixed-width font."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontDatabase, QPainter, QPalette, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from workbench.core.report import SEVERITY_COLORS

#: WCAG AA for normal text: a flagged line stays readable in both themes
MIN_CONTRAST = 4.5


def relative_luminance(color: QColor) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def flagged_line_colors(severity: str, palette: QPalette) -> tuple[QColor, QColor]:
    """(background, text) of a flagged line: the severity's colour blended into the editor's
    background, as strongly as the palette's text colour stays readable on it (>= MIN_CONTRAST)."""
    base, text = palette.color(QPalette.Base), palette.color(QPalette.Text)
    tint = QColor(SEVERITY_COLORS.get(severity, "#f1c40f"))
    for strength in (0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.0):
        mixed = QColor.fromRgbF(*(b + (t - b) * strength for b, t in
                                  zip((base.redF(), base.greenF(), base.blueF()),
                                      (tint.redF(), tint.greenF(), tint.blueF()))))
        if contrast_ratio(mixed, text) >= MIN_CONTRAST:
            return mixed, text
    return base, text


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

    def flag_lines(self, first: int, last: int | None = None, severity: str = "MEDIUM") -> None:
        """Highlight lines *first*..*last* (numbered as shown) in the severity's colour, readable
        in either theme, and scroll the first of them to the middle."""
        background, foreground = flagged_line_colors(severity, self.palette())
        doc, selections = self.document(), []
        for n in range(first, max(first, last or first) + 1):
            block = doc.findBlockByNumber(n - self.first_line)
            if not block.isValid():
                break
            selection = QTextEdit.ExtraSelection()
            selection.cursor = QTextCursor(block)
            selection.format.setBackground(background)
            selection.format.setForeground(foreground)
            selection.format.setProperty(QTextFormat.FullWidthSelection, True)
            selections.append(selection)
        self.setExtraSelections(selections)
        self.setTextCursor(QTextCursor(doc.findBlockByNumber(max(0, first - self.first_line))))
        self.centerCursor()

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
        if self.document().isEmpty():  # no code shown: no lone "1" beside the placeholder
            painter.end()
            return
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
