"""The Tests tab on the kit: its findings triaged in the tab with a justification, the run panel as a
two-column form, the failure pane only beside the results, the history on a 0-100 % plot."""

from __future__ import annotations

from workbench.core.jobs import run_in_process
from workbench.core.plugins import load_plugins
from workbench.core.project import Project

from .conftest import CALC, CALC_TESTS, COVERAGERC, PYTHON, write_tree


def test_findings_triaged_in_the_tab_and_the_pages_have_room(tmp_path, qtbot, settings_dir, registered):
    from workbench.gui.api import open_window
    from workbench_plugins.testing import plugin

    target = write_tree(tmp_path / "calc", {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                            ".coveragerc": COVERAGERC})
    path = tmp_path / "t.wbproj"
    with Project.create(path, plugins=load_plugins().plugins) as project:
        _, status, result = run_in_process(project, plugin.job_spec("test", target=str(target), python=PYTHON))
        assert status == "done", result
    window = open_window(path, size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    try:
        tab = window.show_plugin_tab("testing")
        assert window.width() == 1280  # nothing in the tab forces the window wider
        # a reopened project: the last run's folder and interpreter, ready to run again
        assert tab.panel.target.text() == str(target) and tab.panel.fields["python"].text() == PYTHON
        assert tab.panel._forms[1].rowCount() >= 1  # the run's form in two columns, not one long one
        assert tab.panel.values()["pytest_args"] == [] and tab.panel.values()["timeout"] is None
        assert len(tab.history.listDataItems()) == 2 and tab.history.y_range == (0, 100)
        pages = [tab.pages.tabText(i) for i in range(tab.pages.count())]
        tab.pages.setCurrentIndex(pages.index("Findings"))
        assert tab.details.isHidden()  # the failure pane gives the findings its width
        tab.pages.setCurrentIndex(pages.index("Results"))
        assert not tab.details.isHidden()
        view = tab.findings
        failing = [r for r in range(view.model.rowCount()) if view.model.record(r)["rule"] == "T001"]
        assert len(failing) == 1 and "test_wrong" in view.model.record(failing[0])["message"]
        view.table.selectRow(failing[0])
        view.ask_justification = lambda title, prompt, required: "test_wrong asserts 1 + 1 == 3 on purpose"
        assert view.triage_selected("false_positive")
        stored = [f for f in tab.store.findings(latest=True) if f["rule"] == "T001"]
        assert stored[0]["triage_status"] == "false_positive"
        # the window's Findings tab sees the same decision (one store, one triage)
        window.findings_view.refresh()
        assert all(r["status"] == "false_positive" for r in window.findings_view.all_rows if r["rule"] == "T001")
    finally:
        window.jobs.wait_all()
        window.close_project()
