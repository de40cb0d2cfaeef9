"""A disk that fills while `workbench deps-db import` writes the OSV index: the error names the index
(there is no project to blame), the snapshot imported before is kept whole, and nothing is left beside it.

The "full disk" is the file size limit (RLIMIT_FSIZE) of the command's process: a write past it fails
with EFBIG (SQLite: "disk I/O error"), as one on a full disk fails with ENOSPC, and it needs no mount."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from . import test_deps_data as fx


def _wb(*args, env, limit=None):
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, preexec_fn=small_files if limit else None)


def test_a_full_disk_names_the_index_and_keeps_the_earlier_snapshot(tmp_path):
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data")}
    small = fx.write_zip(tmp_path / "small")
    assert _wb("deps-db", "import", small, env=env).returncode == 0
    index = tmp_path / "data" / "osv" / "osv-index.sqlite"
    before = json.loads(_wb("deps-db", "info", "--json", env=env).stdout)
    # a later export, far larger than the index can grow to
    records = [fx._rec(f"PYSEC-2099-{i}", f"pkg{i}", fx.eco(("introduced", "0"), ("fixed", "9.0")),
                       summary="x" * 400) for i in range(1500)]
    big = fx.write_zip(tmp_path / "big", records=records)
    limit = 4 * index.stat().st_size
    run = _wb("deps-db", "import", big, env=env, limit=limit)
    assert run.returncode == 1
    assert f"{index}: cannot write the OSV index (" in run.stderr, run.stderr[-2000:]
    assert "the snapshot imported before is unchanged" in run.stderr
    assert "project" not in run.stderr and "damaged" not in run.stderr and "Traceback" not in run.stderr
    assert json.loads(_wb("deps-db", "info", "--json", env=env).stdout) == before
    assert sorted(p.name for p in index.parent.iterdir()) == ["osv-index.sqlite"]


def test_a_first_import_on_a_full_disk_says_so_and_leaves_no_index(tmp_path):
    # Before: "not a readable OSV index ... delete it and import the snapshot again", a broken index left.
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data")}
    small = fx.write_zip(tmp_path / "small")
    index = tmp_path / "data" / "osv" / "osv-index.sqlite"
    run = _wb("deps-db", "import", small, env=env, limit=2048)  # not even the index's first pages fit
    assert run.returncode == 1
    assert f"{index}: cannot create the OSV index (" in run.stderr and "disk full" in run.stderr, run.stderr[-2000:]
    assert "delete it" not in run.stderr and "Traceback" not in run.stderr
    assert not list(index.parent.iterdir())
    assert _wb("deps-db", "import", small, env=env).returncode == 0  # with room, it imports
