"""One key, one finding: B908 and detect-secrets' hits of the same value on the same line merge."""

from __future__ import annotations

OPENAI = "sk-proj-Ab3De5Fg7Hi9Jk1Lm3No5Pq7Rs9Tu1Vw3Xy5Za7Bc9De1"
HF = "hf_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xYz"
GITHUB = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
OTHER_HF = "hf_Zz9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF9eD8c"


def _tree(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "llm.py").write_text(
        f'openai_api_key = "{OPENAI}"\n'
        f'HF = "{HF}"\n'
        f'pair = ("{HF}", "{OTHER_HF}")\n'
    )
    (tree / "ci.py").write_text(f'gh = "{GITHUB}"\n')
    return tree


def test_one_finding_per_secret_value_and_place(tmp_path, project, run_audit):
    run_id, _ = run_audit({"target": str(_tree(tmp_path))})
    found = [f for f in project.findings(run_id=run_id) if f["rule"] == "B908" or f["rule"].startswith("SECRET-")]
    by_place = {}
    for f in found:
        by_place.setdefault((f["path"], f["line"]), []).append(f)
    # line 1: B908 + Base64 entropy + Secret Keyword -> one B908, HIGH, all three detectors
    (key,) = by_place[("llm.py", 1)]
    assert key["rule"] == "B908" and key["severity"] == "HIGH"
    assert key["evidence"]["detectors"] == ["bandit: B908 hardcoded_ai_api_key",
                                            "detect-secrets: Base64 High Entropy String",
                                            "detect-secrets: Secret Keyword"]
    (hf,) = by_place[("llm.py", 2)]
    assert hf["rule"] == "B908" and len(hf["evidence"]["detectors"]) == 2
    # a GitHub token: GitHub Token + Base64 entropy -> the pattern detector survives
    (gh,) = by_place[("ci.py", 1)]
    assert gh["rule"] == "SECRET-github-token" and gh["confidence"] == "HIGH"
    assert gh["evidence"]["detectors"] == ["detect-secrets: Base64 High Entropy String",
                                           "detect-secrets: GitHub Token"]


def test_two_secrets_on_one_line_stay_two(tmp_path, project, run_audit):
    run_id, _ = run_audit({"target": str(_tree(tmp_path))})
    line3 = [f for f in project.findings(run_id=run_id) if f["path"] == "llm.py" and f["line"] == 3
             and (f["rule"] == "B908" or f["rule"].startswith("SECRET-"))]
    shas = {f["evidence"]["secret_hmac"] for f in line3}
    assert len(shas) == len(line3) == 2  # each key its own finding, each B908 with its own key
    assert all(f["rule"] == "B908" and len(f["evidence"]["detectors"]) == 2 for f in line3)


def test_survivor_keeps_its_fingerprint_without_the_secrets_scan(tmp_path, project, run_audit):
    """The merged B908 has the fingerprint B908 has alone: only the merged-away hits disappear."""
    tree = _tree(tmp_path)
    merged, _ = run_audit({"target": str(tree)})
    alone, _ = run_audit({"target": str(tree), "include_secrets": False})
    fp = lambda rid: {(f["path"], f["line"]): f["fingerprint"] for f in project.findings(run_id=rid)
                      if f["rule"] == "B908"}
    assert fp(merged) == fp(alone) and fp(alone)


def test_merge_reads_values_not_lines(tmp_path):
    """A B908 key and a different detect-secrets value on the same line are not merged."""
    from workbench.api import Finding
    from workbench_plugins.code_audit.engine import merge_secret_findings
    from workbench_plugins.code_audit.masking import mask, secret_hash

    text = f'keys = ["{HF}", "{OTHER_HF}"]\n'
    key = b"k" * 32
    b908 = Finding(plugin="code_audit", rule="B908", severity="HIGH", confidence="MEDIUM", title="t",
                   message=f"Hard-coded Hugging Face API key {mask(HF)}.", path="a.py", line=1, end_line=1, column=8,
                   evidence={"scanner": "bandit"})
    other = Finding(plugin="code_audit", rule="SECRET-base64-high-entropy-string", severity="HIGH",
                    confidence="HIGH", title="Secret in the tree: Base64 High Entropy String", message="m",
                    path="a.py", line=1, end_line=1,
                    evidence={"scanner": "detect-secrets", "secret_hmac": secret_hash(OTHER_HF, key)})
    same = Finding(plugin="code_audit", rule="SECRET-base64-high-entropy-string", severity="LOW",
                   confidence="LOW", title="Secret in the tree: Base64 High Entropy String", message="m",
                   path="a.py", line=1, end_line=1,
                   evidence={"scanner": "detect-secrets", "secret_hmac": secret_hash(HF, key)})
    out = merge_secret_findings([b908, other, same], lambda rel: text, key)
    assert out == [b908, other]
    assert (b908.severity, b908.confidence) == ("HIGH", "MEDIUM") and len(b908.evidence["detectors"]) == 2
