"""A disk that fills while `workbench test --junit-out FILE` runs: pytest's own XML or the copy to FILE
fails; the error names FILE, an earlier FILE is left as it was (never half of a new one), no temporary
file is left, and the project keeps its runs with its log intact.

The "full disk" is the file size limit (RLIMIT_FSIZE) of the command's process (and of the pytest it
starts): a write past it fails with EFBIG, as one on a full disk fails with ENOSPC, and it needs no mount."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from workbench.core.project import Project

PYTHON = sys.executable
ENV = dict(os.environ, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring")

COPY = r"""
import json, resource, sys
from workbench_plugins.testing import runner

src, dest, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    print(json.dumps({"error": None, "note": runner._copy_junit(src, dest)}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def test_a_full_disk_keeps_the_earlier_junit_file_and_says_so(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    # a failure message of 400 kB: pytest's XML carries it whole, the project only a part of it
    (suite / "test_big.py").write_text('def test_big():\n    raise AssertionError("x" * 400000)\n\n'
                                       'def test_ok():\n    pass\n')
    project, junit = tmp_path / "p.wbproj", tmp_path / "junit.xml"
    command = [sys.executable, "-m", "workbench", "test", str(suite), "-p", str(project), "--python", PYTHON,
               "--junit-out", str(junit)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=ENV)
    assert first.returncode == 0, first.stderr[-2000:]
    before = junit.read_bytes()
    limit = (project.stat().st_size + len(before)) // 2
    assert project.stat().st_size + 32768 < limit < len(before)  # room for the project, not for the XML

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=ENV, preexec_fn=small_files)
    assert second.returncode != 0
    assert "workbench: error:" in second.stderr and not second.stderr.lstrip().startswith("Traceback")
    assert (f"{junit}: not written: pytest's JUnit XML is incomplete (did the disk fill?); the previous file, "
            "if any, is unchanged") in second.stderr, second.stderr[-2000:]
    assert junit.read_bytes() == before  # not replaced by the half pytest could write
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("p.wbproj")) == ["junit.xml", "suite"]
    with Project.open(project, readonly=True) as p:
        assert [r.status for r in p.run_records()] == ["done", "failed"]
        assert p.verify_events().ok


def test_a_full_disk_while_copying_names_the_junit_file(tmp_path):
    src = tmp_path / "work" / "junit.xml"
    src.parent.mkdir()
    src.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites>' + "<testsuite/>" * 500 + "</testsuites>")
    dest = tmp_path / "junit.xml"
    dest.write_text("the previous, complete XML\n")
    child = subprocess.run([sys.executable, "-c", COPY, str(src), str(dest), "1000"], capture_output=True, text=True,
                           timeout=120, env=ENV)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["error"] == "TestingError", result
    assert result["message"].startswith(f"{dest}: cannot write ({os.strerror(27)})"), result["message"]
    assert "unchanged" in result["message"]
    assert dest.read_text() == "the previous, complete XML\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "work"]
