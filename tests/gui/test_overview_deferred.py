"""The Overview's chart, score trends and hidden Targets and Runs sub-tabs are filled just after its
first paint (or when a sub-tab is shown or its model read), not while the project opens."""

from __future__ import annotations

from test_main_window import make_project


def test_chart_trends_and_hidden_sub_tabs_wait_for_the_paint(window, tmp_path, qtbot):
    path = make_project(tmp_path / "d.wbproj", n_findings=12)
    assert window.open_project(path)
    overview = window.overview
    # Opened: the visible parts are filled, the hidden sub-tabs and the chart wait.
    assert overview.counts_model.rowCount() == 1
    assert overview._targets_model.rowCount() == 0 and overview._runs_model.rowCount() == 0
    assert overview.chart.pixmap().isNull()
    card = overview.cards["code_audit"]
    assert card.value.text() != "not assessed"  # the score: now
    assert card._trend_later is not None and card.trend.text() == ""  # its trend: after the paint

    qtbot.waitUntil(lambda: not overview.chart.pixmap().isNull(), timeout=3000)  # the next event-loop turn
    assert card._trend_later is None and card.trend.text() == "first run" and len(card.points) == 1
    # ... and the hidden sub-tabs with them (still hidden: their columns fit as before)
    assert [r["target"] for r in overview._targets_model._rows] == ["/src"]
    assert overview._targets_model._rows[0]["HIGH"] == 4  # every third of 12 findings is HIGH
    assert [r["title"] for r in overview._runs_model._rows] == ["audit src"]

    # A refresh leaves them stale again; a click on the sub-tab fills it, as reading the model
    # does (scripts, tests), from the project as it is now.
    window.project.create_run("code_audit", "audit", {"target": "/other"}, title="audit other", target="/other")
    overview.refresh()
    overview.side.setCurrentWidget(overview.runs_view)
    assert [r["title"] for r in overview._runs_model._rows] == ["audit other", "audit src"]
    overview.side.setCurrentIndex(0)
    window.project.create_run("code_audit", "audit", {"target": "/third"}, title="audit third", target="/third")
    overview.refresh()
    assert overview._runs_model.rowCount() == 2  # stale, not re-read yet
    assert overview.runs_model.rowCount() == 3
    assert overview.targets_model.rowCount() == 1  # the new runs have not finished: no latest run yet

    window.close_project()
    assert overview.runs_model.rowCount() == 0 and overview.targets_model.rowCount() == 0
