"""The tamper suite: a project with rows in every table of every built-in plugin, edited directly with
sqlite3 in many ways (rows of each plugin table, meta, runs, metrics, artifacts, triage, the schema,
the events, a rollback and a full rewrite of the chain). Each edit must be detected both by
``workbench info --verify`` and by ``workbench verify-report --project``; the edits the trust model
says are not detected (caches, declared working state) are shown to verify, so the boundary is real."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from wb_integrity_helpers import cli, fill_project, first_column, plugin_tables, raw_edit
from workbench.core.audit_log import GENESIS_HASH, event_hash
from workbench.core.project import Project

BUILT_IN = ("anonymise", "code_audit", "monitor", "robustness", "testing")


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tamper")
    path = fill_project(folder / "orig.wbproj")
    # An older version of the file, as a backup would keep it: restoring it is the real rollback.
    shutil.copy(path, folder / "older.wbproj")
    with Project.open(path) as p:
        p.set_triage(["monitor-fp0"], "fixed", "patched")
    report = folder / "orig.html"
    cli("report", path, "-o", report)  # may exit 1 when a plugin's section cannot read generic rows
    assert report.with_name("orig.html.sig").is_file()
    rc, out = cli("info", path, "--verify")
    assert rc == 0, out
    with Project.open(path, readonly=True) as p:
        tables = {pid: plugin_tables(p, pid) for pid in BUILT_IN}
        runs = {r["plugin"]: r["id"] for r in p.runs()}
    return path, report, tables, runs


def _copy(signed, tmp_path, name="t.wbproj"):
    dst = tmp_path / name
    shutil.copy(signed[0], dst)
    return dst


def _detected(path, report, expect: str | None = None) -> None:
    rc, out = cli("info", path, "--verify")
    assert rc == 1 and "BROKEN" in out, out
    if expect:
        assert expect in out, out
    rc, out2 = cli("verify-report", report, "--project", path)
    assert rc == 1 and "verdict    FAILED" in out2, out2
    assert "project    CHANGED" in out2 or "log        BROKEN" in out2, out2


def test_every_built_in_plugin_has_tables_under_the_chain(signed):
    _, _, tables, _ = signed
    for pid in BUILT_IN:
        assert tables[pid]["run"], f"{pid}: no run-scoped table"
    assert "monitor_log_state" in tables["monitor"]["skipped"]
    assert "code_audit_file_cache" in tables["code_audit"]["skipped"]


def test_every_row_of_every_plugin_table_is_covered(signed, tmp_path):
    """Two edits per run-scoped table of every built-in plugin (a value changed, a row deleted), two
    per project-wide table: each detected, and named."""
    path0, report, tables, runs = signed
    edits = 0
    for pid in BUILT_IN:
        run = runs[pid]
        for table in tables[pid]["run"] + tables[pid]["project"]:
            scoped = table in tables[pid]["run"]
            where = f"run_id = {run}" if scoped else "1=1"
            col = first_column(path0, table, "text")
            pick = f'"{col}" = (SELECT min("{col}") FROM "{table}" WHERE {where})'
            for what, sql in (
                    ("edited", f'UPDATE "{table}" SET "{col}" = CASE typeof("{col}") WHEN \'text\' THEN "{col}" || \'!\' '
                               f'WHEN \'blob\' THEN x\'00ff\' ELSE "{col}" + 1000 END WHERE {where} AND {pick}'),
                    ("deleted", f'DELETE FROM "{table}" WHERE {where} AND {pick}')):
                path = _copy(signed, tmp_path, f"{table}-{what}.wbproj")
                raw_edit(path, sql)
                _detected(path, report, table)
                edits += 1
    assert edits >= 25, edits


def test_caches_and_declared_working_state_are_outside_the_chain(signed, tmp_path):
    """What the README says is not detected: a cache, and a table the plugin declared unhashed."""
    path = _copy(signed, tmp_path)
    raw_edit(path, "DELETE FROM code_audit_file_cache", "UPDATE monitor_log_state SET state = 'moved'")
    rc, out = cli("info", path, "--verify")
    assert rc == 0, out


def _finding_run(path):
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("SELECT run_id FROM findings WHERE severity='HIGH' ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        conn.close()


CORE_EDITS = {
    "severity lowered": ["UPDATE findings SET severity='LOW' WHERE id=(SELECT min(id) FROM findings WHERE severity='HIGH')"],
    "finding deleted": ["DELETE FROM findings WHERE id=(SELECT max(id) FROM findings)"],
    "finding message": ["UPDATE findings SET message='nothing to see' WHERE id=3"],
    "finding moved to another run": ["UPDATE findings SET run_id=2 WHERE id=1"],
    "run title": ["UPDATE runs SET title='something else' WHERE id=1"],
    "run finish time": ["UPDATE runs SET finished='2020-01-01T00:00:00.000+00:00' WHERE id=2"],
    "run status": ["UPDATE runs SET status='failed' WHERE id=3"],
    "run summary": ["UPDATE runs SET summary='{\"rows\":1}' WHERE id=4"],
    "run deleted": ["DELETE FROM runs WHERE id=5"],
    "metric value": ["UPDATE metrics SET value = value + 1 WHERE run_id=1 AND ts=(SELECT min(ts) FROM metrics WHERE run_id=1)"],
    "metric deleted": ["DELETE FROM metrics WHERE run_id=2 AND ts=(SELECT max(ts) FROM metrics WHERE run_id=2)"],
    "metric added": ["INSERT INTO metrics (plugin, series, ts, run_id, value) VALUES ('robustness', 'series', 5.0, 4, 1.0)"],
    "metric moved out of its run": ["UPDATE metrics SET run_id=0 WHERE run_id=3"],
    "artifact bytes": ["UPDATE artifacts SET data=x'00' WHERE id=1"],
    "artifact deleted": ["DELETE FROM artifacts WHERE id=2"],
    "orphan row": ["INSERT INTO testing_cases (run_id, test_id, outcome) VALUES (99, 't', 'passed')"],
    "project id": ["UPDATE meta SET value='00000000-0000-0000-0000-000000000000' WHERE key='project_id'"],
    "project name": ["UPDATE meta SET value='Another name' WHERE key='name'"],
    "posture weights": ["UPDATE meta SET value='{\"code_audit\": 0.0}' WHERE key='score_weights'"],
    "results table declared unhashed": [
        "UPDATE meta SET value=json_set(value, '$.testing', json('[\"testing_cases\"]')) WHERE key='unhashed_tables'",
        "DELETE FROM testing_cases"],
    "meta key added": ["INSERT INTO meta (key, value) VALUES ('created_by', 'someone else') "
                       "ON CONFLICT (key) DO UPDATE SET value=excluded.value"],
    "triage changed": ["UPDATE triage SET status='fixed'"],
    "secret name added": ["INSERT INTO secret_names (name, created) VALUES ('stolen', '2020')"],
    "migration record deleted": ["DELETE FROM migrations WHERE plugin='testing'"],
    "index dropped": ["DROP INDEX testing_cases_run"],
    "table renamed to a cache": ["ALTER TABLE testing_fuzz RENAME TO testing_fuzz_cache"],
    "event message": ["UPDATE events SET message='nothing happened' WHERE id=3"],
    "event deleted": ["DELETE FROM events WHERE id=4"],
    "robustness setting": ["UPDATE robustness_weights SET weight = weight * 10"],
}


@pytest.mark.parametrize("what", sorted(CORE_EDITS))
def test_core_edits_are_detected(signed, tmp_path, what):
    path = _copy(signed, tmp_path)
    raw_edit(path, *CORE_EDITS[what])
    _detected(path, signed[1])


def _events(path):
    conn = sqlite3.connect(str(path))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY id")]
    finally:
        conn.close()


def _rollback(path, n: int) -> None:
    events = _events(path)
    keep = events[-n - 1]
    raw_edit(path, ("DELETE FROM events WHERE id > ?", (keep["id"],)),
             ("UPDATE meta SET value=? WHERE key='events_head'", (f"{keep['id']}:{keep['hash']}",)))


def test_rollback_is_detected_against_the_anchor(signed, tmp_path):
    path = _copy(signed, tmp_path)
    _rollback(path, 2)
    rc, out = cli("info", path, "--verify")
    assert rc == 1 and "the audit log was rolled back: 2 event(s) since" in out, out
    rc, out = cli("verify-report", signed[1], "--project", path)
    assert rc == 1 and "rolled back" in out, out


def test_an_older_version_put_back_is_a_rollback(signed, tmp_path):
    older = tmp_path / "older.wbproj"
    shutil.copy(signed[0].with_name("older.wbproj"), older)
    with Project.open(older, readonly=True) as p:  # consistent in itself
        assert p.verify_events(use_anchor=False).ok
    rc, out = cli("info", older, "--verify")
    assert rc == 1 and "the audit log was rolled back" in out, out
    rc, out = cli("verify-report", signed[1], "--project", older)
    assert rc == 1 and "rolled back" in out, out


def _rewrite(path, new_id: str | None = None) -> None:
    """What anyone can do to an unkeyed chain: edit a result (and the project id, if given), recompute
    the digests with the workbench's own code, then every event hash and the head."""
    run = _finding_run(path)
    raw_edit(path, ("UPDATE findings SET severity='LOW' WHERE run_id=? AND severity='HIGH'", (run,)))
    if new_id:
        raw_edit(path, ("UPDATE meta SET value=? WHERE key='project_id'", (new_id,)))
    with Project.open(path, readonly=True) as p:
        parts = p.run_parts(run)
        digest = p.run_digest(run, parts)
        state_parts = p.project_state_parts()
        state = p.project_state_sha256(state_parts)
    events = _events(path)
    last_state = max(e["id"] for e in events if "project_sha256" in json.loads(e["data"]))
    conn = sqlite3.connect(str(path))
    prev = GENESIS_HASH
    for e in events:
        data = json.loads(e["data"])
        if e["kind"] == "run" and data.get("run_id") == run and "results_sha256" in data:
            data.update(results_sha256=digest, parts=parts)
        if e["id"] == last_state:
            data.update(project_sha256=state, parts=state_parts)
        e["data"] = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        h = event_hash(prev, e["id"], e["ts"], e["kind"], e["plugin"], e["message"], e["data"])
        conn.execute("UPDATE events SET data=?, prev_hash=?, hash=? WHERE id=?", (e["data"], prev, h, e["id"]))
        prev = h
    conn.execute("UPDATE meta SET value=? WHERE key='events_head'", (f"{events[-1]['id']}:{prev}",))
    conn.commit()
    conn.close()


