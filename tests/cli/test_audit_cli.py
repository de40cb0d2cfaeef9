"""``workbench audit`` and ``workbench triage`` as a user runs them: subprocesses on a real tree."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap


def wb(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=dict(os.environ), timeout=600)


def make_tree(root):
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "serve.py").write_text(textwrap.dedent("""
        import subprocess

        from flask import Flask

        app = Flask(__name__)


        def shell(cmd):
            return subprocess.check_output(cmd, shell=True)


        if __name__ == "__main__":
            app.run(host="0.0.0.0", debug=True)
    """))
    (root / "pkg" / "ok.py").write_text("def add(a, b):\n    return a + b\n")
    return root


def test_audit_gate_exports_and_triage(tmp_path):
    tree = make_tree(tmp_path / "tree")
    project = tmp_path / "p.wbproj"
    sarif, csv_path, json_path = tmp_path / "r.sarif", tmp_path / "r.csv", tmp_path / "r.json"

    first = wb("audit", tree, "-p", project, "--sarif", sarif, "--csv", csv_path, "--json", json_path,
               "--fail-on", "high")
    assert first.returncode == 3, first.stderr
    assert "gate:" in first.stderr and "creating project" in first.stderr
    assert "audited 2 files" in first.stdout

    doc = json.loads(sarif.read_text())
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"B602", "B910"}
    rows = list(csv.DictReader(open(csv_path, newline="")))
    assert len(rows) == len(json.loads(json_path.read_text())["findings"]) == len(results)

    high = [r for r in rows if r["severity"] == "HIGH"]
    assert high
    # A unique prefix of a fingerprint is enough, as with git hashes.
    prefixes = [r["fingerprint"][:16] for r in high]
    missing_why = wb("triage", project, *prefixes, "--status", "accepted_risk")
    assert missing_why.returncode == 1 and "justification" in missing_why.stderr
    accepted = wb("triage", project, *prefixes, "--status", "accepted_risk", "--why", "internal tool, no users")
    assert accepted.returncode == 0, accepted.stderr

    second = wb("audit", tree, "-p", project, "--fail-on", "HIGH")
    assert second.returncode == 0, second.stderr
    assert "0 new" in second.stdout and "from cache" in second.stdout

    info = wb("info", project, "--verify")
    assert info.returncode == 0 and "chain intact" in info.stdout


def test_audit_of_missing_folder_is_a_clear_failure(tmp_path):
    out = wb("audit", tmp_path / "nope", "-p", tmp_path / "p.wbproj")
    assert out.returncode == 1
    assert "nope: not a folder" in out.stderr
    assert not (tmp_path / "p.wbproj").exists()


def test_triage_unknown_fingerprint(tmp_path):
    tree = make_tree(tmp_path / "tree")
    project = tmp_path / "p.wbproj"
    assert wb("audit", tree, "-p", project).returncode == 0
    out = wb("triage", project, "deadbeef", "--status", "fixed")
    assert out.returncode == 1 and "no finding has a fingerprint starting with 'deadbeef'" in out.stderr
