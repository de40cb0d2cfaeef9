"""A disk that fills while the PDF is written: the error names the PDF the user asked for (not its
temporary twin), an earlier PDF of that name is left as it was, and no temporary file is left.

The "full disk" is the file size limit (RLIMIT_FSIZE) of the command's process: a write past it
fails with EFBIG, as one on a full disk fails with ENOSPC, and it needs no mount."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from workbench.core.plugins import load_plugins
from workbench.core.project import Project

from .test_report_content import _audit_run


def test_a_full_disk_names_the_pdf_and_keeps_the_earlier_one(tmp_path):
    project = tmp_path / "t.wbproj"
    with Project.create(project, name="Full disk", plugins=load_plugins().plugins) as p:
        _audit_run(p, "/src/a", 200, [("B602", "HIGH", "HIGH"), ("B101", "LOW", "HIGH"), ("B303", "MEDIUM", "MEDIUM")])
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring")
    pdf = tmp_path / "r.pdf"
    command = [sys.executable, "-m", "workbench", "report", str(project), "-o", str(pdf), "--unsigned"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    before = pdf.read_bytes()
    limit = len(before) // 2  # the PDF is written before the project is (its log entry comes after)

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, preexec_fn=small_files)
    assert second.returncode != 0
    assert f"{pdf}: " in second.stderr and "disk full" in second.stderr, second.stderr[-2000:]
    assert ".part" not in second.stderr and "Traceback" not in second.stderr
    assert pdf.read_bytes() == before
    assert sorted(q.name for q in tmp_path.iterdir() if not q.name.startswith("t.wbproj")) == ["r.pdf"]
    with Project.open(project, readonly=True) as p:  # the project is whole and logged one report, the first
        assert p.verify_events().ok
        assert [e["kind"] for e in p.events() if e["kind"].startswith("report")] == ["report"]
