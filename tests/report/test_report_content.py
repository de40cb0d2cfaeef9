"""Report content from known project contents: scores, "not assessed", posture weights, filters,
file-name patterns, and both templates in PDF and HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.core.findings import Finding
from workbench.core.plugins import load_plugins
from workbench.core.project import Project


def html_text(path: Path) -> str:
    text = re.sub(r"<[^>]+>", " ", Path(path).read_text())
    return " ".join(text.replace("&nbsp;", " ").split())


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text() for p in PdfReader(str(path)).pages).split())


def _audit_run(p, target, lines, specs, triage=()):
    run = p.create_run("code_audit", "audit", {"target": target, "workers": None, "skips": []},
                       title=f"audit {target}", target=target)
    p.start_run(run)
    findings = [Finding("code_audit", rule, sev, conf, f"{rule} some_rule_name", f"full remediation text {i} " * 20,
                        path=f"{target}/m{i}.py", line=i + 1, cwe=78, fingerprint=f"{target}-fp{i}",
                        evidence={"code": f"call_{i}()"})
                for i, (rule, sev, conf) in enumerate(specs)]
    p.add_findings(run, findings)
    p.finish_run(run, "done", summary={"lines": lines})
    for fp, status in triage:
        p.set_triage([fp], status, "reviewed: test double")
    return run


@pytest.fixture
def known(tmp_path):
    """Two code-audit targets: 'a' with 2 HIGH/HIGH + 1 MEDIUM/HIGH open + 1 LOW triaged, over
    2000 lines; 'b' clean, 500 lines. Nothing else assessed."""
    path = tmp_path / "known.wbproj"
    with Project.create(path, name="Known project", plugins=load_plugins().plugins) as p:
        _audit_run(p, "/src/a", 2000, [("B602", "HIGH", "HIGH"), ("B603", "HIGH", "HIGH"),
                                       ("B301", "MEDIUM", "HIGH"), ("B101", "LOW", "LOW")],
                   triage=[("/src/a-fp3", "accepted_risk")])
        _audit_run(p, "/src/b", 500, [])
    return path


def expected_code_score() -> int:
    # The code-audit formula (plugins/code_audit/score.py), worked by hand: risk 10+10+4 = 24 over
    # 2500 lines of both targets -> density 9.6 -> 100 / (1 + 0.96).
    return round(100 / (1 + (1000 * 24 / 2500) / 10))


def test_scores_cover_every_target_and_not_assessed(known):
    from workbench.core.report import build_report

    with Project.open(known, readonly=True) as p:
        report = build_report(p, load_plugins())
    scores = {s.plugin_id: s for s in report.scores}
    assert scores["code_audit"].score == expected_code_score() == 51
    others = [s for pid, s in scores.items() if pid != "code_audit"]
    assert others and all(s.score is None for s in others)
    assert report.posture == 51
    assert "not assessed, left out" in report.posture_formula
    assert report.verdict.startswith("Action required: 2 open HIGH")


def test_posture_weights_are_a_project_setting(known):
    from workbench.core.report import PillarScore, posture, score_weights, set_score_weights

    value, formula = posture([PillarScore("a", "A", 80.0, 3.0), PillarScore("b", "B", 40.0, 1.0),
                              PillarScore("c", "C", None, 5.0)])
    assert value == (3 * 80 + 40) / 4 == 70
    assert "3×80 + 1×40" in formula and "C" in formula
    with Project.open(known) as p:
        set_score_weights(p, {"code_audit": 2.5})
        with pytest.raises(ValueError, match="must be a finite number"):
            set_score_weights(p, {"code_audit": -1})
    with Project.open(known, readonly=True) as p:
        assert score_weights(p, ["code_audit", "monitor"]) == {"code_audit": 2.5, "monitor": 1.0}
        assert any(e["kind"] == "settings" and "code_audit=2.5" in e["message"] for e in p.events())


def test_full_html_report_and_filters(known, tmp_path):
    from workbench.cli import main

    out = tmp_path / "full.html"
    assert main(["report", str(known), "-o", str(out)]) == 0
    text = html_text(out)
    assert "Verdict: Action required" in text
    assert f"Code audit {expected_code_score()} / 100" in text
    assert text.count("not assessed") >= 4  # the other pillars, never a made-up number
    assert "B602 some rule name" in text  # bandit titles read as words
    assert ("full remediation text 0 " * 20).strip() in text  # never clipped with "…"
    assert "accepted risk: reviewed: test double" in text
    assert "workers: " not in text and "defaults: skips, workers" in text  # params readable, no JSON
    assert '{"target"' not in text
    assert "/src/a" in text and "/src/b" in text
    body = out.read_text()
    assert "http://" not in body and "https://" not in body and "<script" not in body
    assert "src='data:image/png;base64," in body  # charts inlined: one self-contained file

    high = tmp_path / "high.html"
    assert main(["report", str(known), "-o", str(high), "--min-severity", "HIGH"]) == 0
    text = html_text(high)
    assert "2 finding(s) of the latest run" in text and "B301 some rule name" not in text.split("All findings")[-1]
    accepted = tmp_path / "acc.html"
    assert main(["report", str(known), "-o", str(accepted), "--status", "accepted_risk"]) == 0
    section = html_text(accepted).split("All findings")[-1]
    assert "1 finding(s)" in section and "B101" in section and "B602 some" not in section
    only = tmp_path / "only.html"
    assert main(["report", str(known), "-o", str(only), "--plugin", "monitor"]) == 0
    assert "0 finding(s)" in html_text(only).split("All findings")[-1]
    assert main(["report", str(known), "-o", str(tmp_path / "x.html"), "--plugin", "nope"]) == 1


def test_executive_pdf_and_name_pattern(known, tmp_path, capsys):
    import datetime as dt

    from workbench.cli import main

    assert main(["report", str(known), "-o", str(tmp_path / "{project}-{template}-{date}.pdf"),
                 "--template", "executive"]) == 0
    out = tmp_path / f"Known-project-executive-{dt.date.today():%Y-%m-%d}.pdf"
    assert out.is_file(), capsys.readouterr()
    from pypdf import PdfReader

    pages = len(PdfReader(str(out)).pages)
    assert 2 <= pages <= 4
    text = pdf_text(out)
    assert "Executive summary" in text and "Scope and exclusions" in text and "Method" in text
    assert f"page 1 of {pages}" in text and "Known project — security assessment" in text
    assert "All findings" not in text  # the executive template leaves the full list out
    assert main(["report", str(known), "-o", str(tmp_path / "{nope}.pdf")]) == 1
