"""A full disk when the project closes is reported, and what was saved survives in the WAL."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from workbench.core.errors import StorageFullError
from workbench.core.findings import Finding
from workbench.core.project import Project


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root in a container that allows it)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_failed_checkpoint_at_close_is_reported_and_nothing_is_lost(small_disk):
    path = small_disk / "p.wbproj"
    project = Project.create(path)
    project.conn.execute("PRAGMA wal_autocheckpoint = 0")  # let the WAL hold everything until close
    run = project.create_run("testplugin", "scan", {}, target="t")
    project.start_run(run)
    project.add_findings(run, [Finding(plugin="testplugin", rule="R", severity="LOW", confidence="LOW", title="t",
                                       message="m" * 200, fingerprint=f"fp{i}") for i in range(1500)])
    project.finish_run(run, "done", summary={"n": 1500})
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as fh:  # fill the disk: the checkpoint cannot grow the main file
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    with pytest.raises(StorageFullError, match="keep it beside the project"):
        project.close()
    filler.unlink()
    with Project.open(path, readonly=True) as p:
        assert len(p.findings(run_id=run)) == 1500
        assert p.verify_events().ok


def test_a_run_stopped_by_a_full_disk_says_so_later(small_disk):
    from wb_core_testjobs import plugin

    from workbench.core.jobs import run_in_process

    path = small_disk / "p.wbproj"
    project = Project.create(path)
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as fh:  # leave a little room: the job fills the rest
        free = shutil.disk_usage(small_disk).free
        fh.write(b"\0" * max(0, free - 300_000))
    try:  # either the failure is recorded on the run, or even that could not be written
        _, status, _ = run_in_process(project, plugin.job_spec("write_batches", batches=10_000, size=200, pause=0))
        assert status == "failed"
    except StorageFullError:
        pass
    try:
        project.close()
    except StorageFullError:
        pass
    filler.unlink()
    with Project.open(path) as p:
        [run] = p.runs()
        why = run["message"] if run["status"] == "interrupted" else run["error"]
        assert run["status"] in ("interrupted", "failed")
        assert "disk is full" in why or "full disk" in why, why
        assert len(p.findings(run_id=run["id"])) > 0  # the batches committed before are kept
    assert not list(small_disk.glob("*.note"))


def test_the_run_note_explains_an_interrupted_run(tmp_path):
    path = tmp_path / "p.wbproj"
    with Project.create(path) as p:
        run = p.create_run("testplugin", "scan", {}, target="t")
        p.start_run(run, pid=2 ** 22 + 12345)  # a process that does not exist
        assert p.note_failure(run, "stopped by a full disk: no space left")
    with Project.open(path) as p:
        assert p.run(run)["status"] == "interrupted"
        assert p.run(run)["message"] == "stopped by a full disk: no space left"
        other = p.create_run("testplugin", "scan", {}, target="t")
        p.start_run(other, pid=2 ** 22 + 12346)
    with Project.open(path) as p:  # no note: the generic reason
        assert p.run(other)["message"] == "the process running this job ended without finishing it"
    assert not list(tmp_path.glob("*.note"))


def test_encrypting_on_a_full_disk_leaves_the_plain_file_and_no_key(small_disk):
    from workbench.core import project_crypto
    from workbench.core.convert import encrypt_project

    if not project_crypto.available():
        pytest.skip("no SQLCipher driver on this platform")
    path = small_disk / "p.wbproj"
    with Project.create(path) as project:
        run = project.create_run("testplugin", "scan", {}, target="t")
        project.add_findings(run, [Finding(plugin="testplugin", rule="R", severity="LOW", confidence="LOW",
                                           title="t", message="m" * 200, fingerprint=f"fp{i}") for i in range(1500)])
        project.finish_run(run, "done")
    from workbench.core import secrets

    keys_before = dict(secrets._memory_keyring_class()._store)
    before = path.read_bytes()
    free = shutil.disk_usage(small_disk).free
    (small_disk / "filler").write_bytes(b"\0" * max(0, free - len(before) // 2))  # room for half a copy
    with pytest.raises(StorageFullError, match=r"the disk is full .*; the plain file is unchanged"):
        encrypt_project(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "p.wbproj"]
    assert secrets._memory_keyring_class()._store == keys_before  # no key kept for a file never encrypted