def test_full_rewrite_passes_the_chain_but_not_the_anchor(signed, tmp_path):
    path = _copy(signed, tmp_path)
    _rewrite(path)
    with Project.open(path, readonly=True) as p:
        assert p.verify_events(use_anchor=False).ok  # consistent in itself: only the anchor can tell
    rc, out = cli("info", path, "--verify")
    assert rc == 1 and "the log was rewritten" in out, out
    rc, out = cli("verify-report", signed[1], "--project", path)
    assert rc == 1 and "rewritten" in out, out


def test_without_the_anchor_a_signed_report_is_the_check(signed, tmp_path):
    """On another machine (no anchor): said; a rollback past the report's head and a rewrite are found
    with --report."""
    from workbench.core.secrets import delete_user_secret

    path = _copy(signed, tmp_path)
    with Project.open(path, readonly=True) as p:
        anchor_name = p._anchor_name()
        from workbench.core.secrets import get_user_secret

        saved = get_user_secret(anchor_name)
    delete_user_secret(anchor_name)
    try:
        rc, out = cli("info", path, "--verify")
        assert rc == 0 and "can be checked only against a signed report" in out, out
        rolled = tmp_path / "rolled.wbproj"
        shutil.copy(signed[0].with_name("older.wbproj"), rolled)  # an older version put back
        rc, out = cli("info", rolled, "--verify")
        assert rc == 0 and "can be checked only against a signed report" in out, out
        rc, out = cli("info", rolled, "--verify", "--report", signed[1])
        assert rc == 1 and "rolled back" in out and "the signed report" in out, out
        rewritten = _copy(signed, tmp_path, "rewritten.wbproj")
        _rewrite(rewritten)
        rc, out = cli("info", rewritten, "--verify", "--report", signed[1])
        assert rc == 1 and "rewritten" in out, out
    finally:
        from workbench.core.secrets import set_user_secret

        set_user_secret(anchor_name, saved)


