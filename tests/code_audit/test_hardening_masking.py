"""Secret masking (issue 7): every known secret value of a file is masked in
every snippet and message of that file, whatever rule found it, and the value
comes from the source text, not from a detector's partial report."""

from __future__ import annotations

import json

import pytest

from workbench_plugins.code_audit import masking, secrets_scan

TOKEN_A = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
TOKEN_B = "ghp_ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"
TOKEN_C = "ghp_Q1w2E3r4T5y6U7i8O9p0AaSsDdFfGgHhJjKk"
AWS = "AKIAZDEMOFAKE7EXAMPL"
PW_CALL = "Zq8#rT11xLm2!vB9"
PW_MULTI = "Mv93!kq#LLp0xZ"
PW_DEFAULT = "Hx72!pqLmn0@Za"
PW_ASSIGN = "Tt55#yyRRmm00!!"
ALL = (TOKEN_A, TOKEN_B, TOKEN_C, AWS, PW_CALL, PW_MULTI, PW_DEFAULT, PW_ASSIGN)

SOURCE = f'''import requests

API = "{TOKEN_A}"
OTHER = "{TOKEN_B}"
db = connect(host="db.internal", password="{PW_CALL}", key="{AWS}")
client = make_client(
    user="svc",
    password="{PW_MULTI}",
)
r = requests.get(
    "https://api.example.org",
    headers={{"Authorization": "token {TOKEN_C}"}},
)


def login(user, password="{PW_DEFAULT}"):
    return user


password = "{PW_ASSIGN}"
'''


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "app.py").write_text(SOURCE)
    (root / "deploy.env").write_text(f"TOKEN={TOKEN_A} BACKUP={TOKEN_B}\n")
    return root


def _findings(root):
    """Findings as the audit builds them, from real bandit and detect-secrets runs, unmasked."""
    from workbench.api import Finding

    from workbench_plugins.code_audit import bandit_config, bandit_runner

    cfg = bandit_config.load_config(str(root), None)
    res = bandit_runner.audit_file(str(root / "app.py"), "app.py", cfg)
    findings = [Finding(plugin="code_audit", rule=i["test_id"], severity=i["severity"], confidence=i["confidence"],
                        title=i["test_name"], message=i["text"], path="app.py", line=i["line"],
                        end_line=i["end_line"], evidence={"scanner": "bandit", "code": i["code"]})
                for i in res.issues]
    files = [(str(root / rel), rel) for rel in ("app.py", "deploy.env")]
    scanned = secrets_scan.add_digests(secrets_scan.scan_files(files, workers=1), dict((r, p) for p, r in files),
                                       b"k" * 32)
    for rel, (results, _) in scanned.items():
        findings += [Finding(plugin="code_audit", rule="SECRET-" + r["type"], severity="HIGH", confidence="HIGH",
                             title=r["type"], message=f"{r['type']} {r['masked']}", path=rel, line=r["line"],
                             end_line=r["line"], evidence={"masked": r["masked"], "secret_hmac": r["digest"],
                                                           "code": r["code"]})
                     for r in results]
    return findings, scanned


def test_every_secret_masked_in_every_snippet_and_message(tree):
    findings, scanned = _findings(tree)
    rules = {f.rule for f in findings}
    assert {"B105", "B106", "B107", "B113"} <= rules  # bandit saw the passwords and the multi-line call
    multi = next(f for f in findings if f.rule == "B113")
    assert multi.end_line > multi.line and TOKEN_C in multi.evidence["code"]  # the leak being fixed
    masking.mask_findings(findings, scanned, str(tree))
    text = json.dumps([f.as_dict() for f in findings])
    for value in ALL:
        assert value not in text, value
    # Nothing else is masked away: the code around the secrets stays readable.
    assert "requests.get(" in multi.evidence["code"] and "Authorization" in multi.evidence["code"]
    b106 = [f for f in findings if f.rule == "B106"]
    assert any('host="db.internal"' in f.evidence["code"] for f in b106)


def test_two_secrets_on_one_line_are_both_masked(tmp_path):
    path = tmp_path / "keys.env"
    path.write_text(f"PRIMARY={AWS} SECONDARY={TOKEN_B}\n")
    results, _ = secrets_scan.scan_files([(str(path), "keys.env")], workers=1)["keys.env"]
    assert len({r["type"] for r in results}) >= 2
    for r in results:
        assert AWS not in r["code"] and TOKEN_B not in r["code"]
        assert "PRIMARY=" in r["code"] and "SECONDARY=" in r["code"]


def test_github_tokens_masked_whole_with_distinct_digests(tmp_path):
    path = tmp_path / "ci.yaml"
    path.write_text(f"a: {TOKEN_A}\nb: '{TOKEN_B}'\nc: \"{TOKEN_C}\"\n")
    key = b"k" * 32
    scanned = secrets_scan.add_digests(secrets_scan.scan_files([(str(path), "ci.yaml")], workers=1),
                                       {"ci.yaml": str(path)}, key)
    results, _ = scanned["ci.yaml"]
    github = [r for r in results if r["type"] == "GitHub Token"]
    assert len(github) == 3
    assert len({r["digest"] for r in github}) == 3  # not the digest of "ghp" three times
    assert {r["digest"] for r in github} == {masking.secret_hash(t, key) for t in (TOKEN_A, TOKEN_B, TOKEN_C)}
    for r in github:
        body = r["code"].split(":", 1)[1]
        assert not any(t[6:-2] in body for t in (TOKEN_A, TOKEN_B, TOKEN_C))
        assert r["masked"] == "ghp_****"  # the provider prefix, nothing of the token's own part


