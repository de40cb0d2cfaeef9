"""A project on a read-only file system: read commands work and create nothing; writes refuse clearly."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from wb_core_helpers import run_cli


@pytest.fixture
def readonly_mount(tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)],
                                                       capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root in a container that allows it)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_read_commands_on_a_read_only_file_system(tmp_path, readonly_mount):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("import pickle\n")
    src = tmp_path / "p.wbproj"
    assert run_cli("audit", tree, "-p", src, "--no-secrets").returncode == 0
    shutil.copy(src, readonly_mount / "p.wbproj")
    assert subprocess.run(["mount", "-o", "remount,ro", str(readonly_mount)]).returncode == 0
    project = readonly_mount / "p.wbproj"
    info = run_cli("info", project, "--verify")
    assert info.returncode == 0, info.stderr
    assert "chain intact" in info.stdout
    report = run_cli("report", project, "-o", tmp_path / "r.pdf")
    assert report.returncode == 0, report.stderr
    write = run_cli("audit", tree, "-p", project)
    assert write.returncode == 1 and "read-only file system" in write.stderr.lower()
    assert "Traceback" not in write.stderr
    secret = run_cli("secret", "set", project, "k", "--stdin", stdin="v\n")
    assert secret.returncode == 1 and "Traceback" not in secret.stderr
    assert sorted(p.name for p in readonly_mount.iterdir()) == ["p.wbproj"]
