"""The Overview tab: score cards with their trend, top open risks across plugins (a double-click
opens the plugin's tab), what has not been assessed yet."""

from __future__ import annotations


from workbench.core.plugins import load_plugins
from workbench.core.project import Project

from .test_report_content import _audit_run


def test_overview_cards_trend_risks_and_not_assessed(window, tmp_path, qtbot):
    from PySide6.QtCore import Qt

    path = tmp_path / "o.wbproj"
    with Project.create(path, plugins=load_plugins().plugins) as p:
        # Target a gets worse, then better: the trend has three points.
        _audit_run(p, "/src/a", 1000, [("B101", "LOW", "LOW")])
        _audit_run(p, "/src/a", 1000, [("B602", "HIGH", "HIGH"), ("B301", "MEDIUM", "LOW")])
        _audit_run(p, "/src/b", 1000, [])
    assert window.open_project(path)
    overview = window.overview
    card = overview.cards["code_audit"]
    from workbench_plugins.code_audit.score import score_from

    # Each point is the plugin's score as of that run, over the latest run of each target then.
    low = [{"severity": "LOW", "confidence": "LOW", "source_status": "open", "triage_status": "open"}]
    worse = [{"severity": s, "confidence": c, "source_status": "open", "triage_status": "open"}
             for s, c in (("HIGH", "HIGH"), ("MEDIUM", "LOW"))]
    assert [v for _, v in card.points] == [score_from(low, 1000), score_from(worse, 1000), score_from(worse, 2000)]
    assert not card.trend.pixmap().isNull()
    for pid, other in overview.cards.items():
        if pid != "code_audit":
            assert other.value.text() == "not assessed"
    text = overview.not_assessed.text()
    assert "Not assessed yet" in text and "Code audit" not in text and "Monitor" in text

    rows = overview.risks_model._rows
    assert [(r["severity"], r["confidence"]) for r in rows] == [("HIGH", "HIGH"), ("MEDIUM", "LOW")]
    assert rows[0]["title"] == "B602 some rule name"  # the LOW of the superseded run is not listed
    window.tabs.setCurrentIndex(0)
    view = overview.risks_view
    index = overview.risks_model.index(0, 3)
    view.scrollTo(index)
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.tab_for("code_audit"), timeout=5000)
