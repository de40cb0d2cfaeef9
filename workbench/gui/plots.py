"""Plot kit on pyqtgraph: themed plots with units, fixed ranges, outside legends, live series.

A :class:`Plot` is a pyqtgraph plot plus a legend *below* it (a Qt label that
wraps, so it never covers a curve and lists every series). Its colours follow
the application palette and change with View → Theme. Axes carry units;
pyqtgraph's SI prefixes scale byte and rate axes (``MB/s``), and tick labels
never fall back to exponent notation. :class:`LiveCurves` keeps a ring buffer
per series and hands only the changed ones to ``setData`` from a timer.
"""

from __future__ import annotations

import html
import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

__all__ = ["LiveCurves", "Plot", "PlotGrid", "RingBuffer", "SERIES_COLORS", "series_color"]

#: curve colours readable on the light and on the dark background (Tableau 10)
SERIES_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")
#: units whose axis is not SI-scaled: "k%" or "m°C" would mislead
_NO_PREFIX = {"%", "°C", "", None}
MIN_HEIGHT = 200


def series_color(index: int) -> QColor:
    if index < len(SERIES_COLORS):
        return QColor(SERIES_COLORS[index])
    return pg.intColor(index, hues=13).toRgb()  # beyond ten: distinct hues, never a repeat of the first ten


class _Axis(pg.AxisItem):
    """Tick labels in plain digits: with units the SI prefix scales them; without, a large value
    is written in full (86,400) rather than as 8.64e+04."""

    def tickStrings(self, values, scale, spacing):
        strings = super().tickStrings(values, scale, spacing)
        return [self._plain(v * scale, spacing * scale) if "e" in s.lower() else s
                for s, v in zip(strings, values)]

    @staticmethod
    def _plain(value: float, spacing: float) -> str:
        if abs(value) >= 1:
            return f"{value:,.0f}"
        places = max(0, min(12, int(math.ceil(-math.log10(spacing))) if spacing > 0 else 3))
        return f"{value:.{places}f}"


