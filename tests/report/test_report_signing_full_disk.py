"""A disk that fills while the signing key's public half (`verify-report --export-public-key`) or a
report's signature (REPORT.sig) is written: the error names that file (not its temporary twin), an
earlier file of that name is left as it was, and no temporary file is left.

The "full disk" is the file size limit (RLIMIT_FSIZE) of a child process: a write past it fails with
EFBIG, as one on a full disk fails with ENOSPC, and it needs no mount."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

ENV = dict(os.environ, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring")

SIGN = r"""
import json, resource, sys
from workbench.render import signing

report, limit = sys.argv[1], int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    signing.sign_report_file(report, content_sha256="0" * 64, state_sha256="1" * 64, project_id="p",
                             project_name="Full disk", generated="2026-01-01T00:00:00+00:00", template="full")
    print(json.dumps({"error": None}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def test_a_full_disk_names_the_public_key_file_and_keeps_the_earlier_one(tmp_path):
    pem = tmp_path / "signer.pem"
    pem.write_text("the previous, complete key file\n" * 2)

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (40, 40))  # a PEM public key is about 113 bytes

    run = subprocess.run([sys.executable, "-m", "workbench", "verify-report", "--export-public-key", str(pem)],
                         capture_output=True, text=True, timeout=120, env=ENV, preexec_fn=small_files)
    assert run.returncode == 1
    assert f"{pem}: cannot write ({os.strerror(27)}); the previous file, if any, is unchanged" in run.stderr, \
        run.stderr[-2000:]
    assert "Traceback" not in run.stderr and ".part" not in run.stderr
    assert pem.read_text() == "the previous, complete key file\n" * 2
    assert [p.name for p in tmp_path.iterdir()] == ["signer.pem"]


def test_a_full_disk_names_the_signature_and_keeps_the_earlier_one(tmp_path):
    report = tmp_path / "r.html"
    report.write_text("<html>the report</html>\n")
    sig = tmp_path / "r.html.sig"
    sig.write_text("the previous, complete signature\n")
    child = subprocess.run([sys.executable, "-c", SIGN, str(report), "100"], capture_output=True, text=True,
                           timeout=120, env=ENV)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["error"] == "WorkbenchError", result
    assert result["message"].startswith(f"{sig}: cannot write ({os.strerror(27)})"), result["message"]
    assert "unchanged" in result["message"]
    assert sig.read_text() == "the previous, complete signature\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.html.sig"]
