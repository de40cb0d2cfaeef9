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
        pillars = {"anonymise", "code_audit", "monitor", "robustness", "testing"}
        assert {r["plugin"] for r in runs} >= pillars  # the demo covers every pillar
        from workbench.core.plugins import load_plugins

        registry = load_plugins()
        for pillar in sorted(pillars):  # ... and each one is assessed: a score, never "not assessed"
            score = registry.get(pillar).score(project.store(pillar))
            assert score is not None and 0 <= score <= 100, (pillar, score)
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

    # The demo sources hold fake keys: none may reach the project file, its WAL or the PDF in clear.
    secrets = _demo_secrets(out / "samples" / "vulnerable_ml")
    assert len(secrets) >= 4
    stored = b"".join(p.read_bytes() for p in out.glob("demo.wbproj*") if p.is_file())
    for secret in secrets:
        assert secret.encode() not in stored, f"{secret[:8]}… stored in clear"
        assert secret not in text.replace(" ", "")


def _demo_secrets(tree) -> list[str]:
    import re

    found = []
    for name in ("src/creditml/settings.py", "config.yaml"):
        source = (tree / name).read_text()
        found += re.findall(r"(sk-proj-[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|AKIA[A-Z0-9]{16})", source)
        found += re.findall(r'secret_access_key: "([^"]+)"', source)
    return found
