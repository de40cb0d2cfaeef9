"""Cross-pillar: code-audit findings on lines no test executes, from a real audit and a real test run."""

from __future__ import annotations

import os

from workbench.core.jobs import run_in_process
from workbench.core.plugins import PluginStatus, Registry
from workbench.core.project import Project
from workbench_plugins.code_audit import plugin as audit_plugin
from workbench_plugins.testing import plugin
from workbench_plugins.testing.untested import (uncovered_lines_of_target, untested_findings,
                                                 untested_for_target)

from .conftest import PYTHON, write_tree

REGISTRY = Registry([
    PluginStatus("testing", "workbench_plugins.testing:plugin", None, plugin.version, True, plugin=plugin),
    PluginStatus("code_audit", "workbench_plugins.code_audit:plugin", None, audit_plugin.version, True,
                 plugin=audit_plugin),
])

APP = '''
    def tested(expr):
        return eval(expr)


    def untested(expr):
        value = eval(expr)
        return value
'''


def test_audit_findings_on_lines_no_test_runs_are_untested(tmp_path):
    target = write_tree(tmp_path / "app_project", {
        "app.py": APP, ".coveragerc": "[run]\nsource = app\n",
        "tests/test_app.py": "from app import tested\n\n\ndef test_tested():\n    assert tested('1 + 1') == 2\n",
    })
    with Project.create(tmp_path / "x.wbproj", plugins=[plugin, audit_plugin]) as project:
        store = project.store("testing")
        assert uncovered_lines_of_target(store, str(target)) is None  # no test run: unknown
        audit_id, status, summary = run_in_process(
            project, audit_plugin.job_spec("audit", target=str(target), include_secrets=False,
                                           include_models=False), registry=REGISTRY)
        assert status == "done", summary
        evals = sorted(f["line"] for f in project.store("code_audit").findings(run_id=audit_id)
                       if f["path"] == "app.py" and "eval" in f["message"])
        assert evals == [2, 6]
        # Audited but never tested: nothing is called untested.
        before = untested_for_target(store, str(target))
        assert (before["tested"], before["findings"]) == (False, []) and before["audited"] >= 2
        _, status, run = run_in_process(project, plugin.job_spec("test", target=str(target), python=PYTHON),
                                        registry=REGISTRY)
        assert status == "done" and run["passed"] == 1, run
        app = os.path.normpath(str(target / "app.py"))
        # Lines 6-7 (untested's body) never ran; the def lines and tested's body did.
        assert uncovered_lines_of_target(store, str(target)) == {app: {6, 7}}
        result = untested_for_target(store, str(target))
        assert result["tested"] is True
        assert [(f["abs_path"], f["line"], f["rule"]) for f in result["findings"] if "eval" in f["message"]] \
            == [(app, 6, "B307")]
        assert all(f["line"] in (6, 7) for f in result["findings"])
        # The helper on its own: a Finding-like dict with a path relative to the audit run's target.
        audit_rows = project.store("code_audit").findings(run_id=audit_id)
        assert {f["line"] for f in untested_findings(store, audit_rows)} == {f["line"] for f in result["findings"]}
        # Shown in the report section too.
        from workbench_plugins.testing.report import report_sections

        (section,) = report_sections(store, None)
        tables = [b for b in section.blocks if getattr(b, "caption", "") and "no test executes" in b.caption]
        assert tables and any(row[1] == "app.py:6" or row[1].endswith("app.py:6") for row in tables[0].rows)
