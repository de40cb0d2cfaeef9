"""Our pre-checked scan reports exactly what detect-secrets' own scan_file reports."""

from __future__ import annotations

import glob
import os
import sysconfig

from workbench_plugins.code_audit import secrets_scan

STDLIB = sysconfig.get_paths()["stdlib"]


def _files(demo_tree) -> list[str]:
    picked = sorted(glob.glob(f"{STDLIB}/*.py"))[:60] + sorted(glob.glob(f"{STDLIB}/test/test_[a-c]*.py"))[:25]
    picked += [str(p) for p in demo_tree.rglob("*") if p.is_file()]
    return [f for f in picked if os.path.isfile(f)]


def test_precheck_changes_nothing(tmp_path):
    from detect_secrets.core import scan

    from workbench_plugins.code_audit.engine import prepare_demo

    demo = tmp_path / "demo"
    prepare_demo(str(demo))
    (demo / "extra.env").write_text('API_TOKEN="ghp_abcdefghijklmnopqrstuvwxyz0123456789"\npassword: hunter2hunter2\n')
    (demo / "key.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n")

    def key(secret):
        return (secret.type, secret.line_number, secret.secret_hash)

    files = _files(demo)
    with secrets_scan.settings():
        theirs = {f: sorted(map(key, scan.scan_file(f))) for f in files}
        ours = {f: sorted(map(key, secrets_scan._scan(f))) for f in files}
    assert sum(map(len, theirs.values())) >= 10  # the comparison covers real hits
    assert ours == theirs
