"""What is stored about a secret must not reveal it (issue 17): no unkeyed digest of a planted
value in the project file or any export, masks that show none of a free-form secret, and a
value found as a secret in one file masked in every other file's snippets of the run."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import textwrap

PASSWORD = "Summer2024!"
GITHUB = "ghp_" + "Zq8rT001xLm2vB9kW4yN6pQ3sD5fG7hJ1aC0"
AWS = "AKIAZQ3DEMOFAKE7EXAM"
DB_PASSWORD = "wintertime-Lantern-42"
VALUES = (PASSWORD, GITHUB, AWS, DB_PASSWORD)


def make_tree(root):
    root.mkdir()
    (root / "settings.py").write_text(textwrap.dedent(f"""
        DB_HOST = "db.internal"
        password = "{PASSWORD}"
        GITHUB_TOKEN = "{GITHUB}"
    """))
    (root / "deploy.yaml").write_text(f"aws_access_key_id: {AWS}\ndb_password: \"{DB_PASSWORD}\"\n")
    # The same values, not flagged as secrets here: another file's evidence must not show them.
    (root / "test_login.py").write_text(textwrap.dedent(f"""
        from app import login

        def test_login():
            assert login("admin", "{PASSWORD}")
            assert login("deploy", "{DB_PASSWORD}") is not None
    """))
    return root


def digests(value: str) -> set[bytes]:
    raw = value.encode()
    out = set()
    for algo in ("sha256", "sha1", "md5", "sha512"):
        h = hashlib.new(algo, raw).hexdigest()
        out |= {h.encode(), h.upper().encode()}
    return out


def wb(*args, env=None):
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})


def test_no_unkeyed_digest_or_character_of_a_secret_is_stored_or_exported(tmp_path):
    tree = make_tree(tmp_path / "tree")
    project = tmp_path / "p.wbproj"
    exports = {ext: tmp_path / f"out.{ext}" for ext in ("json", "sarif", "csv")}
    proc = wb("audit", tree, "-p", project, "--json", exports["json"], "--sarif", exports["sarif"],
              "--csv", exports["csv"], "--workers", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    findings = json.loads(exports["json"].read_text())
    findings = findings["findings"] if isinstance(findings, dict) else findings
    rules = {f["rule"] for f in findings}
    assert {"B105", "B101", "SECRET-aws-access-key", "SECRET-github-token"} <= rules  # the values were found
    blobs = {name: path.read_bytes() for name, path in exports.items()}
    blobs["project"] = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("p.wbproj"))
    # Nor a digest of a flagged line that holds one (its shape is visible in the masked snippet).
    from workbench.api import normalise_code

    lines = [normalise_code(line) for line in (tree / "test_login.py").read_text().splitlines() if "login(" in line]
    for line in lines[1:]:
        for name, blob in blobs.items():
            assert not any(d in blob for d in digests(line)), (name, "a digest of a flagged line")
    for value in VALUES:
        for name, blob in blobs.items():
            assert value.encode() not in blob, (name, value[:4])
            for digest in digests(value):
                assert digest not in blob, (name, value[:4], "an unkeyed digest of the value")
    # Masks: nothing of a free-form secret (not its first or last characters), a token keeps its prefix.
    text = exports["json"].read_text()
    for part in ("Summ", "24!", "wint", "-42", "Zq8r", "ZQ3D"):
        assert part not in text, part
    masked = {f["evidence"].get("masked") for f in findings if f["evidence"].get("masked")}
    assert masked <= {"****", "ghp_****", "AKIA****"} and {"ghp_****", "AKIA****"} <= masked
    # Every other file's snippet of the run is masked with the values found anywhere in it.
    b101 = [f for f in findings if f["rule"] == "B101" and f["path"] == "test_login.py"]
    assert len(b101) == 2 and all("****" in f["evidence"]["code"] for f in b101)
    assert any('login("admin", "****")' in f["evidence"]["code"] for f in b101)


def test_digest_is_keyed_by_the_project_key_in_the_secrets_backend(tmp_path, project, run_audit):
    from workbench_plugins.code_audit.masking import DIGEST_KEY_NAME

    tree = make_tree(tmp_path / "tree")
    run_id, _ = run_audit({"target": str(tree), "workers": 1})
    store = project.store("code_audit")
    key = bytes.fromhex(store.get_secret(DIGEST_KEY_NAME))
    assert DIGEST_KEY_NAME in project.secret_names()  # only its name is in the project
    aws = next(f for f in project.findings(run_id=run_id) if f["rule"] == "SECRET-aws-access-key")
    assert aws["evidence"]["secret_hmac"] == hmac.new(key, AWS.encode(), hashlib.sha256).hexdigest()
    # The same key next run: the finding keeps its identity.
    again, summary = run_audit({"target": str(tree), "workers": 1})
    same = next(f for f in project.findings(run_id=again) if f["rule"] == "SECRET-aws-access-key")
    assert same["fingerprint"] == aws["fingerprint"] and summary["new"] == 0
    assert summary["cached_files"] == summary["files"]  # answered from the run cache under the same key


def test_without_a_secrets_backend_no_digest_is_stored_and_identities_hold(tmp_path):
    tree = make_tree(tmp_path / "tree")
    project = tmp_path / "p.wbproj"
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    out = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in out:
        proc = wb("audit", tree, "-p", project, "--json", path, "--workers", "1", env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
    runs = []
    for path in out:
        data = json.loads(path.read_text())
        runs.append(data["findings"] if isinstance(data, dict) else data)
    secrets = [f for f in runs[0] if f["rule"].startswith("SECRET-")]
    assert secrets and not any("secret_hmac" in f["evidence"] for f in runs[0])
    assert {f["fingerprint"] for f in runs[0]} == {f["fingerprint"] for f in runs[1]}


def test_masks_show_a_known_prefix_at_most():
    from workbench_plugins.code_audit.masking import mask, mask_values

    assert mask(PASSWORD) == mask(DB_PASSWORD) == mask("x" * 300) == mask("ab") == "****"  # not even the length
    assert mask(GITHUB) == "ghp_****" and mask(AWS) == "AKIA****"
    assert mask("sk-short") == mask("hf_notatoken") == "****"  # a prefix alone is not a token
    line = f'cfg = {{"token": "{GITHUB}", "pw": "{PASSWORD}"}}'
    assert mask_values(line, {PASSWORD}) == 'cfg = {"token": "ghp_****", "pw": "****"}'
