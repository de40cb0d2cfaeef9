"""Secrets noise: the false positives of real ML/LLM trees are dropped or LOW; real keys stay HIGH."""

from __future__ import annotations

import base64
import json
import os

import pytest

# Fake credentials in the real shapes (not live keys).
AWS = "AKIAZDEMOFAKE7EXAMPL"
GITHUB = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
OPENAI = "sk-proj-Ab3De5Fg7Hi9Jk1Lm3No5Pq7Rs9Tu1Vw3Xy5Za7Bc9De1"
HF = "hf_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xYz"
PASSWORD = "Sup3rS3cretPassw0rd"
COMMIT = "5f0b02c75b57c5855da9ae460ce51323ea669d8a"
PRIVATE_KEY = ("-----BEGIN RSA PRIVATE KEY-----\n"
               "MIIEowIBAAKCAQEA1x2c3v4b5n6m7Q8w9e0r1t2y3u4i5o6p7a8s9d0f1g2h3j4k\n"
               "-----END RSA PRIVATE KEY-----\n")

NOISE_PY = f'''import os
OPENAI_API_KEY = "OPENAI_API_KEY"
api_key = "EMPTY"
openai_api_key = "sk-******"
token = "your-key-here"
password = "<your key>"
secret = "xxxxxxxxxxxxxxxx"
password = "changeme"
api_key = os.environ["OPENAI_API_KEY"]
api_key = os.getenv("HF_TOKEN", "HF_TOKEN")
model = "meta-llama/Llama-2-7b-hf"
name = "bert-base-uncased"
dataset = "HuggingFaceH4/ultrachat_200k"
m = load("meta-llama/Llama-2-7b-hf", revision="{COMMIT}")
sha = "{COMMIT}"
api_key = "sk-...."
'''

NOISE_YAML = f"""model_name: meta-llama/Llama-2-7b-hf
tokenizer: bert-base-uncased
model: "mistralai/Mistral-7B-Instruct-v0.2"
revision: {COMMIT}
api_key: EMPTY
token: YOUR_TOKEN_HERE
"""

WORKFLOW = """jobs:
  call:
    uses: ./.github/workflows/reusable.yml
    secrets: inherit
  build:
    env:
      HF_TOKEN: ${{ secrets.HF_TOKEN }}
"""

REAL_PY = f'''aws_key = "{AWS}"
gh = "{GITHUB}"
client_key = "{OPENAI}"
HF = "{HF}"
password = "{PASSWORD}"
'''