def test_workbench_changes_stay_verified(signed, tmp_path):
    """The seals follow the workbench's own changes: amending a finished run's rows through a plugin's
    store, a setting, triage, a deleted cache: all still verify."""
    path = _copy(signed, tmp_path)
    with Project.open(path) as p:  # a copy: takes its own id, logged and sealed
        runs = {r["plugin"]: r["id"] for r in p.runs()}
        store = p.store("anonymise")
        store.execute("UPDATE anonymise_access SET revoked_at='2026-01-01' WHERE run_id=?", (runs["anonymise"],))
        p.store("robustness").execute("UPDATE robustness_weights SET weight = 3")
        p.set_triage(["testing-fp2"], "accepted_risk", "known")
        p.set_meta("score_weights", "{}")
        assert p.verify_events().ok
    rc, out = cli("info", path, "--verify")
    assert rc == 0, out


def test_a_backup_put_back_on_purpose_can_be_accepted_and_is_logged(signed, tmp_path):
    from workbench.core.secrets import get_user_secret, set_user_secret

    older = tmp_path / "older.wbproj"
    shutil.copy(signed[0].with_name("older.wbproj"), older)
    with Project.open(older, readonly=True) as p:
        name = p._anchor_name()
    saved = get_user_secret(name)
    try:
        rc, out = cli("info", older, "--verify")
        assert rc == 1 and "--accept-restored" in out, out
        # Put back with cp, it is a copy to the workbench: the new id must not hide the rollback.
        with Project.open(older) as p:
            copy_event = p.events(limit=3)
        assert any("it holds an older state than the original's: the audit log was rolled back" in e["message"]
                   for e in copy_event), copy_event
        rc, out = cli("info", older, "--verify")
        assert rc == 1 and "a copy made of an older state" in out, out
        rc, out = cli("info", older, "--verify", "--accept-restored")
        assert rc == 0 and "accepted and logged: this copy holds an older state" in out, out
        with Project.open(older, readonly=True) as p:
            assert p.events(limit=1)[0]["message"].startswith("restored history accepted by the user")
    finally:
        set_user_secret(name, saved)


def test_a_rewrite_under_a_new_project_id_is_caught_at_its_path(signed, tmp_path):
    """Rewriting the chain under a fresh project id (for which no anchor exists) is not a way out:
    this machine remembers which project it anchored at that path."""
    path = _copy(signed, tmp_path)
    with Project.open(path) as p:  # adopted here: its own id, anchored at this path
        p.set_triage(["anonymise-fp3"], "fixed", "patched")
    assert cli("info", path, "--verify")[0] == 0
    _rewrite(path, new_id="11111111-2222-3333-4444-555555555555")
    with Project.open(path, readonly=True) as p:
        assert p.verify_events(use_anchor=False).ok  # consistent in itself
    rc, out = cli("info", path, "--verify")
    assert rc == 1 and "anchored here as project" in out and "no anchor vouches for" in out, out
