"""The Overview as a dashboard: cards that say what to do next and open their pillar, a top-risks
table that shows at least ten rows on a 1280×800 window, the chart and tables beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt

from test_main_window import make_project


def _visible_rows(view) -> int:
    """Rows wholly inside the view's viewport."""
    height = view.viewport().height()
    return sum(1 for row in range(view.model().rowCount())
               if view.rowViewportPosition(row) >= 0
               and view.rowViewportPosition(row) + view.rowHeight(row) <= height)


def test_top_risks_show_ten_rows_at_1280x800_and_cards_say_what_next(tmp_path, qtbot, settings_dir):
    from workbench.gui.api import open_window

    path = make_project(tmp_path / "dash.wbproj", n_findings=40)
    window = open_window(path, size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    qtbot.waitExposed(window)
    overview = window.overview
    assert window.tabs.currentWidget() is overview
    assert overview.risks_model.rowCount() == 20
    assert _visible_rows(overview.risks_view) >= 10, overview.risks_view.viewport().height()
    card = overview.cards["code_audit"]
    high = sum(1 for i in range(40) if i % 3 == 2)  # make_project: every third finding is HIGH
    assert card.next_step.text() == f"{high} open high: fix or triage them"
    assert overview.cards["monitor"].next_step.text() == "Not assessed: open Monitor and run it"
    assert overview.chart.height() >= 150 and overview.chart.pixmap() is not None
    qtbot.mouseClick(overview.cards["robustness"], Qt.LeftButton)
    assert window.tabs.currentWidget() is window.tab_for("robustness")
    window.close_project()


def test_next_step_words():
    from workbench.api import RunRecord
    from workbench.gui.overview import next_step

    done, failed = RunRecord(1, "testing", "test", status="done"), RunRecord(2, "testing", "test", status="failed")
    assert next_step("Tests", None, {}, []) == "Not assessed: open Tests and run it"
    assert next_step("Tests", 90.0, {"MEDIUM": 1}, [done]) == "1 open medium: review it"
    assert next_step("Tests", 70.0, {}, [done]) == "Below 80: see the pillar's report section"
    assert next_step("Tests", 95.0, {}, [done]) == "Nothing open: re-run after changes"
    assert next_step("Tests", 95.0, {}, [done, failed]).startswith("Last run failed")
