"""Nothing audited can be hidden by size (issue 17): a few dangerous lines followed by megabytes
of comment are audited as ``bandit -r`` audits them, secrets past the whole-file limit are found
by streaming, and a file that truly cannot be audited is a finding that a ``--fail-on`` gate counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .test_bandit_runner import cli_set, open_set, ours

PAD_BYTES = 11 * 1024 * 1024


def padded(path, head: str) -> None:
    """``head``, then an 11 MB comment in 1 KB lines (a padded file past bandit's old 10 MB limit)."""
    line = "# " + "x" * 1021 + "\n"
    with open(path, "w") as fh:
        fh.write(head)
        fh.write(line * (PAD_BYTES // len(line) + 1))


@pytest.fixture(scope="module")
def padded_tree(tmp_path_factory):
    tree = tmp_path_factory.mktemp("padded") / "tree"
    tree.mkdir()
    padded(tree / "runner.py", "import os\nos.system(input())\nresult = eval(input())\n")
    (tree / "small.py").write_text("import subprocess\nsubprocess.call('ls', shell=True)\n")
    aws = "AKIAZQ3DEMOFAKE7EXAM"
    with open(tree / "big.cfg", "w") as fh:
        fh.write("[app]\n" + "mode: fast\n" * (3 * 1024 * 1024 // 11))
        fh.write(f"aws_access_key_id = {aws}\n")
    return tree


def test_padded_file_trips_the_gate_from_the_command_line(padded_tree, tmp_path):
    assert os.path.getsize(padded_tree / "runner.py") > 10 * 1024 * 1024
    out = tmp_path / "f.json"
    proc = subprocess.run([sys.executable, "-m", "workbench", "audit", str(padded_tree),
                           "-p", str(tmp_path / "p.wbproj"), "--fail-on", "LOW", "--json", str(out), "--workers", "1"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    rows = data["findings"] if isinstance(data, dict) else data
    found = {(f["rule"], f["path"], f["line"]) for f in rows}
    assert {("B605", "runner.py", 2), ("B307", "runner.py", 3)} <= found
    # the secret past the secrets scan's whole-file limit (2 MB), at its true line
    lines = (padded_tree / "big.cfg").read_text().count("\n")
    assert os.path.getsize(padded_tree / "big.cfg") > 2 * 1024 * 1024
    assert ("SECRET-aws-access-key", "big.cfg", lines) in found
    assert not any(f["rule"] == "AUDIT001" for f in rows)  # everything was audited


def test_parity_with_bandit_cli_covers_a_file_over_10_mb(padded_tree):
    cfg, results = ours(str(padded_tree), workers=1)
    assert {r.relpath: r.skipped for r in results} == {"runner.py": None, "small.py": None}
    mine = open_set(cfg, results)
    theirs, data = cli_set(str(padded_tree))
    assert mine == theirs
    assert {("B605", "runner.py", 2), ("B307", "runner.py", 3)} <= mine
    assert not data["errors"]


def _finding_rows(project, run_id):
    return {(f["rule"], f["path"], f["severity"]) for f in project.findings(run_id=run_id)}


def test_a_file_that_cannot_be_audited_is_a_finding(tmp_path, project, run_audit, monkeypatch):
    from workbench_plugins.code_audit import bandit_runner, secrets_scan

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "huge.py").write_text("import os\nos.system(input())\n" + "# pad\n" * 200)
    (tree / "broken.py").write_text("def (:\n")
    (tree / "notes.txt").write_text("token = 1\n" * 300)
    (tree / "ok.py").write_text("x = 1\n")
    # The limits made small: a file past them must not pass a gate unseen.
    monkeypatch.setattr(bandit_runner, "MAX_BYTES", 1000)
    monkeypatch.setattr(secrets_scan, "MAX_BYTES", 500)
    monkeypatch.setattr(secrets_scan, "STREAM_MAX_BYTES", 1500)
    run_id, summary = run_audit({"target": str(tree), "workers": 1})
    rows = _finding_rows(project, run_id)
    assert ("AUDIT001", "huge.py", "HIGH") in rows  # not read: too large for bandit
    assert ("AUDIT001", "broken.py", "MEDIUM") in rows  # read, not parseable
    assert ("AUDIT001", "notes.txt", "HIGH") in rows  # too large even to stream for secrets
    assert not any(path == "ok.py" for _, path, _ in rows)
    assert summary["findings"]["HIGH"] >= 2
    finding = next(f for f in project.findings(run_id=run_id) if f["path"] == "huge.py")
    assert "too large" in finding["message"] and finding["evidence"]["skipped_by"] == "bandit"
    # Audited again with the normal limits: the file is read, the finding is fixed, the code's finding appears.
    monkeypatch.undo()
    second, _ = run_audit({"target": str(tree), "workers": 1})
    rows = _finding_rows(project, second)
    assert ("B605", "huge.py", "HIGH") in rows and ("AUDIT001", "huge.py", "HIGH") not in rows


def test_a_file_found_a_model_by_its_bytes_is_still_secret_scanned(tmp_path, project, run_audit):
    """A protocol-0 pickle is text: the model scan takes it by its bytes (no model name), and the
    secrets it carries must be found all the same."""
    import pickle

    from workbench_plugins.code_audit import model_scan

    tree = tmp_path / "tree"
    tree.mkdir()
    data = pickle.dumps({"region": "eu-west-1", "aws_access_key_id": "AKIAZQ3DEMOFAKE7EXAM"}, protocol=0)
    (tree / "settings.cache").write_bytes(data)
    assert model_scan.sniff(data, len(data)) == "pickle" and not model_scan.is_model_file("settings.cache")
    run_id, _ = run_audit({"target": str(tree), "workers": 1})
    rules = {f["rule"] for f in project.findings(run_id=run_id) if f["path"] == "settings.cache"}
    assert "SECRET-aws-access-key" in rules
