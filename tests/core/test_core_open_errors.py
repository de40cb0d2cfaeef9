"""Opening a wrong or damaged file gives a specific error naming the file, and writes nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wb_core_helpers import run_cli, snapshot
from wb_core_testjobs import make_findings
from workbench.core.errors import (
    DamagedProjectError,
    NewerSchemaError,
    NotAProjectError,
    NotSQLiteError,
    ProjectError,
    ProjectLockedError,
    ProjectNotFoundError,
)
from workbench.core.project import SCHEMA_VERSION, Project, validate


def _expect_untouched(folder: Path, path: Path, error_cls, *, readonly: bool):
    before = snapshot(folder)
    with pytest.raises(error_cls) as info:
        Project.open(path, readonly=readonly)
    assert type(info.value) is error_cls
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    assert snapshot(folder) == before, "opening a bad file changed the folder"
    leftovers = [n for n in os.listdir(folder) if n.endswith(("-wal", "-shm", "-journal", ".lock"))]
    assert not leftovers, leftovers
    return info.value


def _sqlite_other_app(path: Path, application_id: int) -> None:
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA application_id = {application_id}")
    conn.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO contacts (name) VALUES ('alice')")
    conn.commit()
    conn.close()


def _project_with_findings(path: Path, batches: int = 30, size: int = 100) -> None:
    with Project.create(path) as project:
        run_id = project.create_run("testplugin", "fill", {})
        for b in range(batches):
            project.add_findings(run_id, make_findings(b, size))
        project.finish_run(run_id, "done")


def _page_size(path: Path) -> int:
    head = path.read_bytes()[:100]
    size = int.from_bytes(head[16:18], "big")
    return 65536 if size == 1 else size


def _rootpage(path: Path, name: str) -> int:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (name,)).fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("readonly", [False, True], ids=["write", "readonly"])
class TestBadFiles:
    def test_missing_path(self, tmp_path, readonly):
        _expect_untouched(tmp_path, tmp_path / "nope.wbproj", ProjectNotFoundError, readonly=readonly)

    def test_folder(self, tmp_path, readonly):
        folder = tmp_path / "looks-like.wbproj"
        folder.mkdir()
        (folder / "inside.txt").write_text("x")
        _expect_untouched(tmp_path, folder, NotAProjectError, readonly=readonly)

    def test_empty_file(self, tmp_path, readonly):
        path = tmp_path / "empty.wbproj"
        path.touch()
        err = _expect_untouched(tmp_path, path, NotSQLiteError, readonly=readonly)
        assert "empty" in str(err)

    def test_text_file(self, tmp_path, readonly):
        path = tmp_path / "notes.wbproj"
        path.write_text("These are my notes, not a project.\n" * 20)
        _expect_untouched(tmp_path, path, NotSQLiteError, readonly=readonly)

    def test_binary_file(self, tmp_path, readonly):
        path = tmp_path / "image.wbproj"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
        _expect_untouched(tmp_path, path, NotSQLiteError, readonly=readonly)

    def test_short_sqlite_header(self, tmp_path, readonly):
        path = tmp_path / "truncated.wbproj"
        path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)
        _expect_untouched(tmp_path, path, NotSQLiteError, readonly=readonly)

    @pytest.mark.parametrize("app_id", [0, 0x12345678])
    def test_sqlite_of_another_application(self, tmp_path, readonly, app_id):
        path = tmp_path / "contacts.wbproj"
        _sqlite_other_app(path, app_id)
        _expect_untouched(tmp_path, path, NotAProjectError, readonly=readonly)

    def test_newer_schema(self, tmp_path, readonly):
        path = tmp_path / "future.wbproj"
        Project.create(path).close()
        conn = sqlite3.connect(str(path))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.commit()
        conn.close()
        err = _expect_untouched(tmp_path, path, NewerSchemaError, readonly=readonly)
        assert str(SCHEMA_VERSION + 1) in str(err)

    def test_damaged_btree_page_header(self, tmp_path, readonly):
        path = tmp_path / "damaged.wbproj"
        _project_with_findings(path)
        assert validate(path)  # healthy before the damage
        for leftover in ("-wal", "-shm"):  # validate() must not leave these (see test below)
            p = path.with_name(path.name + leftover)
            if p.exists():
                p.unlink()
        page = _rootpage(path, "findings")
        size = _page_size(path)
        assert page > 1 and page * size < path.stat().st_size
        with open(path, "r+b") as fh:  # zero the b-tree page header of the findings table
            fh.seek((page - 1) * size)
            fh.write(b"\x00" * 12)
        _expect_untouched(tmp_path, path, DamagedProjectError, readonly=readonly)

    def test_damaged_middle_pages(self, tmp_path, readonly):
        path = tmp_path / "damaged.wbproj"
        _project_with_findings(path)
        for leftover in ("-wal", "-shm"):
            p = path.with_name(path.name + leftover)
            if p.exists():
                p.unlink()
        size = _page_size(path)
        pages = path.stat().st_size // size
        assert pages > 20
        with open(path, "r+b") as fh:  # three whole pages of garbage in the middle
            fh.seek((pages // 2) * size)
            fh.write(b"\xff" * (3 * size))
        _expect_untouched(tmp_path, path, DamagedProjectError, readonly=readonly)


def test_validate_leaves_no_wal_or_shm_behind(tmp_path):
    """validate() is read-only: checking a closed project must not create -wal/-shm files."""
    path = tmp_path / "healthy.wbproj"
    Project.create(path).close()
    before = snapshot(tmp_path)
    validate(path)
    assert snapshot(tmp_path) == before


def test_readonly_open_leaves_no_wal_or_shm_behind(tmp_path):
    path = tmp_path / "healthy.wbproj"
    Project.create(path).close()
    before = snapshot(tmp_path)
    with Project.open(path, readonly=True) as project:
        assert project.summary()["counts"]["events"] >= 1
    assert snapshot(tmp_path) == before


HOLDER = textwrap.dedent("""
    import sys
    from workbench.core.project import Project
    project = Project.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    project.close()
