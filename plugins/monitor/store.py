"""The monitor's tables and how one batch is written: one transaction per flush.

The same SQL serves the standalone :class:`SQLiteWriter` (a plain SQLite
file, used by tests and by recordings outside a project) and the plugin's
store in a project. Tier rows are upserts (an open minute is rewritten until
it closes); retention deletes rows whose bucket is older than the tier keeps.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager


SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_tiers (
    run_id INTEGER NOT NULL DEFAULT 0,
    tier TEXT NOT NULL, series TEXT NOT NULL, start REAL NOT NULL,
    count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
    anomalies INTEGER NOT NULL,
    PRIMARY KEY (run_id, tier, series, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS monitor_alerts (
    id TEXT PRIMARY KEY, run_id INTEGER NOT NULL DEFAULT 0, ts REAL NOT NULL, rule TEXT NOT NULL,
    kind TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL, title TEXT NOT NULL,
    message TEXT NOT NULL, series TEXT, value REAL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_log_hits (
    run_id INTEGER NOT NULL DEFAULT 0, ts REAL NOT NULL, path TEXT NOT NULL, offset INTEGER NOT NULL,
    rule TEXT NOT NULL, key TEXT NOT NULL, line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_events (
    run_id INTEGER NOT NULL DEFAULT 0, ts REAL NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_log_state (
    path TEXT PRIMARY KEY, state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_flushes (
    run_id INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL, ts REAL NOT NULL,
    last_sample_ts REAL, samples INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS monitor_rules (
    id TEXT PRIMARY KEY, spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_weights (
    series TEXT PRIMARY KEY, weight REAL NOT NULL
);
"""

#: The plugin's migrations in a project (the same tables; rules and weights are edited in the tab).
MIGRATIONS = ((1, SCHEMA),)


def write_batch(execute, executemany, batch, run_id: int = 0, *, events: bool = True) -> None:
    """Write one batch with the given ``execute``/``executemany`` (inside the caller's transaction).

    ``events=False`` leaves the batch's events out: in a project they go to the audit log instead.
    """
    if batch.tiers:
        executemany("INSERT OR REPLACE INTO monitor_tiers (run_id, tier, series, start, count, sum, min, max, "
                    "anomalies) VALUES (?,?,?,?,?,?,?,?,?)", [(run_id, *r) for r in batch.tiers])
    for tier, cutoff in batch.retention.items():
        execute("DELETE FROM monitor_tiers WHERE tier = ? AND start < ?", (tier, cutoff))
    if batch.alerts:
        executemany("INSERT OR REPLACE INTO monitor_alerts (id, run_id, ts, rule, kind, state, severity, title, "
                    "message, series, value, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(a["id"], run_id, a["ts"], a["rule"], a["kind"], a["state"], a["severity"], a["title"],
                      a["message"], a["series"], a["value"], json.dumps(a["data"], default=str))
                     for a in batch.alerts])
    if batch.log_hits:
        executemany("INSERT INTO monitor_log_hits (run_id, ts, path, offset, rule, key, line) "
                    "VALUES (?,?,?,?,?,?,?)",
                    [(run_id, h.ts, h.path, h.offset, h.rule, h.key, h.text) for h in batch.log_hits])
    if events and batch.events:
        executemany("INSERT INTO monitor_events (run_id, ts, kind, message, data) VALUES (?,?,?,?,?)",
                    [(run_id, e["ts"], e["kind"], e["message"], json.dumps(e.get("data") or {}, default=str))
                     for e in batch.events])
    if batch.log_states:
        executemany("INSERT OR REPLACE INTO monitor_log_state (path, state) VALUES (?,?)",
                    [(p, json.dumps(s)) for p, s in batch.log_states.items()])
    execute("INSERT OR REPLACE INTO monitor_flushes (run_id, seq, ts, last_sample_ts, samples) VALUES (?,?,?,?,?)",
            (run_id, batch.seq, batch.ts, batch.last_sample_ts, batch.n_samples))


class SQLiteWriter:
    """``write(batch)`` into a plain SQLite file (WAL, one transaction per batch)."""

    def __init__(self, path, run_id: int = 0):
        self.path = str(path)
        self.run_id = run_id
        self._local = threading.local()
        self._conn().executescript(SCHEMA)  # executescript commits on its own

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed batch survives the process being killed (not a power cut)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self):
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def write(self, batch) -> None:
        with self._tx() as conn:
            write_batch(conn.execute, conn.executemany, batch, self.run_id)

    def log_states(self) -> dict[str, dict]:
        return {p: json.loads(s) for p, s in self._conn().execute("SELECT path, state FROM monitor_log_state")}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# --------------------------------------------------------------------- in a project
# rules.py is imported by the two functions below, not at the top: the registry imports this
# module at start-up for its MIGRATIONS, and nothing there needs the rules.
def stored_rules(store) -> list[dict]:
    from .rules import DEFAULT_RULES

    rows = store.query("SELECT spec FROM monitor_rules ORDER BY rowid")
    return [json.loads(r["spec"]) for r in rows] if rows else [dict(r) for r in DEFAULT_RULES]


def save_rules(store, specs: list[dict]) -> None:
    """Replace the project's metric rules (checked first: a bad rule changes nothing)."""
    from .rules import build_rules

    build_rules(specs, "rules")
    with store.transaction():
        store.execute("DELETE FROM monitor_rules")
        store.executemany("INSERT INTO monitor_rules (id, spec) VALUES (?, ?)",
                          [(d["id"], json.dumps(d, sort_keys=True)) for d in specs])


RETENTION_BATCH = 5000   # raw rows deleted per series per flush: a long backlog never stalls a write


def prune_raw(store, series, cutoff: float, batch: int = RETENTION_BATCH) -> int:
    """Delete this plugin's raw samples of *series* older than *cutoff* (all its runs), at most *batch*
    rows per series; the tiers keep the minute and hour aggregates. Returns the rows deleted."""
    deleted = 0
    for name in series:
        # the key (plugin, series, ts, run_id) makes both statements range reads of one series
        row = store.query_one("SELECT ts FROM metrics WHERE plugin='monitor' AND series=? AND ts<? "
                              "ORDER BY ts LIMIT 1 OFFSET ?", (name, cutoff, batch - 1))
        bound = cutoff if row is None else min(cutoff, row["ts"] + 1e-9)
        deleted += store.execute("DELETE FROM metrics WHERE plugin='monitor' AND series=? AND ts<?",
                                 (name, bound)).rowcount
    return deleted
