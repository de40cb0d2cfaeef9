"""Projects written before digest format 2 still open and verify: their runs are checked with the
digest they were sealed with, and `--verify` says what that older format does not cover. The old
project is made the way the previous workbench wrote it: run events with the format-1 digest (run
fields and findings), no project-state digests, the chain computed over that."""

from __future__ import annotations

import json
import sqlite3

from wb_integrity_helpers import cli, raw_edit
from workbench.core.audit_log import GENESIS_HASH, event_hash
from workbench.core.findings import Finding
from workbench.core.project import Project


def _as_format_1(path) -> None:
    with Project.open(path, readonly=True) as p:
        v1 = {r["id"]: p._results_digest_v1(r["id"]) for r in p.runs()}
    conn = sqlite3.connect(str(path))
    conn.row_factory = sqlite3.Row
    events = [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY id")]
    kept = []
    for e in events:
        data = json.loads(e["data"])
        if e["kind"] == "state":
            continue
        if e["kind"] == "project":
            data = {k: v for k, v in data.items() if k in ("name",)}
        if e["kind"] == "run" and "results_sha256" in data:
            data = {"run_id": data["run_id"], "status": data["status"], "results_sha256": v1[data["run_id"]]}
        e["data"] = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        kept.append(e)
    conn.execute("DELETE FROM events")
    prev = GENESIS_HASH
    for i, e in enumerate(kept, start=1):
        h = event_hash(prev, i, e["ts"], e["kind"], e["plugin"], e["message"], e["data"])
        conn.execute("INSERT INTO events (id, ts, kind, plugin, message, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
                     (i, e["ts"], e["kind"], e["plugin"], e["message"], e["data"], prev, h))
        prev = h
    conn.execute("UPDATE meta SET value=? WHERE key='events_head'", (f"{len(kept)}:{prev}",))
    conn.commit()
    conn.close()


def _old_project(tmp_path):
    path = tmp_path / "old.wbproj"
    with Project.create(path, name="Old") as p:
        p.conn.execute("CREATE TABLE testplugin_points (run_id INTEGER, value REAL)")
        run = p.create_run("testplugin", "scan", {"x": 1}, target="t")
        p.start_run(run)
        p.add_findings(run, [Finding(plugin="testplugin", rule="R", severity="HIGH", confidence="HIGH", title="t",
                                     message="m", path="a.py", line=1, fingerprint="fp1")])
        p.conn.execute("INSERT INTO testplugin_points VALUES (?, 0.5)", (run,))
        p.finish_run(run, "done", summary={"n": 1})
        anchor = p._anchor_name()
    from workbench.core.secrets import delete_user_secret

    delete_user_secret(anchor)  # the old workbench kept none
    _as_format_1(path)
    return path


def test_an_older_project_opens_and_verifies_saying_what_is_not_covered(tmp_path):
    path = _old_project(tmp_path)
    rc, out = cli("info", path, "--verify")
    assert rc == 0, out
    assert "older digest format: run(s) 1 were sealed before every table was covered" in out
    assert "settings and project-wide tables were never sealed" in out
    assert "can be checked only against a signed report" in out  # no anchor was kept for it
    # Format 1 still covers what it covered: a finding.
    raw_edit(path, "UPDATE findings SET severity='LOW'")
    rc, out = cli("info", path, "--verify")
    assert rc == 1 and "BROKEN" in out and "run 1" in out, out


def test_an_older_project_gains_format_2_as_the_workbench_changes_it(tmp_path):
    path = _old_project(tmp_path)
    with Project.open(path) as p:  # a writable open adopts the file (its inode is recorded: sealed)
        p.set_meta("score_weights", "{}")
        p.conn.execute("BEGIN IMMEDIATE")
        p.conn.execute("UPDATE testplugin_points SET value = 0.75")  # a plugin amending a finished run...
        p._seal_touched()  # ...is resealed in format 2 when it commits
        p.conn.execute("COMMIT")
    with Project.open(path, readonly=True) as p:
        report = p.verify_events()
    assert report.ok, report.message
    assert not any("project-wide" in n for n in report.notes) and not any("run(s) 1" in n for n in report.notes)
    raw_edit(path, "UPDATE testplugin_points SET value = 0.1")  # now covered
    rc, out = cli("info", path, "--verify")
    assert rc == 1 and "testplugin_points" in out, out
