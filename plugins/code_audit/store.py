"""Tables owned by the code audit plugin: the per-file result cache and the skipped files.

Everything goes through the plugin's store (``ctx.store`` in the job, the
host's store elsewhere): its one transaction helper, its own tables only.
The run itself (target, summary with files and lines) is the core's run row.
"""

from __future__ import annotations

import json
import time

MIGRATIONS = (
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
            run_id INTEGER PRIMARY KEY, target TEXT NOT NULL, files INTEGER NOT NULL,
            lines INTEGER NOT NULL, summary TEXT NOT NULL)"""),
    # The core's run row holds the target and the summary (files, lines): no second copy.
    (5, "DROP TABLE IF EXISTS code_audit_runs"),
    # Which files each scanner really checked in a run: a finding is "fixed" only when its
    # scanner looked at its file again.
    (6, """CREATE TABLE IF NOT EXISTS code_audit_scanned (
            run_id INTEGER NOT NULL, scanner TEXT NOT NULL, path TEXT NOT NULL,
            PRIMARY KEY (run_id, scanner, path)) WITHOUT ROWID"""),
    # A whole audit's result by everything it depends on (every file's content, the parameters,
    # the scanners' versions): an unchanged tree is re-audited without running a scanner.
    (7, """CREATE TABLE IF NOT EXISTS code_audit_run_cache (
            key TEXT PRIMARY KEY, target TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL)"""),
)

RUN_CACHE_KEEP = 3  # entries per target: the latest few states of a tree


def run_cache_get(db, key: str) -> dict | None:
    for (result,) in db.execute("SELECT result FROM code_audit_run_cache WHERE key = ?", (key,)):
        return json.loads(result)
    return None


def run_cache_put(db, key: str, target: str, result: dict) -> None:
    with db.transaction():
        db.execute("INSERT OR REPLACE INTO code_audit_run_cache (key, target, result, created) VALUES (?,?,?,?)",
                   (key, target, json.dumps(result), time.time()))
        db.execute("DELETE FROM code_audit_run_cache WHERE target = ? AND key NOT IN (SELECT key FROM "
                   "code_audit_run_cache WHERE target = ? ORDER BY created DESC LIMIT ?)",
                   (target, target, RUN_CACHE_KEEP))


def cache_get_many(db, keys: list[str]) -> dict[str, dict]:
    """Cached results by key; looked up in slices to stay under SQLite's limit."""
    found: dict[str, dict] = {}
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        marks = ",".join("?" * len(part))
        rows = db.execute(
            f"SELECT key, result FROM code_audit_file_cache WHERE key IN ({marks})",  # nosec B608 - only placeholders
            part,
        )
        for key, result in rows:
            found[key] = json.loads(result)
    return found


def cache_put_many(db, rows: list[tuple[str, str, str, str, dict]]) -> None:
    """rows: (key, relpath, sha256, config_hash, result) in one transaction."""
    now = time.time()
    db.executemany(
        "INSERT OR REPLACE INTO code_audit_file_cache"
        " (key, relpath, sha256, config_hash, result, created) VALUES (?,?,?,?,?,?)",
        [(k, r, s, c, json.dumps(res), now) for k, r, s, c, res in rows],
    )


def record_skipped(db, run_id: int, skipped: list[tuple[str, str, str]]) -> None:
    """skipped: (path, scanner, reason)."""
    db.executemany(
        "INSERT INTO code_audit_skipped (run_id, path, scanner, reason) VALUES (?,?,?,?)",
        [(run_id, p, s, r) for p, s, r in skipped],
    )


def skipped_files(db, run_id: int) -> list[dict]:
    rows = db.execute(
        "SELECT path, scanner, reason FROM code_audit_skipped WHERE run_id = ? ORDER BY path",
        (run_id,),
    )
    return [{"path": p, "scanner": s, "reason": r} for p, s, r in rows]


def record_scanned(db, run_id: int, scanned: dict[str, list[str]]) -> None:
    db.executemany("INSERT OR IGNORE INTO code_audit_scanned (run_id, scanner, path) VALUES (?,?,?)",
                   [(run_id, scanner, path) for scanner, paths in scanned.items() for path in paths])


def scanned_files(db, run_id: int) -> set[tuple[str, str]]:
    """{(path, scanner)} checked in *run_id*."""
    return {(p, s) for s, p in db.execute("SELECT scanner, path FROM code_audit_scanned WHERE run_id = ?",
                                          (run_id,))}


DIGEST_KEY_NAME = "code_audit-secret-digest-key"


def run_digest_key(store) -> tuple[bytes, bool]:
    """(key, kept): the project's secret-digest key, from the secrets backend (made on first use).

    Without a project, or when the backend cannot be used (none installed, locked, read-only
    project), a random key for this run only: ``kept`` is False and no digest is stored then.
    """
    import os
    import secrets

    if store is None or not hasattr(store, "get_secret"):
        return os.urandom(32), False
    try:
        # A locked encrypted secrets file raises here (it never prompts): this run's key then.
        value = store.get_secret(DIGEST_KEY_NAME)
        if not value:
            value = secrets.token_hex(32)
            store.set_secret(DIGEST_KEY_NAME, value)
        return bytes.fromhex(value), True
    except Exception:  # no usable backend: digests are only compared inside this run
        return os.urandom(32), False
