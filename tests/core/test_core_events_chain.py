"""The audit log is a hash chain: edits and deletions are found, and named."""

from __future__ import annotations

import json

import pytest

from wb_core_helpers import raw_connect, run_cli
from workbench.core.project import Project, event_hash

N_EVENTS = 10  # logged by the test, after the 'project created' event (id 1)


@pytest.fixture
def logged(tmp_path):
    path = tmp_path / "log.wbproj"
    with Project.create(path) as project:
        for i in range(N_EVENTS):
            project.log_event("test", f"event number {i}", plugin="testplugin", data={"i": i})
        assert project.verify_events().ok
    return path


def _last_id(path) -> int:
    conn = raw_connect(path)
    try:
        return conn.execute("SELECT MAX(id) FROM events").fetchone()[0]
    finally:
        conn.close()


def _tamper(path, *statements) -> None:
    conn = raw_connect(path)
    try:
        for sql, args in statements:
            conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def _verify(path):
    with Project.open(path, readonly=True) as project:
        return project.verify_events()


def test_intact_chain(logged):
    report = _verify(logged)
    assert report.ok and report.first_broken_id is None
    assert report.count == N_EVENTS + 1


def test_chain_survives_reopen_and_more_events(logged):
    with Project.open(logged) as project:
        project.log_event("test", "after reopen")
        run_id = project.create_run("testplugin", "x", {})
        project.finish_run(run_id, "done")
        project.set_triage("fp", "false_positive")
    assert _verify(logged).ok


def test_edited_message(logged):
    _tamper(logged, ("UPDATE events SET message='nothing happened' WHERE id=5", ()))
    report = _verify(logged)
    assert not report.ok
    assert report.first_broken_id == 5
    assert "edited" in report.message


def test_edited_data(logged):
    _tamper(logged, ("UPDATE events SET data='{\"i\":99}' WHERE id=7", ()))
    report = _verify(logged)
    assert (report.ok, report.first_broken_id) == (False, 7)


def test_edited_row_with_its_hash_recomputed(logged):
    """A careful tamperer fixes the row's own hash: the next link breaks instead."""
    conn = raw_connect(logged)
    row = conn.execute("SELECT id, ts, kind, plugin, data, prev_hash FROM events WHERE id=4").fetchone()
    new_hash = event_hash(row[5], row[0], row[1], row[2], row[3], "forged", row[4])
    conn.execute("UPDATE events SET message='forged', hash=? WHERE id=4", (new_hash,))
    conn.commit()
    conn.close()
    report = _verify(logged)
    assert (report.ok, report.first_broken_id) == (False, 5)


def test_deleted_middle_row(logged):
    _tamper(logged, ("DELETE FROM events WHERE id=6", ()))
    report = _verify(logged)
    assert not report.ok
    assert report.first_broken_id == 7
    assert "deleted" in report.message


def test_deleted_newest_row(logged):
    last = _last_id(logged)
    _tamper(logged, ("DELETE FROM events WHERE id=?", (last,)))
    report = _verify(logged)
    assert not report.ok
    assert report.first_broken_id == last
    assert "newest" in report.message


def test_deleted_newest_rows_and_head(logged):
    _tamper(logged, ("DELETE FROM events WHERE id>8", ()), ("DELETE FROM meta WHERE key='events_head'", ()))
    report = _verify(logged)
    assert not report.ok


def test_deleted_everything(logged):
    _tamper(logged, ("DELETE FROM events", ()))
    assert not _verify(logged).ok


def test_cli_verify_intact_exits_0(logged):
    result = run_cli("info", logged, "--verify")
    assert result.returncode == 0, result.stderr
    assert "events    OK" in result.stdout
    assert "BROKEN" not in result.stdout


def test_cli_verify_broken_exits_1_and_says_broken(logged):
    _tamper(logged, ("UPDATE events SET message='x' WHERE id=3", ()))
    result = run_cli("info", logged, "--verify")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "BROKEN" in result.stdout
    assert "event 3" in result.stdout


def test_cli_verify_json(logged):
    _tamper(logged, ("DELETE FROM events WHERE id=2", ()))
    result = run_cli("info", logged, "--verify", "--json")
    assert result.returncode == 1
    chain = json.loads(result.stdout)["events_chain"]
    assert chain["ok"] is False and chain["first_broken_id"] == 3


def test_cli_info_without_verify_ignores_the_chain(logged):
    _tamper(logged, ("UPDATE events SET message='x' WHERE id=3", ()))
    assert run_cli("info", logged).returncode == 0
