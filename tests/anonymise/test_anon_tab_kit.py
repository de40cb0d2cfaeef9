"""The Anonymise tab on the kit: a reopened project shows its latest run (the policy back on screen,
risk before/after, output), Run would repeat exactly that policy, and the run's findings are
triaged in the tab with a justification; nothing can be triaged or run read-only."""

from __future__ import annotations

import json
import os
import shutil

from workbench.core.jobs import run_in_process
from workbench.core.plugins import load_plugins
from workbench.core.project import Project

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "demo", "people.csv")


def _project_with_a_run(tmp_path, k: int):
    """A project whose one anonymise run used the CLI's make_policy on the demo people.csv."""
    from workbench_plugins.anonymise import plugin
    from workbench_plugins.anonymise.engine import make_policy
    from workbench_plugins.anonymise.reader import read_table

    src = tmp_path / "people.csv"
    shutil.copy(DEMO, src)
    policy = make_policy(read_table(str(src)), k=k, suppression=0.02, metric="discernibility").to_dict()
    registry = load_plugins()
    path = tmp_path / "anon.wbproj"
    with Project.create(path, plugins=registry.plugins) as project:
        spec = plugin.job_spec("anonymise", target=str(src), output=str(tmp_path / "people-anon.csv"), policy=policy)
        _, status, summary = run_in_process(project, spec, registry=registry)
    assert status == "done", summary
    return path, src, policy, summary


def test_reopened_project_shows_the_latest_run_and_triages_its_findings(tmp_path, qtbot, settings_dir):
    from workbench.gui.api import open_window

    path, src, policy, summary = _project_with_a_run(tmp_path, k=2)
    window = open_window(path, size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    try:
        tab = window.show_plugin_tab("anonymise")
        # the latest run on open: input and output, its policy back in the inspector and the models
        assert tab.input.text() == str(src) and tab.output.text() == str(tmp_path / "people-anon.csv")
        assert tab.views.currentIndex() == 1 and tab.model.rowCount() == 400
        text = tab.risk_text.text()
        assert "Run #" in text and "2-anonymity" in text and "people-anon.csv" in text
        assert f"{summary['risk_before']['p_reidentification']:.4f} →" in text
        assert not tab.chart_risk.pixmap().isNull() and not tab.chart_classes.pixmap().isNull()
        assert (tab.k.value(), tab.suppression.value(), tab.metric.currentText()) == (2, 0.02, "discernibility")
        roles = {tab.inspector.item(i, 0).text(): tab.inspector.cellWidget(i, 3).currentText()
                 for i in range(tab.inspector.rowCount())}
        assert {c for c, r in roles.items() if r == "quasi_identifier"} == set(policy["qi"])
        # Run now would run exactly what ran: the same policy, built by the same function
        assert tab.policy() == policy
        # the run's findings, in the kit's findings view, triaged with a justification
        view = tab.findings
        rules = {view.model.record(r)["rule"] for r in range(view.model.rowCount())}
        assert "AN001" in rules, rules
        row = next(r for r in range(view.model.rowCount()) if view.model.record(r)["rule"] == "AN001")
        view.table.selectRow(row)
        view.ask_justification = lambda title, prompt, required: "k = 2 is agreed with the data owner for this release"
        assert view.triage_selected("accepted_risk")
        stored = [f for f in tab.store.findings(latest=True) if f["rule"] == "AN001"]
        assert stored[0]["triage_status"] == "accepted_risk"
        assert "agreed with the data owner" in json.dumps([dict(e) for e in window.project.events()], default=str)
    finally:
        window.jobs.wait_all()
        window.close_project()


def test_read_only_window_shows_the_run_but_cannot_run_or_triage(tmp_path, qtbot, settings_dir):
    from workbench.gui.api import open_window

    path, *_ = _project_with_a_run(tmp_path, k=2)
    window = open_window(path, read_only=True, size=(1280, 800), theme="dark")
    qtbot.addWidget(window)
    try:
        tab = window.show_plugin_tab("anonymise")
        assert "Run #" in tab.risk_text.text() and not tab.run_button.isEnabled()
        tab.findings.table.selectRow(0)
        assert tab.findings.model.rowCount() and not any(b.isEnabled() for b in tab.findings.triage_buttons.values())
        assert not tab.findings.triage_selected("fixed")
    finally:
        window.close_project()
