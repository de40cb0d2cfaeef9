"""A disk that fills while `workbench key export` writes a key file or `workbench decrypt` writes the plain
copy: the error names the file the user asked for (not its temporary twin), an earlier file of that name
is left as it was, no temporary file is left, and the project still opens with its log intact.

The "full disk" is the file size limit (RLIMIT_FSIZE) of the command's process: a write past it
fails with EFBIG, as one on a full disk fails with ENOSPC, and it needs no mount."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from test_core_secrets_backend import bare_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="isolates the user folders through XDG_*")

CHECK = r"""
import sys
from workbench.core.project import Project
with Project.open(sys.argv[1], readonly=True) as p:
    print("ok" if p.verify_events().ok else "log broken")
"""


def _wb(*args, env, limit=None, stdin=None):
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          input=stdin, env=env, timeout=300, preexec_fn=small_files if limit else None)


@pytest.fixture
def encrypted(tmp_path):
    # A machine with no OS keyring that chose the encrypted secrets file: keys survive between commands.
    env = bare_env(tmp_path, WORKBENCH_KEYRING_PASSPHRASE="a long passphrase")
    assert _wb("secret", "backend", "encrypted-file", env=env).returncode == 0
    project = tmp_path / "enc.wbproj"
    made = _wb("new", project, "--encrypted", env=env)
    assert made.returncode == 0, made.stderr
    return project, env


def _still_whole(project, env):
    check = subprocess.run([sys.executable, "-c", CHECK, str(project)], capture_output=True, text=True, env=env,
                           timeout=120)
    assert check.stdout.strip() == "ok", check.stderr[-2000:]


def _files(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(("enc.wbproj", "xdg-")))


def test_a_full_disk_names_the_key_file_and_keeps_the_earlier_one(tmp_path, encrypted):
    project, env = encrypted
    key_file = tmp_path / "enc.wbkey"
    command = ("key", "export", project, "-o", key_file, "--passphrase-stdin")
    first = _wb(*command, env=env, stdin="reviewer pass 42\n")
    assert first.returncode == 0, first.stderr
    before = key_file.read_bytes()
    second = _wb(*command, env=env, stdin="reviewer pass 42\n", limit=len(before) // 2)
    assert second.returncode == 1
    assert f"{key_file}: cannot write ({os.strerror(27)})" in second.stderr, second.stderr[-2000:]
    assert "unchanged" in second.stderr and "Traceback" not in second.stderr and ".tmp" not in second.stderr
    assert key_file.read_bytes() == before
    assert _files(tmp_path) == ["enc.wbkey"]
    _still_whole(project, env)


def test_a_full_disk_names_the_plain_copy_not_its_temporary_twin(tmp_path, encrypted):
    project, env = encrypted
    plain = tmp_path / "plain.wbproj"
    # room for SQLite's shared memory beside the project (32 KiB), not for the copy (as large as the project)
    limit = 2 * 32768
    assert limit < project.stat().st_size
    run = _wb("decrypt", project, "-o", plain, env=env, limit=limit)
    assert run.returncode == 1
    assert f"{plain}: cannot write the converted copy" in run.stderr, run.stderr[-2000:]
    assert "nothing was written" in run.stderr
    assert ".decrypting" not in run.stderr and "damaged" not in run.stderr and "Traceback" not in run.stderr
    assert _files(tmp_path) == []  # no copy, no temporary copy, no WAL of one
    _still_whole(project, env)


def test_a_full_disk_while_installing_the_menu_entry_leaves_no_temporary_file(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"),
               PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring")
    first = _wb("desktop-install", env=env)
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()}
    run = _wb("desktop-install", env=env, limit=200)  # the icon is about 1.2 kB
    assert run.returncode == 1
    assert ": cannot write (" in run.stderr and "the previous file, if any, is unchanged" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and ".tmp" not in run.stderr
    assert {p: p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("encrypted_file", [False, True], ids=["plain", "encrypted"])
def test_a_project_that_cannot_be_created_for_want_of_room_leaves_nothing(tmp_path, encrypted_file):
    # Before: "the file is damaged ... Restore it from a backup" and a 4 KiB half-made file that every
    # later `new` refused as existing.
    env = bare_env(tmp_path, WORKBENCH_KEYRING_PASSPHRASE="a long passphrase")
    assert _wb("secret", "backend", "encrypted-file", env=env).returncode == 0  # (its key goes there)
    path = tmp_path / "new.wbproj"
    result = _wb("new", path, *(["--encrypted"] if encrypted_file else []), env=env, limit=40 << 10)
    assert result.returncode != 0
    assert f"{path}: could not be created" in result.stderr and "disk or quota full" in result.stderr, result.stderr
    assert "damaged" not in result.stderr and "Traceback" not in result.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("new.wbproj")]
    again = _wb("new", path, env=env)  # with room: the name is free
    assert again.returncode == 0, again.stderr
    _still_whole(path, env)
