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
