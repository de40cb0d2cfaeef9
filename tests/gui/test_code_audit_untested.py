"""The code audit tab marks findings on lines that the latest test run of the target did not execute."""

from __future__ import annotations

import sys

from workbench.core.jobs import run_in_process
from workbench.core.plugins import load_plugins
from workbench.core.project import Project

APP = "def tested(expr):\n    return eval(expr)\n\n\ndef untested(expr):\n    value = eval(expr)\n    return value\n"


def test_untested_filter_and_detail(window, tmp_path):
    target = tmp_path / "app_project"
    (target / "tests").mkdir(parents=True)
    (target / "app.py").write_text(APP)
    (target / ".coveragerc").write_text("[run]\nsource = app\n")
    (target / "tests" / "test_app.py").write_text(
        "from app import tested\n\n\ndef test_tested():\n    assert tested('1 + 1') == 2\n")
    registry = load_plugins()
    audit, testing = registry.get("code_audit"), registry.get("testing")
    path = tmp_path / "p.wbproj"
    with Project.create(path, plugins=registry.plugins) as project:
        _, status, _ = run_in_process(project, audit.job_spec("audit", target=str(target), include_secrets=False,
                                                              include_models=False))
        assert status == "done"
        _, status, run = run_in_process(project, testing.job_spec("test", target=str(target), python=sys.executable))
        assert status == "done" and run["passed"] == 1, run
    assert window.open_project(path)
    tab = window.tab_for("code_audit")
    tab.view.status.setCurrentIndex(1)  # all statuses
    tab.untested_only.setChecked(True)
    shown = [tab.view.model.record(r) for r in range(tab.view.model.rowCount())]
    assert [(r["rule"], r["line"]) for r in shown] == [("B307", 6)]
    tab.view.table.selectRow(0)
    assert "Untested" in tab.view.details.toPlainText()
    tab.untested_only.setChecked(False)
    records = [tab.view.model.record(r) for r in range(tab.view.model.rowCount())]
    assert ("B307", 2) in [(r["rule"], r["line"]) for r in records] and len(records) > 1
    tab.view.table.selectRow([(r["rule"], r["line"]) for r in records].index(("B307", 2)))  # the tested eval
    assert "Untested" not in tab.view.details.toPlainText()
