"""Report charts in a tab: a report block (``BarChart``, ``LineChart``) painted in the window's
theme, and a label that shows such an image scaled to fit. The Overview, the findings view and
plugin tabs (through ``workbench.gui.api``) draw their charts this one way.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy

from workbench.gui.theme import is_dark

__all__ = ["ChartLabel", "draw_chart"]


def draw_chart(chart, width: int, height: int):
    """A report chart block (BarChart or LineChart) painted as a QImage in the current theme."""
    from workbench.core.report import LineChart
    from workbench.render.pdf import draw_bar_chart, draw_line_chart

    paint = draw_line_chart if isinstance(chart, LineChart) else draw_bar_chart
    return paint(chart, width, height, dark=is_dark())


class ChartLabel(QLabel):
    """Shows a chart image scaled to fit, re-scaled when resized."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._image = None
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(240, 120)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)

    def set_image(self, image) -> None:
        self._chart = None
        self._image = image
        self._rescale()

    def set_chart(self, chart) -> None:
        """A report chart drawn at the label's own shape (again on each resize): a wide image shrunk
        into a narrow pane had 4 px text; its text scales with the height drawn, so this reads."""
        self._chart = chart
        self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    _chart = None

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange and self._chart is not None:
            self._rescale()  # the theme changed: a chart given by set_chart is drawn in the new one

    def _rescale(self) -> None:
        if self._chart is not None:
            if self.width() > 1 and self.height() > 1:
                ratio = 2  # drawn at twice the size and scaled down: crisp on a high-DPI screen too
                # about the renderer's own 16:9 at most: its text grows with the height drawn, and a
                # taller image gave labels wider than their bars
                w, h = self.width(), min(self.height(), max(180, int(self.width() * 0.56)))
                self._image = draw_chart(self._chart, w * ratio, h * ratio)
            else:
                return
        if self._image is not None:
            self.setPixmap(QPixmap.fromImage(self._image).scaled(
                self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))
