"""Hostile cases from review: broken outputs, emptied or edited logs, secrets misuse."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from workbench.core.findings import Finding
from workbench.core.project import Project


def wb(*args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), input=stdin, timeout=600)


def project_with_findings(path, n=5) -> Project:
    from workbench.core.plugins import load_plugins

    p = Project.create(path, plugins=load_plugins().plugins)  # the code-audit section reads its tables
    run = p.create_run("code_audit", "audit", {}, target="/t")
    p.start_run(run)
    p.add_findings(run, [Finding("code_audit", "B1", "HIGH", "HIGH", "t", "m", fingerprint=f"fp{i}")
                         for i in range(n)])
    p.finish_run(run, "done", summary={})
    return p


def test_emptied_log_is_not_intact(tmp_path):
    path = tmp_path / "p.wbproj"
    project_with_findings(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM events")
    conn.execute("DELETE FROM meta WHERE key = 'events_head'")
    conn.commit()
    conn.close()
    out = wb("info", path, "--verify")
    assert out.returncode == 1 and "BROKEN" in out.stdout and "empty" in out.stdout


def test_triage_written_outside_the_workbench_is_detected(tmp_path):
    path = tmp_path / "p.wbproj"
    p = project_with_findings(path)
    p.set_triage("fp0", "false_positive", "checked by hand")
    assert p.verify_events().ok
    p.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO triage (fingerprint, status, ts) VALUES ('fp1', 'false_positive', 'now')")
    conn.commit()
    conn.close()
    with Project.open(path, readonly=True) as ro:
        chain = ro.verify_events()
    assert not chain.ok and "triage of 1 finding" in chain.message


def test_tampered_project_report_says_so(tmp_path):
    from pypdf import PdfReader

    path = tmp_path / "p.wbproj"
    project_with_findings(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET message = 'nothing to see' WHERE id = 1")
    conn.commit()
    conn.close()
    pdf = tmp_path / "r.pdf"
    refused = wb("report", path, "-o", pdf)  # a project that does not verify is never signed
    assert refused.returncode == 1 and "does not verify" in refused.stderr and not pdf.exists()
    assert wb("report", path, "-o", pdf, "--unsigned").returncode == 0
    text = " ".join(PdfReader(str(pdf)).pages[0].extract_text().split())
    assert "audit log of this project was tampered with" in text


def test_state_hash_survives_the_report_event(tmp_path):
    with project_with_findings(tmp_path / "p.wbproj") as p:
        before = p.state_sha256()
        p.log_event("report", "PDF exported", data={"state_sha256": before})
        assert p.state_sha256() == before
        p.log_event("triage", "something else")
        assert p.state_sha256() != before


def test_report_to_unwritable_places_is_a_clear_error(tmp_path):
    path = tmp_path / "p.wbproj"
    project_with_findings(path).close()
    folder = tmp_path / "a_folder"
    folder.mkdir()
    for target in (folder, "/dev/full"):
        out = wb("report", path, "-o", target)
        assert out.returncode == 1, out
        assert "Traceback" not in out.stderr and str(target) in out.stderr


def test_failed_export_still_applies_the_gate(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
    project = tmp_path / "p.wbproj"
    out = wb("audit", tree, "-p", project, "--json", "/proc/nope/x.json", "--csv", project,
             "--sarif", tmp_path / "new" / "dir" / "r.sarif", "--fail-on", "HIGH")
    assert out.returncode == 3, out.stderr
    assert "/proc/nope/x.json: the folder /proc/nope does not exist" in out.stderr and "Traceback" not in out.stderr
    assert f"{project}: is a project file; refusing to overwrite it" in out.stderr  # never replaces the project
    assert not (tmp_path / "new").exists()  # no folder is created behind the user's back
    assert wb("info", project, "--verify").returncode == 0


def test_secret_cli_misuse(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path).close()
    bad_name = wb("secret", "set", path, "a/b", "--stdin", stdin="v\n")
    assert bad_name.returncode == 1 and "without '/'" in bad_name.stderr
    missing = wb("secret", "delete", path, "nope")
    assert missing.returncode == 1 and "no secret named 'nope'" in missing.stderr
    broken = wb("secret", "list", path, env={"PYTHON_KEYRING_BACKEND": "no_such_module.Keyring"})
    assert broken.returncode == 1 and "could not be loaded" in broken.stderr and "Traceback" not in broken.stderr
