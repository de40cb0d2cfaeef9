"""The sealing triggers are created before the first write (SealOnFirstWrite): a write through a cursor
that a read handed out before that (``conn.execute("SELECT ...")``, ``PluginStore.execute``) is a first
write too, and must be sealed like any other, not reported later as a change made outside the workbench."""

from __future__ import annotations

import pytest

from workbench.core import project_crypto
from workbench.core.plugin_store import PluginStore
from workbench.core.project import Project

UPDATE = "UPDATE runs SET message = 'changed' WHERE id = 1"


def _make(path, *, encrypted=False):
    with Project.create(path, encrypted=encrypted) as project:
        run = project.create_run("testplugin", "scan", target="t")
        project.finish_run(run, "done")
    return path


@pytest.fixture
def plain(tmp_path):
    return _make(tmp_path / "plain.wbproj")


def _sealed(path) -> bool:
    with Project.open(path, readonly=True) as project:
        assert project.conn.execute("SELECT message FROM runs WHERE id = 1").fetchone()[0] == "changed"
        report = project.verify_events()
    return report.ok and not report.notes


def _write(cursor, how):
    if how == "execute":
        cursor.execute(UPDATE)
    elif how == "executemany":
        cursor.executemany(UPDATE, [()])
    else:
        cursor.executescript(UPDATE + ";")


@pytest.mark.parametrize("how", ["execute", "executemany", "executescript"])
def test_a_write_through_a_cursor_a_read_returned_is_sealed(plain, how):
    with Project.open(plain) as project:
        cursor = project.conn.execute("SELECT id FROM runs")
        cursor.fetchall()
        _write(cursor, how)
    assert _sealed(plain)


@pytest.mark.parametrize("worker", [False, True])
def test_a_plugin_reusing_its_stores_read_cursor_is_sealed(plain, worker):
    with Project.open(plain, worker=worker) as project:
        store = PluginStore(project, "testplugin")
        cursor = store.execute("SELECT id FROM runs WHERE plugin = ?", ("testplugin",))
        assert [r[0] for r in cursor] == [1]
        cursor.execute(UPDATE)
    assert _sealed(plain)


def test_reads_through_such_a_cursor_still_install_nothing(plain):
    with Project.open(plain) as project:
        cursor = project.conn.execute("SELECT 1")
        cursor.execute("SELECT COUNT(*) FROM runs").fetchone()
        assert not project._seal_ready
        assert project.conn.execute("SELECT COUNT(*) FROM sqlite_temp_master").fetchone()[0] == 0


@pytest.mark.skipif(not project_crypto.available(), reason="no SQLCipher driver on this platform")
def test_an_encrypted_projects_read_cursor_reused_for_a_write_is_sealed(tmp_path):
    path = _make(tmp_path / "secret.wbproj", encrypted=True)
    with Project.open(path) as project:
        cursor = project.conn.execute("SELECT id FROM runs")
        cursor.fetchall()
        cursor.execute(UPDATE)
    assert _sealed(path)
