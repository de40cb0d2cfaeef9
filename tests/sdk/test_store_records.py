"""What the store returns (typed records), what it refuses (evidence that is not a dict of JSON
values), the public ways to run a job from a test, and the GUI reading the core through them."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from workbench.api import (
    Finding,
    FindingError,
    RunRecord,
    StoredFinding,
    run_in_process,
    run_in_worker,
)
from workbench.core.project import Project

REPO = Path(__file__).resolve().parents[2]


def _spec(job: str, **params):
    from wb_core_testjobs import plugin  # tests/core, on the path for workers too (tests/conftest.py)

    return plugin.job_spec(job, **params)


def test_runs_and_findings_come_back_as_typed_records(tmp_path):
    with Project.create(tmp_path / "p.wbproj") as project:
        first, status, summary = run_in_process(project, _spec("write_batches", batches=2, size=2, pause=0))
        assert status == "done" and summary == {"batches": 2, "findings": 4}
        second, status, _ = run_in_process(project, _spec("write_batches", batches=1, size=3, pause=0))
        assert status == "done"
        store = project.store("testplugin")

        runs = store.runs()
        assert [type(r) for r in runs] == [RunRecord, RunRecord] and [r.id for r in runs] == [first, second]
        run = store.run(first)
        assert (run.plugin, run.job, run.status, run.done) == ("testplugin", "write_batches", "done", True)
        assert run.params == {"batches": 2, "size": 2, "pause": 0} and run.summary == summary
        assert run.started <= run.finished and run.error is None and run.pid == os.getpid()
        assert store.latest_run().id == second and [r.id for r in store.latest_runs()] == [second]
        assert store.previous_run(second).id == first and store.previous_run(first) is None
        assert store.of("someone_else").run(first) is None  # another plugin's view does not see it
        assert store.active_runs() == [] and store.active_runs(every_plugin=True) == []

        found = store.findings(run_id=first)
        assert len(found) == 4 and all(type(f) is StoredFinding for f in found)
        f = found[0]
        assert (f.run_id, f.rule, f.severity, f.confidence, f.path, f.line) == (first, "T001", "MEDIUM", "HIGH",
                                                                                 "src/file_0.py", 1)
        assert (f.status, f.is_open, f.triage_status, f.where) == ("open", True, "open", "src/file_0.py:1")
        assert store.finding(f.id) == f and store.of("someone_else").finding(f.id) is None
        assert len(store.findings(latest=True)) == 3

        store.set_triage([f.fingerprint], "accepted_risk", "test data")
        triaged = store.finding(f.id)
        assert (triaged.status, triaged.is_open, triaged.triage_justification) == ("accepted_risk", False,
                                                                                   "test data")
        assert len(store.findings(run_id=first, open_only=True)) == 3
        # Triage is by fingerprint: the second run's twin of that finding is closed as well.
        assert project.open_counts_by_run([first, second]) == {first: {"MEDIUM": 3}, second: {"MEDIUM": 2}}
        assert project.last_event_id() == project.events(limit=1)[0]["id"]

        # Frozen: what the store returned cannot be changed in place by mistake.
        with pytest.raises(dataclasses.FrozenInstanceError):
            run.status = "failed"
        with pytest.raises(TypeError):
            f["severity"] = "LOW"


def test_records_still_read_as_the_old_dicts(tmp_path):
    """Code written when the store returned dicts keeps working (a transition; attributes are the API)."""
    with Project.create(tmp_path / "p.wbproj") as project:
        run_id, _, _ = run_in_process(project, _spec("write_batches", batches=1, size=1, pause=0))
        store = project.store("testplugin")
        run, (f,) = store.run(run_id), store.findings(run_id=run_id)
        assert run["id"] == run.id and run.get("target") is None and run.get("nope", 7) == 7
        assert "summary" in run and "nope" not in run
        assert dict(run) == run.as_dict() and {**run}["job"] == "write_batches"
        assert f["col"] == f["column"] == f.column  # the table's column name reads too
        assert dict(f)["fingerprint"] == f.fingerprint
        with pytest.raises(KeyError):
            f["nope"]
        # The same fields as the core's own dict rows (column spelled ``column``).
        old = project.findings(run_id=run_id)[0]
        assert {("column" if k == "col" else k) for k in old} == set(f)
        assert set(project.runs()[0]) == set(run)


@pytest.mark.parametrize("evidence, says", [
    ("def f(): eval(x)", "evidence must be a dict"),
    (["a", "b"], "evidence must be a dict"),
    ({"lines": {1, 2}}, "evidence['lines'] is a set"),
    ({"nested": [{"path": Path("/x")}]}, "evidence['nested'][0]['path'] is a PosixPath"),
    ({1: "one"}, "has a key 1 that is not a string"),
])
def test_evidence_that_is_not_a_dict_of_json_values_is_refused_when_made(evidence, says):
    with pytest.raises(FindingError) as err:
        Finding(plugin="myplugin", rule="MY001", severity="LOW", confidence="LOW", title="eval used",
                message="m", path="app.py", line=3, evidence=evidence)
    text = str(err.value)
    assert says in text
    assert "plugin 'myplugin'" in text and "rule 'MY001'" in text and "'eval used' at app.py:3" in text
    assert isinstance(err.value, ValueError)  # what callers that caught ValueError still catch


def test_evidence_changed_after_the_finding_was_made_is_refused_when_stored(tmp_path):
    good = Finding(plugin="testplugin", rule="T1", severity="HIGH", confidence="HIGH", title="ok", message="m",
                   evidence={"code": "eval(x)", "n": 3, "ratio": 0.5, "flags": [True, None], "more": {"a": (1, 2)}},
                   fingerprint="fp-ok")
    bad = Finding(plugin="testplugin", rule="T2", severity="LOW", confidence="LOW", title="later", message="m",
                  fingerprint="fp-bad")
    bad.evidence = "a string set after creation"
    with Project.create(tmp_path / "p.wbproj") as project:
        run_id = project.create_run("testplugin", "manual")
        store = project.store("testplugin")
        with pytest.raises(FindingError, match=r"plugin 'testplugin', rule 'T2', finding 'later': evidence must"):
            store.add_findings(run_id, [good, bad])
        assert store.findings(run_id=run_id) == []  # all or nothing: the good one is not half-stored
        assert store.add_findings(run_id, [good]) == 1
        (stored,) = store.findings(run_id=run_id)
        assert stored.evidence == {"code": "eval(x)", "n": 3, "ratio": 0.5, "flags": [True, None],
                                   "more": {"a": [1, 2]}}
        with pytest.raises(FindingError, match="stored through 'other'"):
            project.store("other").add_findings(run_id, [good])


def test_run_in_worker_runs_the_job_in_another_process(tmp_path):
    seen = []
    with Project.create(tmp_path / "p.wbproj") as project:
        run_id, status, summary = run_in_worker(
            project, _spec("write_batches", batches=2, size=2, pause=0),
            on_progress=lambda done, total, message: seen.append((done, total, message)))
        assert (status, summary) == ("done", {"batches": 2, "findings": 4}), summary
        run = project.store("testplugin").run(run_id)
        assert run.status == "done" and run.pid not in (None, os.getpid())
        assert len(project.store("testplugin").findings(run_id=run_id)) == 4
        assert seen and seen[-1][:2] == (2, 2)
        run_id, status, error = run_in_worker(project, _spec("fail_clearly"))
        assert status == "failed" and error
        assert project.store("testplugin").run(run_id).status == "failed"


def test_run_in_worker_cancels_a_job_past_its_timeout(tmp_path):
    """A job that never checks for cancel is ended (its process) once the grace period is over."""
    with Project.create(tmp_path / "p.wbproj") as project:
        run_id, status, _ = run_in_worker(project, _spec("ignore_cancel"), timeout=0.5)
        assert status == "cancelled"
        assert project.store("testplugin").run(run_id).status == "cancelled"
        assert project.store("testplugin").active_runs() == []


def test_findings_view_loads_through_the_store(tmp_path, qtbot):
    from workbench.gui.api import FindingsView

    with Project.create(tmp_path / "p.wbproj") as project:
        run_id, _, _ = run_in_process(project, _spec("write_batches", batches=1, size=3, pause=0))
        store = project.store("testplugin")
        store.set_triage([store.findings(run_id=run_id)[0].fingerprint], "false_positive")
        shown = [run_id]
        view = FindingsView(lambda: store.findings(run_id=shown[0]) if shown[0] else [],
                            lambda found, status, why: store.set_triage([f["fingerprint"] for f in found], status, why))
        qtbot.addWidget(view)
        view.refresh()
        assert view.model.rowCount() == 2  # the filter shows open findings
        assert {r["status"] for r in view.model.visible()} == {"open"}
        shown[0] = None
        view.refresh()
        assert view.model.rowCount() == 0


GUI_SQL = re.compile(r"\.execute(many)?\(|\b(SELECT|INSERT INTO|DELETE FROM)\b|\bUPDATE \w+ SET\b")


def test_the_gui_reads_the_core_through_its_read_apis_not_sql():
    offenders = [f"{path.relative_to(REPO)}:{n}: {line.strip()}"
                 for path in sorted((REPO / "workbench" / "gui").glob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if GUI_SQL.search(line)]
    assert offenders == []


def test_the_report_shows_evidence_a_plugin_stored_and_an_older_projects_string(tmp_path):
    """Checked evidence reaches the report; a string stored before the check is shown, not dropped."""
    import json

    from workbench.core.report import ReportOptions, findings_section, latest_findings

    with Project.create(tmp_path / "p.wbproj") as project:
        run_id = project.create_run("testplugin", "manual")
        store = project.store("testplugin")
        store.add_findings(run_id, [
            Finding(plugin="testplugin", rule="T1", severity="HIGH", confidence="HIGH", title="new", message="m1",
                    evidence={"detail": "checked detail"}, fingerprint="fp-1"),
            Finding(plugin="testplugin", rule="T2", severity="LOW", confidence="LOW", title="old", message="m2",
                    fingerprint="fp-2")])
        with project.transaction():  # what an older workbench let a plugin store
            project.conn.execute("UPDATE findings SET evidence=? WHERE fingerprint='fp-2'",
                                 (json.dumps("def f(): eval(x)"),))
        project.finish_run(run_id, "done", summary={})
        section = findings_section(latest_findings(project), ReportOptions(), {})
        text = "\n".join(str(cell) for block in section.blocks for row in getattr(block, "rows", []) for cell in row)
        assert "Evidence: checked detail" in text
        assert "Evidence: def f(): eval(x)" in text
        (old,) = [f for f in store.findings(run_id=run_id) if f.rule == "T2"]
        assert old.evidence == "def f(): eval(x)"  # read back as stored; only new writes are checked
