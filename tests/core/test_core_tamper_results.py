"""The audit log covers the results: edits to findings, runs or the name break verification."""

from __future__ import annotations

import sqlite3

import pytest

from workbench.core.findings import Finding
from workbench.core.project import Project


def _project_with_results(path):
    with Project.create(path, name="Tamper target") as p:
        run = p.create_run("testplugin", "scan", {"x": 1}, target="tgt")
        p.start_run(run)
        p.add_findings(run, [Finding(plugin="testplugin", rule="T1", severity="HIGH", confidence="HIGH",
                                     title="t", message=f"m{i}", path="a.py", line=i, fingerprint=f"fp{i}")
                             for i in range(3)])
        p.finish_run(run, "done", summary={"files": 3})
        failed = p.create_run("testplugin", "scan", {}, target="other")
        p.start_run(failed)
        p.finish_run(failed, "failed", error="boom")
    return path


EDITS = {
    "severity lowered": "UPDATE findings SET severity='LOW' WHERE fingerprint='fp0'",
    "finding suppressed": "UPDATE findings SET source_status='suppressed' WHERE fingerprint='fp1'",
    "finding deleted": "DELETE FROM findings WHERE fingerprint='fp2'",
    "finding added": "INSERT INTO findings (run_id, plugin, rule, severity, confidence, title, message, fingerprint) "
                     "VALUES (1, 'testplugin', 'T1', 'LOW', 'LOW', 't', 'x', 'fpX')",
    "orphan finding": "INSERT INTO findings (run_id, plugin, rule, severity, confidence, title, message, fingerprint) "
                      "VALUES (99, 'testplugin', 'T1', 'LOW', 'LOW', 't', 'x', 'fpY')",
    "summary edited": "UPDATE runs SET summary='{\"files\":30}' WHERE id=1",
    "failed run marked done": "UPDATE runs SET status='done' WHERE id=2",
    "done run marked failed": "UPDATE runs SET status='failed' WHERE id=1",
    "params edited": "UPDATE runs SET params='{\"x\":2}' WHERE id=1",
    "project renamed": "UPDATE meta SET value='Another name' WHERE key='name'",
}


def test_untouched_project_verifies(tmp_path):
    with Project.open(_project_with_results(tmp_path / "p.wbproj"), readonly=True) as p:
        report = p.verify_events()
    assert report.ok, report.message


@pytest.mark.parametrize("what", sorted(EDITS))
def test_edited_results_fail_verification(tmp_path, what):
    path = _project_with_results(tmp_path / "p.wbproj")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute(EDITS[what])
    conn.commit()
    conn.close()
    with Project.open(path, readonly=True) as p:
        report = p.verify_events()
    assert not report.ok, what
    assert "outside the workbench" in report.message or "never recorded" in report.message \
        or "recorded it" in report.message or "no run" in report.message, report.message
