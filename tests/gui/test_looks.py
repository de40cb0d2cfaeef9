"""Issue 22, screenshots review: a chart in a narrow pane is drawn at the pane's size (not a wide
image shrunk to 4 px text), and an empty code view says what will show there."""

from __future__ import annotations


def test_chart_label_draws_the_chart_at_its_own_size(qtbot):
    from workbench.core.report import severity_chart
    from workbench.gui.kit_charts import ChartLabel

    label = ChartLabel()
    qtbot.addWidget(label)
    label.resize(320, 200)
    label.set_chart(severity_chart("by severity", {"HIGH": 3, "LOW": 1}))
    label.show()
    qtbot.wait(10)
    pixmap = label.pixmap()
    assert pixmap.width() == 320 and 170 <= pixmap.height() <= 200  # the label's width, about 16:9
    label.resize(500, 260)
    qtbot.wait(10)
    assert label.pixmap().width() == 500  # redrawn at the new size, not stretched


def test_empty_code_view_has_a_hint_and_no_line_number(qtbot):
    from workbench.gui.code_view import CodeView

    view = CodeView()
    qtbot.addWidget(view)
    view.setPlaceholderText("The code shows here")
    view.resize(300, 120)
    view.show()
    qtbot.wait(10)
    gutter = view._gutter.grab().toImage()
    colours = {gutter.pixelColor(x, y).rgb() for x in range(gutter.width()) for y in range(gutter.height())}
    assert len(colours) == 1  # the gutter's background only: no lone "1" beside the hint
    view.set_code("a = 1\nb = 2\n")
    qtbot.wait(10)
    gutter = view._gutter.grab().toImage()
    colours = {gutter.pixelColor(x, y).rgb() for x in range(gutter.width()) for y in range(gutter.height())}
    assert len(colours) > 1  # numbers drawn


def test_fill_table_sorts_numbers_as_numbers(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTableWidget

    from workbench.gui.api import fill_table

    table = QTableWidget()
    qtbot.addWidget(table)
    fill_table(table, ["run", "accuracy %", "attack"], [["#12", "100.0", "pgd"], ["#9", "85.9", "fgsm"],
                                                        ["#100", "9.5", "noise"]])
    table.setSortingEnabled(True)
    table.sortItems(1, Qt.AscendingOrder)
    assert [table.item(r, 1).text() for r in range(3)] == ["9.5", "85.9", "100.0"]
    table.sortItems(0, Qt.AscendingOrder)
    assert [table.item(r, 0).text() for r in range(3)] == ["#9", "#12", "#100"]
    table.sortItems(2, Qt.AscendingOrder)
    assert [table.item(r, 2).text() for r in range(3)] == ["fgsm", "noise", "pgd"]


def test_rates_never_scale_below_zero_and_a_lone_sample_shows(qtbot):
    """A flat line of zero bytes/s read "-400 mB/s" to "400 mB/s"; a job's single metric drew nothing."""
    from workbench.gui.api import LiveCurves, Plot

    plot = Plot("Network", y=("received / sent", "B/s"))
    plot.nonnegative_y()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.show()
    curve = plot.curve("rx")
    view = plot.plot_item.getViewBox()
    curve.setData([0, 1, 2], [0, 0, 0])
    qtbot.wait(20)
    low, high = view.viewRange()[1]
    assert -0.1 < low < 0 and high >= 0.9  # 0 just above the bottom, at least 1 B/s of span, nothing negative
    curve.setData([0, 1, 2], [0, 5e6, 0])
    qtbot.wait(20)
    low, high = view.viewRange()[1]
    assert high >= 5e6 and -0.06 * high < low < 0

    live = LiveCurves(hz=0)
    jobs = Plot("Jobs")
    qtbot.addWidget(jobs)
    live.extend("job.a", [1.0], [66.0], plot=jobs)
    live.draw()
    assert live.curves["job.a"].opts["symbol"] == "o"  # one sample: a dot
    live.extend("job.a", [2.0], [70.0])
    live.draw()
    assert live.curves["job.a"].opts["symbol"] is None  # a line from two on