""")


@pytest.fixture
def held_project(tmp_path):
    """A project held open for writing by another (real) process."""
    path = tmp_path / "held.wbproj"
    Project.create(path).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()
        yield path, proc
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=60)


def test_locked_by_another_process_names_it(held_project, tmp_path):
    path, proc = held_project
    before = snapshot(tmp_path)
    with pytest.raises(ProjectLockedError) as info:
        Project.open(path)
    assert info.value.holder["pid"] == proc.pid
    assert f"pid {proc.pid}" in str(info.value)
    assert str(path) in str(info.value)
    assert snapshot(tmp_path) == before
    # ... and creating over it is refused too, without touching it.
    with pytest.raises(ProjectError):
        Project.create(path)
    assert snapshot(tmp_path) == before


def test_readonly_open_works_while_locked(held_project):
    path, proc = held_project
    with Project.open(path, readonly=True) as project:
        assert project.project_id


def test_lock_is_released_when_the_holder_exits(held_project):
    path, proc = held_project
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    with Project.open(path) as project:
        assert project.project_id
    assert not path.with_name(path.name + ".lock").exists()


def test_lock_is_released_when_the_holder_is_killed(held_project):
    path, proc = held_project
    proc.kill()
    proc.wait(timeout=60)
    with Project.open(path) as project:
        assert project.project_id


def test_cli_info_locked_project_still_works_readonly(held_project):
    path, proc = held_project
    result = run_cli("info", path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", ["missing", "text", "other-sqlite", "folder"])
def test_cli_info_bad_file_exits_1_naming_it(tmp_path, kind):
    path = tmp_path / f"{kind}.wbproj"
    if kind == "text":
        path.write_text("hello")
    elif kind == "other-sqlite":
        _sqlite_other_app(path, 0)
    elif kind == "folder":
        path.mkdir()
    before = snapshot(tmp_path)
    result = run_cli("info", path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert snapshot(tmp_path) == before


def test_project_still_open_in_its_creator_validates_and_reads(tmp_path):
    """A new project, still open in the process that created it, keeps its newest
    header in the -wal: a worker's open and ``workbench info`` must still accept it."""
    path = tmp_path / "fresh.wbproj"
    with Project.create(path) as project:
        assert path.with_name(path.name + "-wal").exists()
        validate(path)
        with Project.open(path, worker=True) as worker_view:
            assert worker_view.project_id == project.project_id
        result = run_cli("info", path, "--json")
        assert result.returncode == 0, result.stderr
        assert '"project_id": "%s"' % project.project_id in result.stdout


def test_readonly_view_follows_a_writer_that_opens_later(tmp_path):
    """A read-only view (``workbench info``, a read-only copy in the GUI) opened while nobody
    writes must stay correct when a writer opens the project afterwards."""
    path = tmp_path / "shared.wbproj"
    Project.create(path).close()
    with Project.open(path, readonly=True) as viewer:
        assert viewer.summary()["counts"]["findings"] == 0
        with Project.open(path) as writer:
            run_id = writer.create_run("testplugin", "fill", {})
            for b in range(30):
                writer.add_findings(run_id, make_findings(b, 100))
            writer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            assert viewer.summary()["counts"]["findings"] == 3000
            assert viewer.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
