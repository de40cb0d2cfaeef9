"""The plot kit of workbench.gui.api on real pyqtgraph widgets: sizes, fixed ranges, SI byte axes,
outside legends, theme changes, live ring buffers, sweeps; and the Monitor tab built on it."""

from __future__ import annotations

import numpy as np


def _plot(qtbot, **kwargs):
    from workbench.gui.api import Plot

    plot = Plot("test", **kwargs)
    qtbot.addWidget(plot)
    plot.resize(500, 320)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def _drawn_ticks(axis) -> list[str]:
    """The tick labels the axis draws now, at the scale (SI prefix included) it draws them with."""
    low, high = axis.range
    scale = axis.autoSIPrefixScale * axis.scale
    strings = []
    for spacing, values in axis.tickValues(low, high, axis.height() or 200):
        strings += axis.tickStrings(values, scale, spacing)
    return strings


def test_percent_axis_stays_0_to_100_whatever_the_data(qtbot):
    plot = _plot(qtbot, x=("time", "s"), y=("CPU", "%"), y_range=(0, 100))
    t = np.arange(60.0)
    plot.curve("cpu.total").setData(t, 99.8 + 0.4 * np.sin(t))  # autoscale would show 99.8-100.2
    qtbot.wait(50)
    low, high = plot.plot_item.viewRange()[1]
    assert -6 <= low <= 0 and 100 <= high <= 106  # 0-100 with a little room, not 99.8-100.2
    assert "%" in plot.plot_item.getAxis("left").labelString()
    assert plot.view.height() >= 200


def test_byte_axis_is_si_prefixed_never_exponent(qtbot):
    plot = _plot(qtbot, y=("disk read", "B/s"))
    t = np.arange(100.0)
    plot.curve("disk.read_Bps").setData(t, 1e7 + 1e7 * (t / 100))
    plot.grab()  # draws: the SI prefix is chosen from the range shown
    qtbot.wait(50)
    axis = plot.plot_item.getAxis("left")
    assert "MB/s" in axis.labelString()
    ticks = _drawn_ticks(axis)
    assert ticks and not any("e+" in s for s in ticks), ticks
    # without units, large values are written in full, not as 1e+07
    bare = _plot(qtbot, y=("count", ""))
    bare.curve("n").setData(t, 1e7 + t * 1e5)
    bare.grab()
    ticks = _drawn_ticks(bare.plot_item.getAxis("left"))
    assert ticks and not any("e+" in s for s in ticks), ticks


def test_legend_lists_every_series_outside_the_data(qtbot):
    plot = _plot(qtbot, y=("load", ""))
    names = [f"cpu.core{i}" for i in range(12)]
    for name in names:
        plot.curve(name).setData([0, 1], [0, 1])
    assert plot.legend_names() == names
    text = plot.legend.text()
    assert all(name in text for name in names)
    # the legend is a label below the plot's view, not an item over the curves
    assert plot.legend.geometry().top() >= plot.view.geometry().bottom()
    assert len({plot.curves[n].opts["pen"].color().name() for n in names}) == len(names)  # distinct colours


def test_theme_switch_recolours_the_plot(qtbot, window):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from workbench.gui.theme import apply_theme

    app = QApplication.instance()
    plot = _plot(qtbot, y=("busy", "%"), y_range=(0, 100))
    light = plot.view.backgroundBrush().color()
    assert light.lightness() > 200
    try:
        window.set_theme("dark")   # View → Theme → Dark
        qtbot.waitUntil(lambda: plot.view.backgroundBrush().color().lightness() < 80, timeout=3000)
        assert plot.view.backgroundBrush().color() == app.palette().color(QPalette.Base)
        axis_pen = plot.plot_item.getAxis("left").textPen().color()
        assert axis_pen.lightness() > 180  # light text on the dark background
    finally:
        apply_theme(app, "light")
    qtbot.waitUntil(lambda: plot.view.backgroundBrush().color() == light, timeout=3000)


