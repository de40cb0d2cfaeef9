"""Shared helpers for the core tests (real files, real subprocesses)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict:
    """Name -> (bytes, mtime_ns) for every entry in *folder* (folders: None)."""
    out = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            out[entry.name] = ("<dir>", sorted(p.name for p in entry.iterdir()))
        else:
            st = entry.stat()
            out[entry.name] = (entry.read_bytes(), st.st_mtime_ns)
    return out


def run_cli(*args, env_extra: dict | None = None, stdin: str | None = None, timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "workbench", *map(str, args)],
        input=stdin, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd or REPO_ROOT,
    )


def raw_connect(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection, as a tamperer or another tool would use."""
    return sqlite3.connect(str(path))


def count_rows(path: Path, sql: str, args=()) -> int:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()