def test_full_value_is_taken_from_the_source_line():
    line = f'call(user="bob", token="{TOKEN_A}", note="x")'
    assert masking.full_secret_values(line, "ghp") == [TOKEN_A]  # detector reported the prefix only
    assert masking.full_secret_values('pw = "s3cr3t-value-here"', "cr3t-val") == ["s3cr3t-value-here"]
    assert masking.full_secret_values(f"key {AWS} end", AWS) == [AWS]
    assert masking.full_secret_values("nothing here", "zzz") == []
    two = f"A={TOKEN_A} B={TOKEN_A}"
    assert masking.full_secret_spans(two, "ghp") == [(2, 42), (45, 85)]


def test_mask_values_edges():
    # A value cut off at the end of a truncated snippet is still masked.
    cut = f'x = "{PW_ASSIGN}"'[:12]
    assert PW_ASSIGN[:6] not in masking.mask_values(cut, {PW_ASSIGN})
    assert TOKEN_A[:14] not in masking.mask_values(f"t = {TOKEN_A[:14]}", set())
    # Short values are masked only as whole quoted strings, so code stays readable.
    assert masking.mask_values('p = "ab"; tab = 1', {"ab"}) == 'p = "****"; tab = 1'
    # A value that is a prefix of another is not masked inside the other's mask.
    out = masking.mask_values(f"{TOKEN_A} {TOKEN_A[:20]}", {TOKEN_A, TOKEN_A[:20]})
    assert TOKEN_A[6:20] not in out
    # Known token shapes are masked even when no detector reported them.
    assert "hf_" in masking.mask_values("h = hf_" + "a" * 34, ()) and "a" * 30 not in masking.mask_values(
        "h = hf_" + "a" * 34, ())


def test_source_lines_number_like_python():
    text = "a = 1\x0cb = 2\r\nc = 3\rd = 4\n"
    assert masking.source_lines(text) == ["a = 1\x0cb = 2", "c = 3", "d = 4"]


def test_text_scan_equals_path_scan(tmp_path):
    """detect-secrets on the text already read finds exactly what it finds opening the file."""
    from workbench_plugins.code_audit.engine import prepare_demo

    demo = tmp_path / "demo"
    prepare_demo(str(demo))
    (demo / "extra.yaml").write_text(f'token: "{TOKEN_A}"\npassword: hunter2hunter2\nk: {AWS}\n')
    (demo / "crlf.ini").write_bytes(f"[a]\r\npassword = {PW_CALL}\r\n".encode())
    files = [p for p in demo.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml", ".ini", ".env", ".txt")]

    def key(s):
        return (s.type, s.line_number, s.secret_hash)

    with secrets_scan.settings():
        by_path = {str(p): sorted(map(key, secrets_scan._scan(str(p)))) for p in files}
        by_text = {str(p): sorted(map(key, secrets_scan._scan(str(p), p.read_text()))) for p in files}
    assert sum(map(len, by_path.values())) >= 4
    assert by_text == by_path


def test_mask_findings_reads_escaped_names_from_their_real_path(tmp_path):
    import os

    from workbench.api import Finding

    from workbench_plugins.code_audit.reading import display_path

    raw = os.path.join(os.fsencode(tmp_path), b"conf\xe9.env")
    with open(raw, "wb") as fh:
        fh.write(f"A={TOKEN_A}\nB=x\n".encode())
    rel = os.fsdecode(b"conf\xe9.env")
    scanned = secrets_scan.scan_files([(os.fsdecode(raw), rel)], workers=1)
    shown = display_path(rel)
    finding = Finding(plugin="code_audit", rule="B000", severity="LOW", confidence="LOW", title="t",
                      message=f"line mentions {TOKEN_A[:30]}", path=shown, line=1,
                      evidence={"code": f"A={TOKEN_A}"})
    masking.mask_findings([finding], {shown: scanned[rel]}, str(tmp_path), paths={shown: os.fsdecode(raw)})
    assert TOKEN_A not in finding.evidence["code"] and TOKEN_A[:30] not in finding.message


def test_private_key_body_lines_are_secret_values():
    body = ["MIIEowIBAAKCAQEAu8eBOVhU0pC5E0Tq8kq1", "Zx9Lq2Rt5Yu7Io0Pa3Sd6Fg8Hj1Kl4Zx7Cv9Bn2M"]
    text = ('KEY = """-----BEGIN RSA PRIVATE KEY-----\n' + "\n".join(body) +
            '\n-----END RSA PRIVATE KEY-----"""\nINLINE = "-----BEGIN PRIVATE KEY-----\\nQWxhZGRpbjpvcGVuIHNlc2FtZQab'
            '\\n-----END PRIVATE KEY-----"\n')
    values = masking.secret_values_of_file(text)
    assert set(body) <= values and "QWxhZGRpbjpvcGVuIHNlc2FtZQab" in values
    snippet = "\n".join(body[1:]) + "\n-----END RSA PRIVATE KEY-----"  # a snippet that starts mid-key
    assert not any(b in masking.mask_values(snippet, values) for b in body)


def test_masking_twice_gives_the_same_text():
    """A message read back from the per-file cache is masked again: the provider prefix stays."""
    from workbench_plugins.code_audit.masking import MASK, mask, mask_issue_text

    token = "hf_" + "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z"
    once = mask_issue_text({"test_id": "B105", "text": f"Possible hardcoded password: '{token}'"})
    assert once == "Possible hardcoded password: 'hf_****'"
    assert mask_issue_text({"test_id": "B105", "text": once}) == once
    assert mask(mask("Summer2024!")) == MASK and mask("hf_" + MASK) == "hf_" + MASK
