"""Signed reports: verification offline, tampering and project changes detected, every report in
the audit log, and nothing secret or personal in a report."""

from __future__ import annotations

import csv
import json
import random

import pytest

from workbench.core.plugins import load_plugins
from workbench.core.project import Project

from .test_report_content import _audit_run, html_text, pdf_text


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "t.wbproj"
    with Project.create(path, name="Trust", plugins=load_plugins().plugins) as p:
        _audit_run(p, "/src/a", 1000, [("B602", "HIGH", "HIGH")])
    return path


def test_signed_pdf_verifies_and_detects_changes(project, tmp_path, capsys):
    from workbench.cli import main

    pdf = tmp_path / "r.pdf"
    assert main(["report", str(project), "-o", str(pdf)]) == 0
    sig = json.loads((tmp_path / "r.pdf.sig").read_text())
    assert sig["payload"]["state_sha256"] in pdf_text(pdf).replace(" ", "")
    key = tmp_path / "me.pem"
    assert main(["verify-report", "--export-public-key", str(key)]) == 0
    capsys.readouterr()

    assert main(["verify-report", str(pdf), "--project", str(project), "--public-key", str(key)]) == 0
    out = capsys.readouterr().out
    assert "intact     yes" in out and "signature  valid" in out and "matches the public key" in out
    assert "project    matches" in out and "verdict    OK" in out

    # Another signer's key: the signature is valid but not by the key the reviewer trusts.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert main(["verify-report", str(pdf), "--public-key", str(other)]) == 1
    assert "DOES NOT match" in capsys.readouterr().out

    # The project changes after the report: reported as changed (the report itself is still intact).
    with Project.open(project) as p:
        p.set_triage([f["fingerprint"] for f in p.findings()], "fixed", "patched")
    assert main(["verify-report", str(pdf), "--project", str(project)]) == 1
    out = capsys.readouterr().out
    assert "intact     yes" in out and "project    CHANGED" in out

    # One changed byte of the PDF: not intact.
    data = bytearray(pdf.read_bytes())
    i = data.index(b"/Creator")
    data[i + 1] ^= 0x20
    pdf.write_bytes(bytes(data))
    assert main(["verify-report", str(pdf)]) == 1
    assert "intact     NO" in capsys.readouterr().out

    # An edited .sig (a forged state hash) breaks the signature.
    sig["payload"]["state_sha256"] = "0" * 64
    (tmp_path / "r.pdf.sig").write_text(json.dumps(sig))
    assert main(["verify-report", str(pdf)]) == 1
    assert "signature  INVALID" in capsys.readouterr().out


def test_every_cli_report_is_logged_or_warned(project, tmp_path):
    from wb_core_helpers import run_cli

    from workbench.cli import main

    assert main(["report", str(project), "-o", str(tmp_path / "a.html"), "--template", "executive"]) == 0
    with Project.open(project, readonly=True) as p:
        last = p.events(limit=1)[0]
        sha = p.state_sha256()
    assert last["kind"] == "report" and "a.html" in last["message"]
    data = json.loads(last["data"])
    assert data["state_sha256"] == sha and data["template"] == "executive" and data["signed"]

    # Another workbench holds the project for writing: the report is written, with a warning.
    with Project.open(project):
        proc = run_cli("report", project, "-o", tmp_path / "b.pdf")
    assert proc.returncode == 0, proc.stderr
    assert "not recorded in the project's audit log" in proc.stderr
    assert (tmp_path / "b.pdf").is_file()


def test_no_secret_or_personal_value_in_reports(tmp_path):
    from workbench.cli import main
    from workbench.core.secrets import set_secret

    proj = tmp_path / "s.wbproj"
    tree = tmp_path / "tree"
    tree.mkdir()
    aws = "AKIAZ7Q3XK2M9PLW4RTB"
    password = "Tr0ub4dor-planted-Zq81x"
    (tree / "settings.py").write_text(f'AWS_KEY = "{aws}"\ndb_password = "{password}"\nimport pickle\n')
    assert main(["audit", str(tree), "-p", str(proj), "--workers", "1", "--no-models"]) == 0

    keyring_value = "kr-planted-VALUE-5f3e1a"
    with Project.open(proj) as p:
        set_secret(p, "api_token", keyring_value)

    people = tmp_path / "people.csv"
    email = "zebulon.quuxington@example.org"
    rng = random.Random(3)
    with open(people, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "email", "age", "zip", "diagnosis"])
        for i in range(300):
            w.writerow([f"Person {i}", email if i == 7 else f"user{i}@example.org", 20 + i % 50,
                        10000 + (i % 20) * 7, rng.choice(["flu", "cold", "asthma"])])
    (tmp_path / "h_age.csv").write_text("".join(f"{a};{a // 10 * 10}-{a // 10 * 10 + 9};*\n" for a in range(20, 70)))
    (tmp_path / "h_zip.csv").write_text("".join(f"{10000 + i * 7};{str(10000 + i * 7)[:3]}**;*\n" for i in range(20)))
    assert main(["anonymise", str(people), "-o", str(tmp_path / "anon.csv"), "-p", str(proj), "--k", "3",
                 "--qi", f"age={tmp_path / 'h_age.csv'}", "--qi", f"zip={tmp_path / 'h_zip.csv'}"]) == 0
    assert email not in (tmp_path / "anon.csv").read_text()  # the planted value was tokenised

    with Project.open(proj, readonly=True) as p:
        assert {r["plugin"] for r in p.runs(status="done")} >= {"code_audit", "anonymise"}
        assert any(f["rule"].startswith("SECRET") for f in p.findings())  # the secret was found...
    texts = {}
    for name in ("full.pdf", "full.html", "exec.pdf"):
        template = "executive" if name.startswith("exec") else "full"
        assert main(["report", str(proj), "-o", str(tmp_path / name), "--template", template]) == 0
        texts[name] = pdf_text(tmp_path / name) if name.endswith(".pdf") else html_text(tmp_path / name)
        texts[name + " raw"] = (tmp_path / name).read_bytes().decode("latin-1")
        texts[name + ".sig"] = (tmp_path / (name + ".sig")).read_text()
    assert "Secret in the tree" in texts["full.html"]  # ...and is reported, masked
    for where, text in texts.items():
        flat = text.replace(" ", "")
        for planted in (aws, password, keyring_value, email, "quuxington"):
            assert planted not in flat, f"{planted} found in {where}"