class Plot(QWidget):
    """One themed plot: a title, labelled axes with units, a legend below listing every series.

    ``y_range=(0, 100)`` fixes the y axis (no autoscale, no mouse zoom on y): percentages keep their
    scale. Curves are made with :meth:`curve` (one per series name, coloured in turn) so that the
    legend knows them; other items (scatter marks, regions) go to ``plot.plot_item.addItem``.
    """

    legend_changed = Signal()

    def __init__(self, title: str = "", *, x: tuple[str, str] = ("", ""), y: tuple[str, str] = ("", ""),
                 y_range: tuple[float, float] | None = None, min_height: int = MIN_HEIGHT, parent=None):
        super().__init__(parent)
        self.title = title
        self.view = pg.PlotWidget(axisItems={"left": _Axis("left"), "bottom": _Axis("bottom")})
        self.view.setMinimumHeight(min_height)
        self.view.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.plot_item: pg.PlotItem = self.view.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.25)
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setContentsMargins(2, 2, 14, 2)  # room for the last x tick's text ("0.20" was cut)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.message = ""
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.legend.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.legend)
        self.set_axis("bottom", *x)
        self.set_axis("left", *y)
        self.y_range = None
        if y_range is not None:
            self.fix_y(*y_range)
        self.apply_theme()

    def hasHeightForWidth(self) -> bool:
        # the wrapping legend would make a scroll area size the plot to its preferred height (too tall)
        return False

    # ------------------------------------------------------------------ axes
    def set_axis(self, side: str, label: str, units: str = "", *, si: bool | None = None) -> None:
        """Label an axis with its quantity and units; SI prefixes scale it (``MB/s``) unless *si* is
        False or the unit is % or °C."""
        axis = self.plot_item.getAxis(side)
        axis.enableAutoSIPrefix(units not in _NO_PREFIX if si is None else si)
        self.plot_item.setLabel(side, label, units=units or None)

    def fix_y(self, low: float, high: float) -> None:
        """A fixed y range (percentages: 0-100): no autoscale and no mouse zoom along y."""
        self.y_range = (low, high)
        self.plot_item.enableAutoRange(y=False)
        self.plot_item.setYRange(low, high, padding=0.05)  # room for the top tick label and a line at 100 %
        self.plot_item.setMouseEnabled(y=False)

    def nonnegative_y(self, min_span: float = 1.0) -> None:
        """A quantity never below 0 (bytes per second, counts): autoscale keeps 0 at the bottom, and a
        flat series spans at least *min_span* (a line of zeros read "-400 mB/s" to "400 mB/s")."""
        view = self.plot_item.getViewBox()
        view.setLimits(yMin=-0.04 * min_span, minYRange=min_span)

        def floor(_view, y_range) -> None:
            # 0 a little above the bottom: a line of zeros stays off the axis line, and "0" is labelled
            want = -0.04 * max(y_range[1], min_span)
            if abs(view.state["limits"]["yLimits"][0] - want) > 0.01 * (y_range[1] - y_range[0]):
                view.setLimits(yMin=want)
                if view.state["autoRange"][1]:
                    view.updateAutoRange()  # a range already inside the new limits is not fitted again
        view.sigYRangeChanged.connect(floor)

    def set_x_range(self, low: float, high: float) -> None:
        self.plot_item.setXRange(low, high, padding=0.02)

    def set_message(self, text: str) -> None:
        """A short note in the title (``GPU - none found``), shown once, in the plot it concerns."""
        self.message = text
        self._set_title()

    def _set_title(self) -> None:
        title = f"{self.title} — {self.message}" if self.message else self.title
        self.plot_item.setTitle(html.escape(title), color=self._fg.name(), size="10pt")

    # ---------------------------------------------------------------- curves
    def curve(self, name: str, *, symbol: str | None = None, width: float = 1.5,
              label: str | None = None) -> pg.PlotDataItem:
        """The curve of series *name*, made (and listed in the legend, as *label* or the name) on first use."""
        item = self.curves.get(name)
        if item is None:
            color = series_color(len(self.curves))
            item = self.plot_item.plot(pen=pg.mkPen(color, width=width), symbol=symbol, symbolSize=5,
                                       symbolBrush=color, symbolPen=None)
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
            item.setProperty("legend_label", label or name)
            self.curves[name] = item
            self._update_legend()
        return item

    def clear_curves(self) -> None:
        for item in self.curves.values():
            self.plot_item.removeItem(item)
        self.curves.clear()
        self._update_legend()

    def show_sweep(self, curves: dict[str, tuple], *, symbol: str = "o") -> None:
        """Replace every curve by these ``{name: (xs, ys)}`` and fit x to this sweep: the x range
        never keeps the previous sweep's values."""
        self.clear_curves()
        xs_all = []
        for name, (xs, ys) in curves.items():
            self.curve(name, symbol=symbol).setData(list(xs), list(ys))
            xs_all += [float(x) for x in xs]
        if xs_all:
            low, high = min(xs_all), max(xs_all)
            self.set_x_range(low, high if high > low else low + 1)

    def listDataItems(self) -> list:
        """Every data item of the plot, as pyqtgraph's ``PlotItem.listDataItems``."""
        return self.plot_item.listDataItems()

    def legend_names(self) -> list[str]:
        return list(self.curves)

    def _update_legend(self) -> None:
        entries = []
        for name, item in self.curves.items():
            color = pg.mkPen(item.opts["pen"]).color().name()
            label = item.property("legend_label") or name
            entries.append(f"<span style='color:{color}'>&#9632;</span>&nbsp;{html.escape(label)}")
        self.legend.setText("&nbsp;&nbsp; ".join(entries))
        self.legend.setVisible(bool(entries))
        self.legend_changed.emit()

    # ----------------------------------------------------------------- theme
    def apply_theme(self) -> None:
        """Background, axes, grid and title in the application palette's colours."""
        palette = self.palette()
        bg, fg = palette.color(QPalette.Base), palette.color(QPalette.Text)
        self._fg = fg
        self.view.setBackground(bg)
        for side in ("left", "bottom"):
            axis = self.plot_item.getAxis(side)
            axis.setPen(pg.mkPen(fg))
            axis.setTextPen(pg.mkPen(fg))
        self._set_title()

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.PaletteChange, QEvent.ApplicationPaletteChange):
            self.apply_theme()
        super().changeEvent(event)


