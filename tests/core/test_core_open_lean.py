"""Opening a plain project does only what showing it needs: no SQLCipher, no hashing, no sockets, no
sealing triggers until the first write; and what was made lazy still happens where it is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from workbench.core import host, project_crypto
from workbench.core.project import Project

# Imported by none of: importing workbench.core.project, opening a plain project, reading it, closing it.
LAZY = ["sqlcipher3", "hmac", "hashlib", "_hashlib", "socket", "getpass", "termios", "secrets", "uuid", "numbers",
        "unicodedata", "workbench.core.kdf", "workbench.core.secret_file_backend", "workbench.core.secrets"]

OPEN_AND_READ = """
import json, sys
from workbench.core.project import Project
with Project.open(sys.argv[1]) as p:
    rows = [tuple(r) for r in p.conn.execute("SELECT COUNT(*) FROM findings")]
    triggers = p.conn.execute("SELECT COUNT(*) FROM sqlite_temp_master WHERE type='trigger'").fetchone()[0]
print(json.dumps({"modules": sorted(sys.modules), "triggers": triggers}))
"""


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "plain.wbproj"
    with Project.create(path) as project:
        run = project.create_run("testplugin", "scan", target="t")
        project.finish_run(run, "done")
    return path


def _sealed(path) -> bool:
    with Project.open(path, readonly=True) as project:
        report = project.verify_events()
    return report.ok and not report.notes


def test_opening_a_plain_project_imports_nothing_it_does_not_use(plain):
    out = subprocess.run([sys.executable, "-c", OPEN_AND_READ, str(plain)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert [m for m in LAZY if m in seen["modules"]] == []
    assert seen["triggers"] == 0  # a project only read gets no sealing triggers


@pytest.mark.parametrize("how", ["execute", "executemany", "cursor", "executescript", "transaction"])
def test_the_first_write_after_opening_is_sealed(plain, how):
    with Project.open(plain) as project:
        assert not project._seal_ready
        sql = "UPDATE runs SET message = ? WHERE id = 1"
        if how == "execute":
            project.conn.execute(sql, ("changed",))
        elif how == "executemany":
            project.conn.executemany(sql, [("changed",)])
        elif how == "cursor":
            project.conn.cursor().execute(sql, ("changed",))
        elif how == "executescript":
            project.conn.executescript("UPDATE runs SET message = 'changed' WHERE id = 1;")
        else:
            with project.transaction():
                project.conn.execute(sql, ("changed",))
        assert project._seal_ready
    assert _sealed(plain)


def test_a_write_from_another_thread_waits_for_the_triggers(plain):
    with Project.open(plain) as project:
        errors = []

        def write(i):
            try:
                project.conn.execute("INSERT INTO meta (key, value) VALUES (?, 'x')", (f"k{i}",))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
    assert _sealed(plain)


def test_a_change_from_outside_is_still_found(plain):
    import sqlite3

    with Project.open(plain):
        pass  # opened and closed without a write: no triggers, nothing sealed, nothing changed
    assert _sealed(plain)
    conn = sqlite3.connect(plain)
    conn.execute("UPDATE runs SET message = 'forged' WHERE id = 1")
    conn.commit()
    conn.close()
    assert not _sealed(plain)


def test_database_errors_cover_sqlcipher_when_it_is_there():
    errors = project_crypto.ERROR
    assert sqlite3_error() in errors
    if project_crypto.available():
        from sqlcipher3 import dbapi2

        assert dbapi2.Error in errors and dbapi2.OperationalError in project_crypto.OPERATIONAL_ERROR
        assert dbapi2.DatabaseError in project_crypto.DATABASE_ERROR
    from workbench.api import DATABASE_ERRORS

    assert DATABASE_ERRORS == errors


def sqlite3_error():
    import sqlite3

    return sqlite3.Error


@pytest.mark.skipif(not project_crypto.available(), reason="no SQLCipher driver on this platform")
def test_an_encrypted_project_still_opens_and_is_sealed(tmp_path):
    path = tmp_path / "secret.wbproj"
    with Project.create(path, "secret", encrypted=True):
        pass
    with Project.open(path) as project:
        assert project.encrypted and project.name == "secret"
        project.conn.execute("INSERT INTO meta (key, value) VALUES ('note', 'written after the open')")
    with Project.open(path, readonly=True) as project:
        assert project.meta("note") == "written after the open" and project.verify_events().ok


def test_host_gives_what_getpass_and_socket_give(monkeypatch):
    import getpass
    import socket

    assert host.host_name() == socket.gethostname()
    assert host.current_user() == getpass.getuser()
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    try:
        expected = getpass.getuser()
    except Exception:
        expected = f"uid {os.getuid()}"
    assert host.current_user() == expected
    monkeypatch.setenv("USER", "someone")
    assert host.current_user() == getpass.getuser() == "someone"
