"""Secrets: found by detect-secrets in-process, masked wherever stored or shown."""

from __future__ import annotations

import json

AWS_KEY = "AKIAZDEMOFAKE7EXAMPL"
PASSWORD = "Sup3rS3cretPassw0rd"


def test_secret_values_never_stored_or_exported(tmp_path, project, run_audit):
    from workbench_plugins.code_audit import sarif

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "deploy.yaml").write_text(f"aws_access_key_id: {AWS_KEY}\n"
                                      f"db: postgres://app:{PASSWORD}@db:5432/x\n")
    (tree / "ok.py").write_text(f"KEY = '{AWS_KEY}'  # pragma: allowlist secret\n")
    run_id, _ = run_audit({"target": str(tree)})
    findings = project.findings(run_id=run_id)
    secrets = [f for f in findings if f["rule"].startswith("SECRET-")]
    assert {f["rule"] for f in secrets} >= {"SECRET-aws-access-key", "SECRET-basic-auth-credentials"}
    assert any(f["source_status"] == "suppressed" and f["path"] == "ok.py" for f in secrets)
    for f in secrets:
        assert f["evidence"]["masked"] and len(f["evidence"]["secret_hmac"]) == 64
    exports = [json.dumps(findings), json.dumps(sarif.to_sarif(findings)), sarif.to_json(findings),
               sarif.to_csv(findings)]
    project.conn.execute("PRAGMA wal_checkpoint(FULL)")
    stored = project.path.read_bytes()
    wal = project.path.with_name(project.path.name + "-wal")
    stored += wal.read_bytes() if wal.exists() else b""
    for text in exports:
        assert AWS_KEY not in text and PASSWORD not in text
    assert AWS_KEY.encode() not in stored and PASSWORD.encode() not in stored


def test_secret_fingerprint_survives_moving_the_line(tmp_path, project, run_audit):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "conf.ini").write_text(f"[aws]\nkey = {AWS_KEY}\n")
    first, _ = run_audit({"target": str(tree)})
    (tree / "conf.ini").write_text(f"[general]\nname = x\n\n[aws]\nregion = eu\nkey = {AWS_KEY}\n")
    second, summary = run_audit({"target": str(tree)})
    fps = lambda rid: {f["fingerprint"] for f in project.findings(run_id=rid) if f["rule"].startswith("SECRET-")}
    assert fps(first) == fps(second) and fps(first)


def test_parallel_scan_equals_serial(tmp_path):
    from workbench_plugins.code_audit import secrets_scan

    files = []
    for i in range(90):
        path = tmp_path / f"settings_{i}.py"
        path.write_text(f"password = 'Zq8#rT{i:03d}xLm2!vB9'\nname = 'app{i}'\n")
        files.append((str(path), path.name))
    serial = secrets_scan.scan_files(files, workers=1)
    parallel = secrets_scan.scan_files(files, workers=2)
    assert serial == parallel
    assert sum(len(r) for r, _ in serial.values()) >= 90
