"""A stored finding is a Finding (one definition of the fields) that cannot be changed, read
straight from the rows; the Overview's reads of one run's findings happen once per refresh."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from workbench.core.findings import Finding
from workbench.core.project import Project
from workbench.core.stored import StoredFinding


def _project_with_findings(path, n=5):
    project = Project.create(path)
    run = project.create_run("p", "job")
    project.start_run(run)
    project.add_findings(run, [Finding("p", f"R{i}", "HIGH", "LOW", f"t{i}", "m", path="a.py", line=i + 1,
                                       column=i, fingerprint=f"fp{i}", evidence={"code": f"x = {i}"})
                               for i in range(n)])
    project.finish_run(run, "done", summary={})
    return project, run


def test_a_stored_finding_is_a_frozen_finding_with_its_id_run_and_triage(tmp_path):
    project, run = _project_with_findings(tmp_path / "p.wbproj")
    with project:
        f = project.finding_records(run)[2]
        assert isinstance(f, Finding) and type(f) is StoredFinding
        names = {x.name for x in dataclasses.fields(StoredFinding)}
        assert names == {x.name for x in dataclasses.fields(Finding)} | {"id", "run_id", "triage_status",
                                                                           "triage_justification"}
        assert (f.run_id, f.rule, f.line, f.column, f.evidence, f.status) == (run, "R2", 3, 2, {"code": "x = 2"},
                                                                             "open")
        assert f.describe() == "plugin 'p', rule 'R2', finding 't2' at a.py:3"  # Finding's own methods serve
        assert list(f)[:3] == ["id", "run_id", "plugin"] and f["col"] == 2 and f.get("nope", 7) == 7
        assert "col" in f and "nope" not in f and dict(f) == f.as_dict()
        with pytest.raises(dataclasses.FrozenInstanceError):
            f.severity = "LOW"
        with pytest.raises(dataclasses.FrozenInstanceError):
            del f.rule
        with pytest.raises(TypeError):
            f["severity"] = "LOW"
        assert f.severity == "HIGH"
        # made like any dataclass, and copied whole
        again = StoredFinding(**f.as_dict())
        assert again == f and pickle.loads(pickle.dumps(f)) == f
        closed = dataclasses.replace(f, triage_status="fixed")
        assert (closed.status, closed.is_open, f.is_open) == ("fixed", False, True)
        with pytest.raises(TypeError, match=r"missing fields \['run_id'\]"):
            StoredFinding(id=1, plugin="p", rule="R", severity="LOW", confidence="LOW", title="t", message="m")
        with pytest.raises(TypeError, match=r"unknown fields \['colour'\]"):
            StoredFinding(**f.as_dict(), colour="red")
        # what an older project holds is read as it is, not refused like a new Finding
        project.conn.execute("UPDATE findings SET evidence=? WHERE id=?", ('"a string"', f.id))
        assert project.finding_record(f.id).evidence == "a string"


def test_a_refresh_reads_a_runs_findings_once_and_a_triage_reads_again(tmp_path):
    project, run = _project_with_findings(tmp_path / "p.wbproj")
    with project:
        selects: list[str] = []
        project.conn.set_trace_callback(lambda sql: selects.append(sql) if "FROM findings" in sql else None)
        project.finding_records(run, "p")
        project.finding_records(run, "p")
        assert len(selects) == 2  # outside the block every call reads the file
        selects.clear()
        with project.reading_findings_once():
            first = project.finding_records(run, "p")
            first.pop()  # the caller's list, not the cache's
            assert len(project.finding_records(run, "p")) == 5 and len(selects) == 1
            project.set_triage(["fp0"], "false_positive", "test data")
            after = project.finding_records(run, "p")
            assert len(selects) == 2 and after[0].status == "false_positive"
            with project.reading_findings_once():  # nested: the same cache
                project.finding_records(run, "p")
            project.finding_records(run, "p")
            assert len(selects) == 2
        project.finding_records(run, "p")
        assert len(selects) == 3
        project.conn.set_trace_callback(None)