class PlotGrid(QScrollArea):
    """Plots in a grid that never squashes them: two columns when two rows fit the height, else as
    many columns as fit at *min_width* each (one row on a short screen), and a scroll bar rather than
    a plot under :data:`MIN_HEIGHT`. Hidden plots leave no hole."""

    def __init__(self, plots=(), *, min_width: int = 240, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.NoFrame)
        self.min_width = min_width
        self.plots: list[Plot] = []
        self._inner = QWidget()
        self._grid = QGridLayout(self._inner)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self.setWidget(self._inner)
        self.columns = 2
        for plot in plots:
            self.add(plot)

    def add(self, plot: Plot) -> Plot:
        self.plots.append(plot)
        plot.installEventFilter(self)  # shown or hidden: lay the grid out again
        plot.legend_changed.connect(lambda: QTimer.singleShot(0, self.align_legends))
        self.relayout()
        return plot

    def eventFilter(self, obj, event) -> bool:
        if event.type() in (QEvent.ShowToParent, QEvent.HideToParent):
            QTimer.singleShot(0, self.relayout)
        return False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.relayout()
        QTimer.singleShot(0, self.align_legends)

    def shown(self) -> list[Plot]:
        """The plots not hidden on purpose (a plot not yet shown at all counts as shown)."""
        return [p for p in self.plots
                if not (p.testAttribute(Qt.WA_WState_ExplicitShowHide) and p.testAttribute(Qt.WA_WState_Hidden))]

    def align_legends(self) -> None:
        """Legends of one row as tall as the tallest, so that the plots of a row line up."""
        shown = self.shown()
        for start in range(0, len(shown), self.columns):
            row = shown[start:start + self.columns]
            height = max((p.legend.heightForWidth(p.width()) if p.curves else 0)
                         for p in row)
            for p in row:
                if p.legend.minimumHeight() != height:
                    p.legend.setMinimumHeight(height)
                    p.legend.setVisible(True)

    def relayout(self) -> None:
        shown = self.shown()
        row_height = MIN_HEIGHT + 60  # the legend and the spacing
        fit = max(1, self.viewport().width() // self.min_width)
        columns = 2 if self.viewport().height() >= 2 * row_height or len(shown) <= 2 else min(fit, len(shown))
        columns = max(1, min(columns, fit, len(shown) or 1))
        placed = [self._grid.getItemPosition(self._grid.indexOf(p)) if self._grid.indexOf(p) >= 0 else None
                  for p in shown]
        wanted = [(i // columns, i % columns, 1, 1) for i in range(len(shown))]
        if placed == wanted and columns == self.columns:
            return
        self.columns = columns
        for p in self.plots:
            self._grid.removeWidget(p)
        for p, (row, col, _, _) in zip(shown, wanted):
            self._grid.addWidget(p, row, col)
        for c in range(4):
            self._grid.setColumnStretch(c, 1 if c < columns else 0)


class RingBuffer:
    """A fixed-size ring of (time, value) samples in numpy arrays: O(1) per appended sample, one
    contiguous copy per :meth:`view`, which is what ``setData`` takes."""

    def __init__(self, capacity: int):
        import numpy as np

        if capacity < 1:
            raise ValueError("ring buffer capacity must be >= 1")
        self.capacity = capacity
        self._t = np.empty(capacity, dtype=np.float64)
        self._v = np.empty(capacity, dtype=np.float64)
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, times, values) -> None:
        import numpy as np

        t, v = np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)
        if t.shape != v.shape:
            raise ValueError("times and values differ in length")
        t, v = t[-self.capacity:], v[-self.capacity:]  # only the newest capacity samples survive
        n = len(t)
        first = min(n, self.capacity - self._next)
        self._t[self._next:self._next + first], self._v[self._next:self._next + first] = t[:first], v[:first]
        self._t[:n - first], self._v[:n - first] = t[first:], v[first:]
        self._next = (self._next + n) % self.capacity
        self._size = min(self.capacity, self._size + n)

    @property
    def last_time(self) -> float | None:
        return float(self._t[(self._next - 1) % self.capacity]) if self._size else None

    def view(self, since: float | None = None):
        """(times, values) in time order; only the samples at or after *since* when given."""
        import numpy as np

        if self._size < self.capacity:
            t, v = self._t[:self._size].copy(), self._v[:self._size].copy()
        else:
            t = np.concatenate((self._t[self._next:], self._t[:self._next]))
            v = np.concatenate((self._v[self._next:], self._v[:self._next]))
        if since is not None and len(t):
            i = int(np.searchsorted(t, since, side="left"))
            t, v = t[i:], v[i:]
        return t, v


class LiveCurves(QObject):
    """Live series: a ring buffer per series name, drawn at *hz* from a timer.

    Append with :meth:`extend` as samples arrive (any rate); the timer hands only the series that
    changed to their curve's ``setData``, never one call per point. Pass *data* (name -> (x, y)) to
    draw something else than the whole buffer (a window, x relative to now); ``hz=0`` starts no
    timer (the owner calls :meth:`draw`).
    """

    def __init__(self, capacity: int = 86400, hz: float = 30, parent=None, *, data=None):
        super().__init__(parent)
        self.capacity = capacity
        if data is not None:
            self.data = data
        self.buffers: dict[str, RingBuffer] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.plots: dict[str, Plot] = {}
        self.dirty: set[str] = set()
        self.frames = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.draw)
        if hz:
            self.timer.start(max(1, int(1000 / hz)))

    def add(self, name: str, plot: Plot, *, symbol: str | None = None, label: str | None = None) -> RingBuffer:
        """The buffer of *name*, with its curve on *plot*, made on first use."""
        buf = self.buffers.get(name)
        if buf is None:
            buf = self.buffers[name] = RingBuffer(self.capacity)
            self.curves[name] = plot.curve(name, symbol=symbol, label=label)
            self.plots[name] = plot
        return buf

    def extend(self, name: str, times, values, plot: Plot | None = None) -> None:
        buf = self.add(name, plot) if plot is not None else self.buffers[name]
        buf.extend(times, values)
        self.dirty.add(name)

    def clear(self) -> None:
        for plot in set(self.plots.values()):
            plot.clear_curves()
        self.buffers.clear()
        self.curves.clear()
        self.plots.clear()
        self.dirty.clear()

    def data(self, name: str):
        return self.buffers[name].view()

    def draw(self) -> None:
        if not self.dirty:
            return
        for name in self.dirty:
            if name in self.curves:
                curve, (xs, ys) = self.curves[name], self.data(name)
                curve.setData(xs, ys)
                # a lone sample draws no line: a dot shows it (a job's one metric left the plot empty)
                if curve.opts.get("symbol") is None or curve.property("lone_dot"):
                    lone = len(xs) == 1
                    if bool(curve.property("lone_dot")) != lone:
                        curve.setSymbol("o" if lone else None)
                        curve.setProperty("lone_dot", lone)
        self.dirty.clear()
        self.frames += 1
