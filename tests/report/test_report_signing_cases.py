"""Signing that cannot quietly fail: a fresh copy's first report verifies, a wrong passphrase / locked
backend / no backend stops with the way forward (unless --unsigned), an unsigned report still has its
state hash checked, a plugin section that raises is said in place and fails the command, and a project
that does not verify is never signed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from workbench.cli import main
from workbench.core.plugins import load_plugins
from workbench.core.project import Project

from .test_report_content import _audit_run

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "a.wbproj"
    with Project.create(path, name="Signing", plugins=load_plugins().plugins) as p:
        _audit_run(p, "/src/a", 1000, [("B602", "HIGH", "HIGH")])
    return path


def test_first_report_of_a_fresh_copy_verifies(project, tmp_path, capsys):
    copy = tmp_path / "b.wbproj"
    shutil.copy(project, copy)  # cp a b: another inode, so b takes its own project id
    report = tmp_path / "b.html"
    assert main(["report", str(copy), "-o", str(report)]) == 0
    capsys.readouterr()
    assert main(["verify-report", str(report), "--project", str(copy)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "project    matches" in out and "different project" not in out
    with Project.open(copy, readonly=True) as b, Project.open(project, readonly=True) as a:
        assert a.project_id != b.project_id


def test_a_project_that_does_not_verify_is_not_signed(project, tmp_path, capsys):
    conn = sqlite3.connect(project)
    conn.execute("UPDATE findings SET severity='LOW'")
    conn.commit()
    conn.close()
    report = tmp_path / "r.html"
    assert main(["report", str(project), "-o", str(report)]) == 1
    err = capsys.readouterr().err
    assert "does not verify" in err and "outside the workbench" in err and "--unsigned" in err
    assert not report.exists() and not report.with_name("r.html.sig").exists()
    assert main(["report", str(project), "-o", str(report), "--unsigned"]) == 0
    assert report.exists() and not report.with_name("r.html.sig").exists()


@pytest.mark.parametrize("fmt", ["pdf", "html"])
def test_unsigned_report_still_has_its_state_checked(project, tmp_path, capsys, fmt):
    report = tmp_path / f"u.{fmt}"
    assert main(["report", str(project), "-o", str(report), "--unsigned"]) == 0
    capsys.readouterr()
    if fmt == "pdf":  # the cover says it is not signed (never "None (Ed25519 key None)")
        from pypdf import PdfReader

        cover = " ".join(PdfReader(str(report)).pages[0].extract_text().split())
        assert "Signed by not signed" in cover and "key None" not in cover
    assert main(["verify-report", str(report), "--project", str(project)]) == 1  # unsigned never verifies
    out = capsys.readouterr().out
    assert "signature  NONE" in out and "project    matches the state hash the report carries" in out
    assert "verdict    UNSIGNED" in out
    with Project.open(project) as p:
        p.set_triage([f["fingerprint"] for f in p.findings()], "fixed", "patched")
    assert main(["verify-report", str(report), "--project", str(project)]) == 1
    assert "project    CHANGED" in capsys.readouterr().out


def test_a_section_that_raises_is_said_in_place_and_fails_the_command(project, tmp_path, capsys, monkeypatch):
    registry = load_plugins()
    plugin = next(p for p in registry.plugins if p.id == "code_audit")

    def broken(store, options):
        raise RuntimeError("section exploded")

    monkeypatch.setattr(plugin, "report_sections", broken)
    report = tmp_path / "s.html"
    assert main(["report", str(project), "-o", str(report)]) == 1
    err = capsys.readouterr().err
    assert "warning: the report is incomplete: plugin code_audit" in err and "section exploded" in err
    text = report.read_text()
    assert "This plugin failed to produce its section: RuntimeError: section exploded" in text
    assert report.with_name("s.html.sig").exists()  # what it says is true, so it is signed


# ------------------------------------------------------------ the secrets backend, in real processes
def _bare_env(tmp_path, **extra) -> dict:
    """A machine with no OS keyring; the encrypted-file backend once chosen."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "WORKBENCH_KEYRING_PASSPHRASE",
                        "WORKBENCH_SETTINGS_DIR")}
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_DATA_HOME=str(tmp_path / "xdg-data"),
               XDG_RUNTIME_DIR=str(runtime))
    env.update(extra)
    return env


def _run(args, env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=180,
                          cwd=REPO_ROOT)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bare-machine environment is Linux's")
def test_no_key_locked_backend_and_wrong_passphrase_exit_1_with_the_way_forward(project, tmp_path):
    env = _bare_env(tmp_path)
    report = tmp_path / "k.html"
    # No keyring backend at all.
    r = _run(["-m", "workbench", "report", str(project), "-o", str(report)], env)
    assert r.returncode == 1 and "cannot sign" in r.stderr and "--unsigned" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not report.exists()

    made = _run(["-c", textwrap.dedent(f"""
        from workbench.core import secrets
        secrets.choose_backend("encrypted-file")
        secrets.unlock({PASSPHRASE!r})
        secrets.set_user_secret("probe", "x")
    """)], env)
    assert made.returncode == 0, made.stderr
    # Locked: no passphrase given.
    r = _run(["-m", "workbench", "report", str(project), "-o", str(report)], env)
    assert r.returncode == 1 and "locked" in r.stderr and "--unsigned" in r.stderr, r.stderr
    assert not report.exists()
    # A wrong passphrase: never an unsigned report with exit 0.
    wrong = dict(env, WORKBENCH_KEYRING_PASSPHRASE=PASSPHRASE + "!")
    r = _run(["-m", "workbench", "report", str(project), "-o", str(report)], wrong)
    assert r.returncode == 1 and "passphrase" in r.stderr and "wrong" in r.stderr and "--unsigned" in r.stderr
    assert not report.exists()
    # Asked for: unsigned, said so.
    r = _run(["-m", "workbench", "report", str(project), "-o", str(report), "--unsigned"], wrong)
    assert r.returncode == 0, r.stderr
    assert report.exists() and not report.with_name("k.html.sig").exists() and "not signed" in r.stderr
    # The right passphrase signs.
    right = dict(env, WORKBENCH_KEYRING_PASSPHRASE=PASSPHRASE)
    report.unlink()
    r = _run(["-m", "workbench", "report", str(project), "-o", str(report)], right)
    assert r.returncode == 0 and report.with_name("k.html.sig").exists(), r.stderr