def _notebook(source_lines: list[str]) -> str:
    png = base64.b64encode(os.urandom(600)).decode()
    nb = {"cells": [
        {"cell_type": "code", "execution_count": 3, "id": "9f1c2ab4e7d0", "metadata": {},
         "outputs": [{"data": {"image/png": png, "text/plain": ["<Figure size 640x480>"]},
                      "metadata": {}, "output_type": "display_data"},
                     {"name": "stdout", "output_type": "stream",
                      "text": ["sha256: 0f3a9c2d7b1e4f5a6c8d9e0b1a2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c\n"]}],
         "source": source_lines}],
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": {"k": png[:120]}}},
        "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1)


def _scan(path):
    from workbench_plugins.code_audit import secrets_scan

    with secrets_scan.settings():
        results, reason = secrets_scan.scan_file(str(path))
    assert reason is None
    return results


def test_placeholders_env_names_hub_ids_and_pinned_hashes_are_not_secrets(tmp_path):
    (tmp_path / "cfg.py").write_text(NOISE_PY)
    (tmp_path / "conf.yaml").write_text(NOISE_YAML)
    assert _scan(tmp_path / "cfg.py") == []
    assert _scan(tmp_path / "conf.yaml") == []


def test_noise_files_were_flagged_by_detect_secrets_itself(tmp_path):
    """The filters are what removes them: detect-secrets alone reports these lines."""
    from detect_secrets.core.scan import scan_file
    from workbench_plugins.code_audit import secrets_scan

    (tmp_path / "cfg.py").write_text(NOISE_PY)
    (tmp_path / "conf.yaml").write_text(NOISE_YAML)
    (tmp_path / "ci.yml").write_text(WORKFLOW)
    with secrets_scan.settings():
        raw = {name: {s.line_number for s in scan_file(str(tmp_path / name))}
               for name in ("cfg.py", "conf.yaml", "ci.yml")}
    assert {3, 4, 7, 8, 15}.issubset(raw["cfg.py"])
    assert {4, 5}.issubset(raw["conf.yaml"])
    assert 4 in raw["ci.yml"]


def test_secrets_inherit_in_a_workflow_is_not_a_secret(tmp_path):
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text(WORKFLOW)
    assert _scan(wf / "ci.yml") == []


def test_real_keys_stay_high(tmp_path):
    (tmp_path / "real.py").write_text(REAL_PY)
    (tmp_path / "deploy.yaml").write_text(f"aws_access_key_id: {AWS}\npassword: {PASSWORD}\n"
                                          f"hf_token: {HF}\n")
    (tmp_path / "id_rsa").write_text(PRIVATE_KEY)
    got = {}
    for name in ("real.py", "deploy.yaml", "id_rsa"):
        for r in _scan(tmp_path / name):
            got.setdefault((name, r["line"]), set()).add((r["type"], r["severity"]))
    # every real secret is reported HIGH by at least one detector, on its own line
    for key in [("real.py", n) for n in range(1, 6)] + [("deploy.yaml", n) for n in (1, 2, 3)] + [("id_rsa", 1)]:
        assert key in got, key
        assert any(sev == "HIGH" for _, sev in got[key]), (key, got[key])
    assert ("Private Key", "HIGH") in got[("id_rsa", 1)]
    assert ("AWS Access Key", "HIGH") in got[("real.py", 1)]
    assert ("GitHub Token", "HIGH") in got[("real.py", 2)]


def test_entropy_hit_without_a_credential_word_is_low(tmp_path):
    blob = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A4R3hL"
    (tmp_path / "data.py").write_text(f'BLOB = "{blob}"\nsigning_key = "{blob}"\n')
    results = {r["line"]: r for r in _scan(tmp_path / "data.py")}
    assert results[1]["type"] == "Base64 High Entropy String"
    assert (results[1]["severity"], results[1]["confidence"]) == ("LOW", "LOW")
    assert results[2]["severity"] != "LOW"  # a credential word on the line


def test_pinned_hash_next_to_a_credential_word_is_kept(tmp_path):
    (tmp_path / "c.py").write_text(f'secret_revision_token = "{COMMIT}"\n')
    assert {r["line"] for r in _scan(tmp_path / "c.py")} == {1}


def test_notebook_outputs_are_not_scanned_and_lines_point_into_the_notebook(tmp_path):
    nb = tmp_path / "explore.ipynb"
    nb.write_text(_notebook(["import openai\n", f'openai.api_key = "{OPENAI}"\n', 'model = "gpt-4o"\n']))
    results = _scan(nb)
    assert len(results) == 1, results
    line = nb.read_text().splitlines()[results[0]["line"] - 1]
    assert "openai.api_key" in line and results[0]["severity"] == "HIGH"


def test_notebook_output_only_secret_like_text_gives_nothing(tmp_path):
    nb = tmp_path / "plots.ipynb"
    nb.write_text(_notebook(["import matplotlib.pyplot as plt\n", "plt.plot([1, 2])\n"]))
    from detect_secrets.core.scan import scan_file
    from workbench_plugins.code_audit import secrets_scan

    with secrets_scan.settings():
        assert list(scan_file(str(nb)))  # detect-secrets alone flags the base64 image
    assert _scan(nb) == []


def test_one_line_notebook_still_scanned(tmp_path):
    nb = tmp_path / "flat.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [f'token = "{GITHUB}"\n'],
                                         "outputs": []}]}))
    results = _scan(nb)
    assert any(r["type"] == "GitHub Token" for r in results)


@pytest.mark.parametrize("value", ["EMPTY", "sk-******", "your-key-here", "<your key>", "xxxxxxxxxx",
                                   "changeme", "OPENAI_API_KEY", "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxx"])
def test_placeholder_values(value):
    from workbench_plugins.code_audit.secrets_scan import is_noise

    assert is_noise("Secret Keyword", value, f'api_key = "{value}"')


@pytest.mark.parametrize("kind,value", [("Secret Keyword", PASSWORD), ("AWS Access Key", AWS),
                                        ("Base64 High Entropy String", HF),
                                        ("Hex High Entropy String", COMMIT)])
def test_real_values_are_not_noise(kind, value):
    from workbench_plugins.code_audit.secrets_scan import is_noise

    assert not is_noise(kind, value, f'key = "{value}"')
