"""Tables owned by the code audit plugin, and the per-file result cache.

``MIGRATIONS`` is applied by the core in order (one statement per version).
``ensure_tables`` applies them directly to a bare sqlite3 connection, for
the benchmark and for tests that run the scanners without a project.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager

MIGRATIONS = [
    (1, """CREATE TABLE IF NOT EXISTS code_audit_file_cache (
            key TEXT PRIMARY KEY,      -- sha256(relpath, content sha256, config hash)
            relpath TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            result TEXT NOT NULL,      -- JSON: lines, issues, skipped reason
            created REAL NOT NULL
        )"""),
    (2, """CREATE TABLE IF NOT EXISTS code_audit_skipped (
            run_id INTEGER NOT NULL,
            path TEXT NOT NULL,
            scanner TEXT NOT NULL,     -- bandit | secrets | models | walk
            reason TEXT NOT NULL
        )"""),
    (3, "CREATE INDEX IF NOT EXISTS code_audit_skipped_run ON code_audit_skipped(run_id)"),
    (4, """CREATE TABLE IF NOT EXISTS code_audit_runs (
            run_id INTEGER PRIMARY KEY,
            target TEXT NOT NULL,      -- absolute, resolved path of the audited tree
            files INTEGER NOT NULL,
            lines INTEGER NOT NULL,
            summary TEXT NOT NULL      -- JSON summary returned by the job
        )"""),
]


@contextmanager
def transaction(conn: sqlite3.Connection):
    """One transaction on any connection: the project's run in autocommit mode
    (isolation_level=None), where ``with conn`` alone would commit row by row."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def ensure_tables(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        for _, sql in MIGRATIONS:
            conn.execute(sql)


def cache_get_many(conn: sqlite3.Connection, keys: list[str]) -> dict[str, dict]:
    """Cached results by key; looked up in slices to stay under SQLite's limit."""
    found: dict[str, dict] = {}
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            f"SELECT key, result FROM code_audit_file_cache WHERE key IN ({marks})",  # nosec B608 - only placeholders
            part,
        )
        for key, result in rows:
            found[key] = json.loads(result)
    return found


def cache_put_many(conn: sqlite3.Connection, rows: list[tuple[str, str, str, str, dict]]) -> None:
    """rows: (key, relpath, sha256, config_hash, result) in one transaction."""
    now = time.time()
    with transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO code_audit_file_cache"
            " (key, relpath, sha256, config_hash, result, created) VALUES (?,?,?,?,?,?)",
            [(k, r, s, c, json.dumps(res), now) for k, r, s, c, res in rows],
        )


def record_skipped(conn: sqlite3.Connection, run_id: int, skipped: list[tuple[str, str, str]]) -> None:
    """skipped: (path, scanner, reason)."""
    with transaction(conn):
        conn.executemany(
            "INSERT INTO code_audit_skipped (run_id, path, scanner, reason) VALUES (?,?,?,?)",
            [(run_id, p, s, r) for p, s, r in skipped],
        )


def skipped_files(conn: sqlite3.Connection, run_id: int) -> list[dict]:
    rows = conn.execute(
        "SELECT path, scanner, reason FROM code_audit_skipped WHERE run_id = ? ORDER BY path",
        (run_id,),
    )
    return [{"path": p, "scanner": s, "reason": r} for p, s, r in rows]


def record_run(conn: sqlite3.Connection, run_id: int, target: str, files: int, lines: int,
               summary: dict) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO code_audit_runs (run_id, target, files, lines, summary)"
            " VALUES (?,?,?,?,?)",
            (run_id, target, files, lines, json.dumps(summary)),
        )


def previous_run_id(conn: sqlite3.Connection, target: str, before_run_id: int) -> int | None:
    row = conn.execute(
        "SELECT run_id FROM code_audit_runs WHERE target = ? AND run_id < ?"
        " ORDER BY run_id DESC LIMIT 1",
        (target, before_run_id),
    ).fetchone()
    return row[0] if row else None


def latest_run(conn: sqlite3.Connection) -> dict | None:
    row = conn.execute(
        "SELECT run_id, target, files, lines, summary FROM code_audit_runs"
        " ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return {"run_id": row[0], "target": row[1], "files": row[2], "lines": row[3],
            "summary": json.loads(row[4])}
