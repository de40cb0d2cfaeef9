"""``workbench demo --headless``: the demo project is built from shipped samples and its PDF reads back."""

from __future__ import annotations

import os
import subprocess
import sys


def test_headless_demo_writes_project_and_pdf(tmp_path):
    from pypdf import PdfReader

    from workbench.core.project import Project

    out = tmp_path / "demo"
    env = dict(os.environ, WORKBENCH_SETTINGS_DIR=str(tmp_path / "settings"))
    proc = subprocess.run([sys.executable, "-m", "workbench", "demo", "--headless", "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "samples" / "people.csv").is_file()
    with Project.open(out / "demo.wbproj", readonly=True) as project:
        runs = project.runs()
        assert runs and all(r["status"] == "done" for r in runs), runs
        assert {r["plugin"] for r in runs} >= {"code_audit"}
        sha = project.state_sha256()
        n_findings = len(project.findings())
    assert n_findings > 10
    reader = PdfReader(str(out / "demo-report.pdf"))
    assert len(reader.pages) >= 2
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Demo: credit-scoring model" in text
    assert "audit vulnerable_ml" in text
    assert sha in text.replace(" ", "")
    assert "failed to produce its section" not in text