def test_sweep_resets_the_x_range(qtbot):
    plot = _plot(qtbot, x=("ε", ""), y=("robust accuracy", "%"), y_range=(0, 100))
    plot.show_sweep({"FGSM": ([0, 0.1, 0.2, 0.3], [98, 80, 50, 20]), "PGD": ([0, 0.1, 0.2, 0.3], [98, 70, 30, 5])})
    assert plot.legend_names() == ["FGSM", "PGD"]
    plot.show_sweep({"FGSM": ([0, 0.01, 0.02], [98, 95, 90])})
    low, high = plot.plot_item.viewRange()[0]
    assert low < 0.001 and 0.02 <= high < 0.03  # the earlier sweep's 0.3 is gone
    assert plot.legend_names() == ["FGSM"] and "PGD" not in plot.legend.text()


def test_ring_buffer_and_live_curves_draw_from_a_timer(qtbot):
    from workbench.gui.api import LiveCurves, RingBuffer

    ring = RingBuffer(5)
    ring.extend([1, 2, 3], [10, 20, 30])
    ring.extend([4, 5, 6, 7], [40, 50, 60, 70])
    t, v = ring.view()
    assert list(t) == [3, 4, 5, 6, 7] and list(v) == [30, 40, 50, 60, 70] and ring.last_time == 7
    assert list(ring.view(since=5)[0]) == [5, 6, 7]
    plot = _plot(qtbot, y=("v", ""))
    live = LiveCurves(capacity=100, hz=30)
    for i in range(250):  # more samples than the ring holds, appended one by one: drawn per frame
        live.extend("s", [float(i)], [float(i % 7)], plot=plot)
    qtbot.waitUntil(lambda: live.frames > 0, timeout=3000)
    assert len(live.curves["s"].xData) == 100 and live.curves["s"].xData[0] == 150
    assert plot.legend_names() == ["s"]


def test_monitor_tab_plots_at_1280x800(tmp_path, qtbot, monkeypatch):
    """The Monitor tab in the real window at 1280×800: plots at least 200 px tall, CPU and memory on
    0-100, rates SI, the GPU said once, and the plots light in the light theme."""
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench.gui.api import open_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    path = tmp_path / "m.wbproj"
    Project.create(path, plugins=load_plugins().plugins).close()
    window = open_window(path, size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    try:
        tab = window.show_plugin_tab("monitor")
        qtbot.waitUntil(lambda: tab.plots[0].view.height() > 0, timeout=5000)
        qtbot.wait(100)
        shown = [p for p in tab.plots if p.isVisible()]
        assert len(shown) >= 4
        assert all(p.view.height() >= 200 for p in shown), [p.view.height() for p in shown]
        for plot in tab.plots[:2]:  # CPU, memory
            low, high = plot.plot_item.viewRange()[1]
            assert low <= 0 and high >= 100 and plot.y_range == (0, 100)
        assert all(p.view.backgroundBrush().color().lightness() > 200 for p in shown)
        assert "B/s" in tab.plots[2].plot_item.getAxis("left").labelString()
        status = tab.gpu_status().removeprefix("GPU: ")
        texts = [w.text() for w in tab.findChildren(type(tab.gpu_label)) if w.isVisible()]
        texts += [p.plot_item.titleLabel.text for p in shown]
        assert sum(status in t for t in texts) == 1, texts  # the GPU status said once
    finally:
        window.close_project()


def test_plot_grid_never_squashes_and_leaves_no_hole(qtbot):
    from workbench.gui.api import Plot, PlotGrid

    plots = [Plot(f"p{i}", y=("v", "")) for i in range(4)]
    grid = PlotGrid(plots, min_width=220)
    qtbot.addWidget(grid)
    grid.resize(1000, 700)  # two rows fit: two columns
    grid.show()
    qtbot.waitExposed(grid)
    qtbot.waitUntil(lambda: grid.columns == 2, timeout=3000)
    grid.resize(1000, 330)  # short: one row of four, none under 200 px
    qtbot.waitUntil(lambda: grid.columns == 4, timeout=3000)
    assert all(p.view.height() >= 200 for p in plots)
    grid.resize(500, 330)  # narrow and short: two columns, scrolling rather than squashing
    qtbot.waitUntil(lambda: grid.columns == 2, timeout=3000)
    qtbot.wait(50)
    assert all(p.view.height() >= 200 for p in plots) and grid.verticalScrollBar().maximum() > 0
    plots[1].hide()  # the next plot moves up into its place
    qtbot.waitUntil(lambda: plots[2].geometry().top() == plots[0].geometry().top(), timeout=3000)
