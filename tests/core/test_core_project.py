"""Project basics: create, reopen, migrations, findings, triage, state hash, disk full."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from wb_core_testjobs import make_findings
from workbench.core.errors import ProjectError, StorageFullError
from workbench.core.findings import Finding
from workbench.core.plugins import Plugin
from workbench.core.project import APPLICATION_ID, SCHEMA_VERSION, Project


class MigratingPlugin(Plugin):
    id = "mig"
    title = "migrating test plugin"
    version = "1"

    def __init__(self, steps):
        self.migrations = steps


STEP1 = (1, "CREATE TABLE mig_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
            "CREATE INDEX mig_items_name ON mig_items (name);")
STEP2 = (2, "ALTER TABLE mig_items ADD COLUMN note TEXT;")


def _finding(fp: str, severity="HIGH", source_status="open", plugin="testplugin") -> Finding:
    return Finding(plugin=plugin, rule="R1", severity=severity, confidence="MEDIUM", title="t",
                   message=f"finding {fp}", path="a.py", line=1, fingerprint=fp, evidence={"code": fp},
                   source_status=source_status)


def _done_run(project, findings, target="tgt") -> int:
    run_id = project.create_run("testplugin", "scan", {"x": 1}, target=target)
    project.start_run(run_id)
    project.add_findings(run_id, findings)
    project.finish_run(run_id, "done", summary={"n": len(findings)})
    return run_id


# ------------------------------------------------------------ create/reopen
def test_create_then_reopen_keeps_identity(tmp_path):
    path = tmp_path / "p.wbproj"
    with Project.create(path, name="Engagement X") as project:
        pid = project.project_id
        created = project.meta("created")
        assert project.name == "Engagement X"
        assert project.schema_version == SCHEMA_VERSION
        assert path.with_name(path.name + ".lock").exists()
    assert not path.with_name(path.name + ".lock").exists()
    head = path.read_bytes()[:100]  # closed: the header on disk is up to date
    assert int.from_bytes(head[68:72], "big") == APPLICATION_ID
    assert int.from_bytes(head[60:64], "big") == SCHEMA_VERSION
    with Project.open(path) as project:
        assert project.project_id == pid and len(pid) == 36
        assert project.name == "Engagement X"
        assert project.meta("created") == created
        assert project.meta("created_by").startswith("ai-security-workbench")
        assert [(m["plugin"], m["version"]) for m in project.applied_migrations()] == [("core", 1), ("core", 2)]
        assert project.events(newest_first=False)[0]["message"].startswith("project created")
    with Project.open(path, readonly=True) as ro:
        with pytest.raises(sqlite3.OperationalError):
            ro.set_meta("k", "v")


def test_default_name_is_the_file_stem(tmp_path):
    with Project.create(tmp_path / "acme-audit.wbproj") as project:
        assert project.name == "acme-audit"


def test_create_refuses_existing_file_and_missing_folder(tmp_path):
    path = tmp_path / "p.wbproj"
    path.write_text("precious")
    with pytest.raises(ProjectError) as info:
        Project.create(path)
    assert str(path) in str(info.value)
    assert path.read_text() == "precious"
    with pytest.raises(ProjectError) as info:
        Project.create(tmp_path / "no" / "such" / "p.wbproj")
    assert "does not exist" in str(info.value)
    assert not (tmp_path / "no").exists()


def test_plugin_migrations_applied_once_and_in_order(tmp_path):
    path = tmp_path / "p.wbproj"
    with Project.create(path, plugins=[MigratingPlugin([STEP1])]) as project:
        project.conn.execute("INSERT INTO mig_items (name) VALUES ('kept')")
        applied = [(m["plugin"], m["version"]) for m in project.applied_migrations()]
        assert applied == [("core", 1), ("core", 2), ("mig", 1)]
    with Project.open(path, plugins=[MigratingPlugin([STEP1, STEP2])]) as project:
        applied = [(m["plugin"], m["version"]) for m in project.applied_migrations()]
        assert applied == [("core", 1), ("core", 2), ("mig", 1), ("mig", 2)]
        assert project.conn.execute("SELECT name, note FROM mig_items").fetchall()[0][:] == ("kept", None)
        assert project.schema_version == SCHEMA_VERSION  # plugin steps leave the core version alone
    with Project.open(path, plugins=[MigratingPlugin([STEP1, STEP2])]) as project:
        assert len(project.applied_migrations()) == 4


def test_failed_migration_rolls_back_and_the_project_opens_for_the_others(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path).close()
    bad = MigratingPlugin([(1, "CREATE TABLE mig_half (id INTEGER);\nTHIS IS NOT SQL;")])
    good = MigratingPlugin([STEP1])
    good.id = "good"
    good.migrations = [(1, "CREATE TABLE good_items (id INTEGER PRIMARY KEY)")]
    with Project.open(path, plugins=[bad, good]) as project:
        assert "mig" in project.plugin_failures and "migration 1" in project.plugin_failures["mig"]
        assert "good" not in project.plugin_failures
        assert project.conn.execute("SELECT 1 FROM sqlite_master WHERE name='good_items'").fetchone()
        assert any(e["kind"] == "plugin" and "mig" in e["message"] for e in project.events())
    with Project.open(path) as project:  # the lock was released, nothing half-applied
        assert [m["plugin"] for m in project.applied_migrations()] == ["core", "core", "good"]
        assert project.conn.execute("SELECT 1 FROM sqlite_master WHERE name='mig_half'").fetchone() is None
        assert project.verify_events().ok


def test_migration_creating_a_table_without_the_plugin_prefix_is_refused(tmp_path):
    sneaky = MigratingPlugin([(1, "CREATE TABLE findings_shadow (id INTEGER)")])
    with Project.create(tmp_path / "p.wbproj", plugins=[sneaky]) as project:
        assert "not named with the plugin's prefix 'mig_'" in project.plugin_failures["mig"]
        assert project.conn.execute("SELECT 1 FROM sqlite_master WHERE name='findings_shadow'").fetchone() is None


# ---------------------------------------------------------- findings/triage
def test_findings_roundtrip(tmp_project):
    run_id = _done_run(tmp_project, [_finding("a"), _finding("b", severity="low")])
    got = tmp_project.findings(run_id)
    assert [f["fingerprint"] for f in got] == ["a", "b"]
    assert got[0]["evidence"] == {"code": "a"}
    assert got[1]["severity"] == "LOW"
    assert all(f["triage_status"] == "open" for f in got)
    assert tmp_project.findings(plugin="other") == []


def test_finding_validation():
    with pytest.raises(ValueError):
        _finding("x", severity="CRITICAL")
    with pytest.raises(ValueError):
        _finding("x", source_status="ignored")


def test_triage_by_fingerprint_persists_across_runs_and_reopen(tmp_path):
    path = tmp_path / "p.wbproj"
    with Project.create(path) as project:
        _done_run(project, [_finding("fp1"), _finding("fp2")])
        assert project.set_triage("fp1", "false_positive", who="tester") == 1
        project.set_triage(["fp2"], "accepted_risk", justification="behind the VPN", who="tester")
    with Project.open(path) as project:
        run2 = _done_run(project, [_finding("fp1"), _finding("fp2"), _finding("fp3")])
        status = {f["fingerprint"]: (f["triage_status"], f["triage_justification"])
                  for f in project.findings(run2)}
        assert status == {"fp1": ("false_positive", ""), "fp2": ("accepted_risk", "behind the VPN"),
                          "fp3": ("open", None)}
        assert project.triage()["fp1"]["who"] == "tester"
        project.set_triage("fp1", "open")
        assert project.findings(run2)[0]["triage_status"] == "open"
        assert project.verify_events().ok


@pytest.mark.parametrize("justification", ["", "   \n"])
def test_accepted_risk_needs_a_justification(tmp_project, justification):
    with pytest.raises(ValueError):
        tmp_project.set_triage("fp", "accepted_risk", justification=justification)
    assert tmp_project.triage() == {}


def test_unknown_triage_status_is_refused(tmp_project):
    with pytest.raises(ValueError):
        tmp_project.set_triage("fp", "ignored")


def test_finding_counts_excludes_suppressed_and_triaged(tmp_project):
    _done_run(tmp_project, [_finding("old1"), _finding("old2")])  # an older run of the same target
    _done_run(tmp_project, [
        _finding("h1"), _finding("h2"),
        _finding("m1", severity="MEDIUM"),
        _finding("s1", severity="MEDIUM", source_status="suppressed"),
        _finding("fp", severity="LOW"), _finding("ar", severity="LOW"),
    ])
    other = _done_run(tmp_project, [_finding("o1", plugin="otherplugin")], target="elsewhere")
    assert other
    tmp_project.set_triage("fp", "false_positive")
    tmp_project.set_triage("ar", "accepted_risk", justification="ok")
    tmp_project.set_triage("h2", "fixed")
    assert tmp_project.finding_counts() == {"testplugin": {"HIGH": 1, "MEDIUM": 1},
                                            "otherplugin": {"HIGH": 1}}
    # runs that did not finish are not "current"
    failed = tmp_project.create_run("testplugin", "scan", {}, target="tgt")
    tmp_project.add_findings(failed, [_finding("z", severity="LOW")])
    tmp_project.finish_run(failed, "failed", error="x")
    assert tmp_project.finding_counts()["testplugin"] == {"HIGH": 1, "MEDIUM": 1}


def test_finding_counts_empty_project(tmp_project):
    assert tmp_project.finding_counts() == {}


def test_previous_run(tmp_project):
    r1 = _done_run(tmp_project, [])
    r2 = _done_run(tmp_project, [])
    assert tmp_project.previous_run("testplugin", "scan", "tgt", r2)["id"] == r1
    assert tmp_project.previous_run("testplugin", "scan", "tgt", r1) is None
    assert tmp_project.previous_run("testplugin", "scan", "other", r2) is None


# -------------------------------------------------------------------- state
def test_state_sha256_changes_only_with_content(tmp_path):
    path = tmp_path / "p.wbproj"
    with Project.create(path) as project:
        run_id = _done_run(project, [_finding("a")])
        first = project.state_sha256()
        assert project.state_sha256() == first
        project.add_findings(run_id, [_finding("b")])
        second = project.state_sha256()
        assert second != first
    with Project.open(path, readonly=True) as ro:
        assert ro.state_sha256() == second
    with Project.open(path) as rw:  # a writer's open (migrate, mark) changes nothing when nothing is due
        assert rw.state_sha256() == second
        rw.add_artifact("blob", "b.bin", b"\x00\x01")
        assert rw.state_sha256() != second


def test_artifacts_and_metrics_roundtrip(tmp_project):
    aid = tmp_project.add_artifact("model", "m.bin", b"abc" * 10, plugin="testplugin")
    (art,) = tmp_project.artifacts()
    assert art["id"] == aid and art["size"] == 30
    assert art["sha256"] == hashlib.sha256(b"abc" * 10).hexdigest()
    tmp_project.add_metrics("latency", [(1.0, 5.0), (2.0, 6.0), (2.0, 7.0)])
    assert tmp_project.metrics("latency") == [(1.0, 5.0), (2.0, 7.0)]
    assert tmp_project.metrics("latency", since=2.0) == [(2.0, 7.0)]


def test_summary_counts(tmp_project):
    _done_run(tmp_project, [_finding("a"), _finding("b")])
    s = tmp_project.summary()
    assert s["counts"]["runs"] == 1 and s["counts"]["findings"] == 2
    assert s["project_id"] == tmp_project.project_id and s["schema"] == SCHEMA_VERSION


# ---------------------------------------------------------------- disk full
def test_storage_full_keeps_earlier_batches(tmp_path):
    path = tmp_path / "full.wbproj"
    batch = 50
    project = Project.create(path)
    run_id = project.create_run("testplugin", "fill", {})
    pages = project.conn.execute("PRAGMA page_count").fetchone()[0]
    assert project.conn.execute(f"PRAGMA max_page_count = {pages + 40}").fetchone()[0] == pages + 40
    committed = 0
    with pytest.raises(StorageFullError) as info:
        for b in range(10_000):
            project.add_findings(run_id, make_findings(b, batch))
            committed += 1
    assert committed >= 1  # some batches fitted: the test covers "earlier work is intact"
    assert str(path) in str(info.value) and "full" in str(info.value)
    assert project.conn.execute("SELECT COUNT(*) FROM findings").fetchone()[0] == committed * batch
    project.close()
    with Project.open(path) as reopened:
        assert reopened.conn.execute("SELECT COUNT(*) FROM findings").fetchone()[0] == committed * batch
        messages = {f["message"] for f in reopened.findings(run_id)}
        assert f"batch {committed - 1} item {batch - 1}" in messages
        assert f"batch {committed} item 0" not in messages
        assert reopened.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert reopened.verify_events().ok
        # the connection limit does not persist: work goes on after space is freed
        reopened.add_findings(run_id, make_findings(committed, batch))


def test_transaction_nesting_and_rollback(tmp_project):
    with pytest.raises(RuntimeError):
        with tmp_project.transaction():
            tmp_project.set_meta("a", "1")
            with tmp_project.transaction():
                tmp_project.set_meta("b", "2")
            raise RuntimeError("abort")
    assert tmp_project.meta("a") is None and tmp_project.meta("b") is None
    tmp_project.set_meta("a", "3")
    assert tmp_project.meta("a") == "3"
