"""The SDK port changed no result: the demo tree's findings and score equal those recorded
with the code audit as it was before the port (commit b6f277c).

Updated twice since, on purpose: one secret seen by several detectors is one finding now
(issue 8): the detect-secrets duplicates of the two B908 keys and of one config value are
merged into the finding that stays (same fingerprint, highest confidence). Issue 17: the
identity of a finding that reports a secret value no longer digests the value: B105 (settings.py
line 4) and the two B908 (settings.py lines 3 and 4) have new fingerprints, and the three
SECRET-* findings of config.yaml (lines 6, 8, 9) are identified by an HMAC under the project's
own key, so their fingerprints differ from project to project and are not compared."""

from __future__ import annotations

import json
from pathlib import Path

BEFORE = Path(__file__).parent / "data" / "demo_audit_before_sdk_port.json"


def test_demo_findings_and_score_identical_to_before_the_port(project, run_audit, demo_tree):
    from workbench_plugins.code_audit import plugin

    before = json.loads(BEFORE.read_text())
    run_id, summary = run_audit({"target": demo_tree})
    store = project.store("code_audit")
    keyed = "keyed: differs per project"
    after = sorted([f["rule"], f["severity"], f["confidence"], f["path"], f["line"],
                    keyed if f["rule"].startswith("SECRET-") else f["fingerprint"],
                    f["source_status"]] for f in store.findings(run_id=run_id))
    assert len(after) == len(before["findings"]) >= 30
    assert after == before["findings"]
    assert summary["findings"] == before["summary_findings"]
    assert plugin.score(store) == before["score"]
