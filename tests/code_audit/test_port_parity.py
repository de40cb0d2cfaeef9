"""The SDK port changed no result: the demo tree's findings and score equal those recorded
with the code audit as it was before the port (commit b6f277c).

Updated once since, on purpose: one secret seen by several detectors is one finding now
(issue 8): the detect-secrets duplicates of the two B908 keys and of one config value are
merged into the finding that stays (same fingerprint, highest confidence)."""

from __future__ import annotations

import json
from pathlib import Path

BEFORE = Path(__file__).parent / "data" / "demo_audit_before_sdk_port.json"


def test_demo_findings_and_score_identical_to_before_the_port(project, run_audit, demo_tree):
    from workbench_plugins.code_audit import plugin

    before = json.loads(BEFORE.read_text())
    run_id, summary = run_audit({"target": demo_tree})
    store = project.store("code_audit")
    after = sorted([f["rule"], f["severity"], f["confidence"], f["path"], f["line"], f["fingerprint"],
                    f["source_status"]] for f in store.findings(run_id=run_id))
    assert len(after) == len(before["findings"]) >= 30
    assert after == before["findings"]
    assert summary["findings"] == before["summary_findings"]
    assert plugin.score(store) == before["score"]
