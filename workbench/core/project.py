"""The project file: one SQLite database per engagement (``*.wbproj``).

Opening validates the file read-only first (header, application id, schema
version, integrity) so that a wrong or damaged file is reported and never
written to. Writers hold an advisory lock next to the file; worker processes
of the lock holder write without it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import socket
import sqlite3
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from workbench import __version__
from workbench.core.errors import (
    DamagedProjectError,
    NewerSchemaError,
    NotAProjectError,
    NotSQLiteError,
    ProjectError,
    ProjectNotFoundError,
    StorageFullError,
)
from workbench.core.findings import TRIAGE_STATUSES, Finding
from workbench.core.lock import ProjectLock

SUFFIX = ".wbproj"
# "AISW" in ASCII: marks the SQLite file as ours (PRAGMA application_id).
APPLICATION_ID = 0x41495357
SCHEMA_VERSION = 1
SQLITE_HEADER = b"SQLite format 3\x00"
GENESIS_HASH = "0" * 64
RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE_STATUSES = ("queued", "running")

CORE_MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE migrations (
            plugin TEXT NOT NULL, version INTEGER NOT NULL, applied TEXT NOT NULL,
            PRIMARY KEY (plugin, version));
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY, plugin TEXT NOT NULL, job TEXT NOT NULL,
            title TEXT, target TEXT, params TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued','running','done','failed','cancelled','interrupted')),
            pid INTEGER, pid_started REAL,
            created TEXT NOT NULL, started TEXT, finished TEXT,
            message TEXT, summary TEXT, error TEXT);
        CREATE INDEX runs_plugin ON runs (plugin, job, target);
        CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            plugin TEXT NOT NULL, rule TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('LOW','MEDIUM','HIGH')),
            confidence TEXT NOT NULL CHECK (confidence IN ('LOW','MEDIUM','HIGH')),
            title TEXT NOT NULL, message TEXT NOT NULL,
            path TEXT, line INTEGER, end_line INTEGER, col INTEGER, cwe INTEGER,
            fingerprint TEXT NOT NULL, evidence TEXT NOT NULL DEFAULT '{}',
            source_status TEXT NOT NULL DEFAULT 'open');
        CREATE INDEX findings_run ON findings (run_id);
        CREATE INDEX findings_fp ON findings (fingerprint);
        CREATE TABLE triage (
            fingerprint TEXT PRIMARY KEY, plugin TEXT,
            status TEXT NOT NULL CHECK (status IN ('open','false_positive','accepted_risk','fixed')),
            justification TEXT, who TEXT, ts TEXT NOT NULL);
        CREATE TABLE artifacts (
            id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
            plugin TEXT, kind TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
            size INTEGER NOT NULL, data BLOB, created TEXT NOT NULL);
        CREATE TABLE metrics (
            series TEXT NOT NULL, ts REAL NOT NULL, value REAL,
            PRIMARY KEY (series, ts)) WITHOUT ROWID;
        CREATE TABLE events (
            id INTEGER PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, plugin TEXT,
            message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}',
            prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
        CREATE TABLE secret_names (name TEXT PRIMARY KEY, created TEXT NOT NULL);
        """,
    ),
]


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, event_id: int, ts: str, kind: str, plugin, message: str, data: str) -> str:
    payload = _canonical([prev_hash, event_id, ts, kind, plugin, message, data])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _process_start_time(pid: int) -> float | None:
    import psutil

    try:
        proc = psutil.Process(pid)
        # A zombie has ended: nobody reaped it yet (an orphan in a container whose
        # init does not reap), but it runs nothing any more.
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def check_header(path: Path) -> None:
    """Is this a SQLite file at all? Read straight from the first bytes, without SQLite."""
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        if not head:
            raise NotSQLiteError(path, "the file is empty, not a workbench project.")
        raise NotSQLiteError(path, "not a SQLite database, so not a workbench project.")


def read_only_uri(path: Path) -> str:
    """A URI that reads *path* without creating anything beside it.

    With no WAL file present nobody is writing, so the file is opened immutable and
    SQLite creates no -shm file; otherwise it joins the writer's WAL read-only.
    """
    has_wal = path.with_name(path.name + "-wal").exists()
    return f"{path.resolve().as_uri()}?mode=ro{'' if has_wal else '&immutable=1'}"


def validate(path: str | os.PathLike) -> Path:
    """Check, read-only, that *path* is a healthy project this version can open."""
    path = Path(path)
    if not path.exists():
        raise ProjectNotFoundError(path, "no such file.")
    if path.is_dir():
        raise NotAProjectError(path, "is a folder, not a workbench project file.")
    try:
        check_header(path)
    except PermissionError as exc:
        raise ProjectError(path, f"cannot be read ({exc.strerror}).") from exc
    try:
        # The header on disk can be stale while changes sit in the WAL: ask SQLite. With no WAL
        # file present, open immutable so that not even a -shm file is created next to it.
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            user_version = conn.execute("PRAGMA user_version").fetchone()[0]
            if application_id != APPLICATION_ID:
                raise NotAProjectError(path, "is a SQLite database but not a workbench project.")
            if user_version > SCHEMA_VERSION:
                raise NewerSchemaError(
                    path,
                    f"was written by a newer workbench (schema {user_version}; this version reads up to "
                    f"{SCHEMA_VERSION}). Upgrade the workbench to open it.",
                )
            result = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DamagedProjectError(path, f"the file is damaged ({exc}). Restore it from a backup.") from exc
    if result != [("ok",)]:
        first = "; ".join(r[0] for r in result[:3])
        raise DamagedProjectError(path, f"the file is damaged ({first}). Restore it from a backup.")
    return path


class Project:
    """An open project file. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly: bool, lock: ProjectLock | None):
        self.path = path
        self.conn = conn
        self._db = None
        self._leave_no_wal = False  # a read-only view that must not leave -wal/-shm behind
        self.readonly = readonly
        self._lock = lock
        self._in_transaction = False

    @property
    def db(self):
        """sqlite-utils view of the same connection (imported on first use: it is slow to import)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # ----------------------------------------------------------------- opening
    @classmethod
    def create(cls, path: str | os.PathLike, name: str | None = None, *, plugins: Sequence = ()) -> "Project":
        path = Path(path)
        if path.exists():
            raise ProjectError(path, "already exists; open it, or choose another name.")
        if not path.parent.is_dir():
            raise ProjectError(path, f"the folder {path.parent} does not exist.")
        lock = ProjectLock.acquire(path)
        try:
            conn = cls._connect(path)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            project = cls(path, conn, readonly=False, lock=lock)
            project._migrate(plugins)
            with project.transaction():
                project.set_meta("project_id", str(uuid.uuid4()), _tx=False)
                project.set_meta("name", name or path.stem, _tx=False)
                project.set_meta("created", now_iso(), _tx=False)
                project.set_meta("created_by", f"ai-security-workbench {__version__}", _tx=False)
            project.log_event("project", f"project created ({path.name})")
            # Put the header (application id, schema) into the main file now, not only the WAL.
            project.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return project
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        readonly: bool = False,
        plugins: Sequence = (),
        worker: bool = False,
    ) -> "Project":
        """Open an existing project.

        ``readonly`` opens without the write lock and without migrating.
        ``worker`` is for the job processes of the lock holder: they write
        without taking the lock, which their parent holds.
        """
        path = validate(path)
        if readonly:
            # Plain mode=ro (not immutable): a writer may open the file while we read it.
            had_wal = path.with_name(path.name + "-wal").exists()
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 10000")
            project = cls(path, conn, readonly=True, lock=None)
            project._leave_no_wal = not had_wal
            return project
        lock = None if worker else ProjectLock.acquire(path)
        try:
            conn = cls._connect(path)
            project = cls(path, conn, readonly=False, lock=lock)
            if not worker:
                project._migrate(plugins)
                project._mark_interrupted_runs()
            return project
        except BaseException:
            if lock:
                lock.release()
            raise

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # Autocommit mode: transactions are explicit (see transaction()).
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 15000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                if not self.readonly:
                    self.conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            self.conn.close()
            self.conn = None  # type: ignore[assignment]
            if self.readonly and self._leave_no_wal:
                self._remove_sidecars()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _remove_sidecars(self) -> None:
        """A read-only look leaves the folder as it found it: the -wal/-shm that reading
        created go away when a last, briefly writable connection closes. Skipped while
        a writer holds the project (the files are then its own)."""
        from workbench.core.errors import ProjectLockedError

        try:
            lock = ProjectLock.acquire(self.path)
        except (ProjectLockedError, ProjectError):
            return
        try:
            conn = sqlite3.connect(str(self.path))
            try:
                conn.execute("SELECT 1 FROM sqlite_master").fetchall()
            finally:
                conn.close()
        except sqlite3.Error:
            pass
        finally:
            lock.release()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); nested calls join the outer one."""
        if self._in_transaction:
            yield self.conn
            return
        self._in_transaction = True
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                # SQLite may already have rolled back by itself (SQLITE_FULL, IOERR, NOMEM):
                # a second ROLLBACK would fail and hide the real error.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if "full" in str(exc).lower():
                raise StorageFullError(
                    self.path, f"the disk is full ({exc}); the last batch was not saved, earlier work is intact."
                ) from exc
            raise
        finally:
            self._in_transaction = False

    # -------------------------------------------------------------- migrations
    def _migrate(self, plugins: Sequence) -> None:
        have_tables = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='migrations'"
        ).fetchone()
        applied: set[tuple[str, int]] = set()
        if have_tables:
            applied = {(r[0], r[1]) for r in self.conn.execute("SELECT plugin, version FROM migrations")}
        steps: list[tuple[str, int, str]] = [("core", v, sql) for v, sql in CORE_MIGRATIONS]
        for plugin in plugins:
            for version, sql in getattr(plugin, "migrations", ()) or ():
                steps.append((plugin.id, version, sql))
        for owner, version, sql in steps:
            if (owner, version) in applied:
                continue
            # executescript commits first; run statements inside our own transaction.
            with self.transaction():
                for statement in _split_sql(sql):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO migrations (plugin, version, applied) VALUES (?, ?, ?)",
                    (owner, version, now_iso()),
                )
                if owner == "core":
                    self.conn.execute(f"PRAGMA user_version = {version}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def applied_migrations(self) -> list[dict]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM migrations ORDER BY plugin, version")]

    # -------------------------------------------------------------------- meta
    def set_meta(self, key: str, value: str, *, _tx: bool = True) -> None:
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        if _tx:
            with self.transaction():
                self.conn.execute(sql, (key, value))
        else:
            self.conn.execute(sql, (key, value))

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def project_id(self) -> str:
        return self.meta("project_id") or ""

    @property
    def name(self) -> str:
        return self.meta("name") or self.path.stem

    # -------------------------------------------------------------------- runs
    def create_run(self, plugin: str, job: str, params: dict | None = None, *, title: str | None = None,
                   target: str | None = None) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (plugin, job, title, target, params, status, created) "
                "VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (plugin, job, title or f"{plugin}.{job}", target, _canonical(params or {}), now_iso()),
            )
            run_id = cur.lastrowid
            self._append_event("run", f"queued {title or plugin + '.' + job}", plugin, {"run_id": run_id})
        return run_id

    def start_run(self, run_id: int, pid: int | None = None) -> None:
        pid = pid or os.getpid()
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET status='running', started=?, pid=?, pid_started=? WHERE id=?",
                (now_iso(), pid, _process_start_time(pid), run_id),
            )

    def finish_run(self, run_id: int, status: str, *, summary: dict | None = None, error: str | None = None,
                   message: str | None = None) -> None:
        if status not in RUN_STATUSES or status in ACTIVE_STATUSES:
            raise ValueError(f"not a final run status: {status!r}")
        with self.transaction():
            row = self.conn.execute("SELECT plugin, title, status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise ValueError(f"no run {run_id}")
            if row["status"] not in ACTIVE_STATUSES:
                return  # already final (e.g. a worker finished before its parent noticed)
            self.conn.execute(
                "UPDATE runs SET status=?, finished=?, summary=?, error=?, message=? WHERE id=?",
                (status, now_iso(), _canonical(summary) if summary is not None else None, error, message, run_id),
            )
            self._append_event("run", f"{status}: {row['title']}", row["plugin"],
                               {"run_id": run_id, **({"error": error.splitlines()[-1][:300]} if error else {})})

    def run(self, run_id: int) -> dict | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def runs(self, plugin: str | None = None, status: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if plugin:
            sql += " AND plugin=?"
            args.append(plugin)
        if status:
            sql += " AND status=?"
            args.append(status)
        return [_run_dict(r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def previous_run(self, plugin: str, job: str, target: str | None, before_run_id: int) -> dict | None:
        row = self.conn.execute(
            "SELECT * FROM runs WHERE plugin=? AND job=? AND target IS ? AND id<? AND status='done' "
            "ORDER BY id DESC LIMIT 1",
            (plugin, job, target, before_run_id),
        ).fetchone()
        return _run_dict(row) if row else None

    def latest_run_ids(self) -> list[int]:
        """The newest finished run of each (plugin, job, target): what 'current' findings are."""
        return [r[0] for r in self.conn.execute(
            "SELECT MAX(id) FROM runs WHERE status='done' GROUP BY plugin, job, target ORDER BY 1")]

    def _mark_interrupted_runs(self) -> None:
        """Runs left active by a process that no longer exists are marked interrupted."""
        rows = self.conn.execute(
            "SELECT id, pid, pid_started FROM runs WHERE status IN ('queued','running')").fetchall()
        for row in rows:
            alive = False
            if row["pid"] and row["pid"] != os.getpid():
                started = _process_start_time(row["pid"])
                alive = started is not None and row["pid_started"] is not None and abs(started - row["pid_started"]) < 1
            if not alive:
                self.finish_run(row["id"], "interrupted",
                                message="the process running this job ended without finishing it")

    # ---------------------------------------------------------------- findings
    def add_findings(self, run_id: int, findings: Iterable[Finding]) -> int:
        rows = [
            (run_id, f.plugin, f.rule, f.severity, f.confidence, f.title, f.message, f.path, f.line,
             f.end_line, f.column, f.cwe, f.fingerprint, _canonical(f.evidence), f.source_status)
            for f in findings
        ]
        if not rows:
            return 0
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO findings (run_id, plugin, rule, severity, confidence, title, message, path, line, "
                "end_line, col, cwe, fingerprint, evidence, source_status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def findings(self, run_id: int | None = None, plugin: str | None = None) -> list[dict]:
        """Findings with their triage status joined in (``triage_status``, default 'open')."""
        sql = ("SELECT f.*, COALESCE(t.status, 'open') AS triage_status, t.justification AS triage_justification "
               "FROM findings f LEFT JOIN triage t ON t.fingerprint = f.fingerprint WHERE 1=1")
        args: list = []
        if run_id is not None:
            sql += " AND f.run_id=?"
            args.append(run_id)
        if plugin:
            sql += " AND f.plugin=?"
            args.append(plugin)
        out = []
        for r in self.conn.execute(sql + " ORDER BY f.id", args):
            d = dict(r)
            d["evidence"] = json.loads(d["evidence"] or "{}")
            out.append(d)
        return out

    def finding_counts(self) -> dict[str, dict[str, int]]:
        """{plugin: {severity: n}} over the latest run of each target, open findings only."""
        ids = self.latest_run_ids()
        counts: dict[str, dict[str, int]] = {}
        if not ids:
            return counts
        marks = ",".join("?" * len(ids))
        for r in self.conn.execute(
            f"SELECT f.plugin, f.severity, COUNT(*) FROM findings f LEFT JOIN triage t USING (fingerprint) "
            f"WHERE f.run_id IN ({marks}) AND f.source_status='open' AND COALESCE(t.status,'open')='open' "
            f"GROUP BY f.plugin, f.severity", ids):
            counts.setdefault(r[0], {})[r[1]] = r[2]
        return counts

    # ------------------------------------------------------------------ triage
    def set_triage(self, fingerprints: str | Sequence[str], status: str, justification: str = "",
                   who: str | None = None, plugin: str | None = None) -> int:
        if isinstance(fingerprints, str):
            fingerprints = [fingerprints]
        if status not in TRIAGE_STATUSES:
            raise ValueError(f"triage status must be one of {TRIAGE_STATUSES}")
        if status == "accepted_risk" and not justification.strip():
            raise ValueError("accepting a risk needs a justification")
        who = who or _current_user()
        ts = now_iso()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO triage (fingerprint, plugin, status, justification, who, ts) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET status=excluded.status, "
                "justification=excluded.justification, who=excluded.who, ts=excluded.ts",
                [(fp, plugin, status, justification, who, ts) for fp in fingerprints],
            )
            label = f" (\"{justification}\")" if justification else ""
            self._append_event("triage", f"{len(fingerprints)} finding(s) → {status}{label}", plugin,
                               {"fingerprints": list(fingerprints), "status": status, "who": who})
        return len(fingerprints)

    def triage(self) -> dict[str, dict]:
        return {r["fingerprint"]: dict(r) for r in self.conn.execute("SELECT * FROM triage")}

    # --------------------------------------------------------------- artifacts
    def add_artifact(self, kind: str, name: str, data: bytes, *, run_id: int | None = None,
                     plugin: str | None = None) -> int:
        digest = hashlib.sha256(data).hexdigest()
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO artifacts (run_id, plugin, kind, name, sha256, size, data, created) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (run_id, plugin, kind, name, digest, len(data), data, now_iso()),
            )
        return cur.lastrowid

    def artifacts(self, run_id: int | None = None) -> list[dict]:
        sql = "SELECT id, run_id, plugin, kind, name, sha256, size, created FROM artifacts"
        args: list = []
        if run_id is not None:
            sql += " WHERE run_id=?"
            args.append(run_id)
        return [dict(r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    # ----------------------------------------------------------------- metrics
    def add_metrics(self, series: str, samples: Iterable[tuple[float, float]]) -> int:
        rows = [(series, float(ts), None if v is None else float(v)) for ts, v in samples]
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO metrics (series, ts, value) VALUES (?,?,?)", rows)
        return len(rows)

    def metrics(self, series: str, since: float | None = None) -> list[tuple[float, float]]:
        sql, args = "SELECT ts, value FROM metrics WHERE series=?", [series]
        if since is not None:
            sql += " AND ts>=?"
            args.append(since)
        return [(r[0], r[1]) for r in self.conn.execute(sql + " ORDER BY ts", args)]

    # ------------------------------------------------------------------ events
    def log_event(self, kind: str, message: str, plugin: str | None = None, data: dict | None = None) -> int:
        with self.transaction():
            return self._append_event(kind, message, plugin, data)

    def _append_event(self, kind: str, message: str, plugin: str | None, data: dict | None) -> int:
        last = self.conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = last["hash"] if last else GENESIS_HASH
        event_id = (last["id"] + 1) if last else 1
        ts = now_iso()
        data_json = _canonical(data or {})
        digest = event_hash(prev_hash, event_id, ts, kind, plugin, message, data_json)
        self.conn.execute(
            "INSERT INTO events (id, ts, kind, plugin, message, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
            (event_id, ts, kind, plugin, message, data_json, prev_hash, digest),
        )
        # The head is kept apart so that deleting the newest rows is detected too.
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('events_head', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (f"{event_id}:{digest}",))
        return event_id

    def events(self, limit: int | None = None, newest_first: bool = True) -> list[dict]:
        sql = "SELECT id, ts, kind, plugin, message, data FROM events ORDER BY id " + ("DESC" if newest_first else "ASC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [dict(r) for r in self.conn.execute(sql)]

    def verify_events(self) -> "ChainReport":
        """Walk the hash chain; report the first link that does not hold."""
        prev_hash = GENESIS_HASH
        count = 0
        last_id = 0
        for row in self.conn.execute("SELECT * FROM events ORDER BY id"):
            count += 1
            if row["prev_hash"] != prev_hash or row["id"] != last_id + 1:
                return ChainReport(False, count, row["id"],
                                   f"event {row['id']} does not follow event {last_id}: "
                                   "an entry before it was deleted or edited")
            expected = event_hash(prev_hash, row["id"], row["ts"], row["kind"], row["plugin"], row["message"],
                                  row["data"])
            if row["hash"] != expected:
                return ChainReport(False, count, row["id"], f"event {row['id']} was edited after it was written")
            prev_hash = row["hash"]
            last_id = row["id"]
        head = self.meta("events_head")
        if head is not None and head != f"{last_id}:{prev_hash}":
            head_id = head.split(":", 1)[0]
            return ChainReport(False, count, last_id + 1,
                               f"the log ends at event {last_id} but event {head_id} was written: "
                               "the newest entries were deleted")
        if head is None and count:
            return ChainReport(False, count, last_id, "the log's head record is missing")
        if count == 0:
            # Every project logs its creation: an empty log was emptied.
            return ChainReport(False, 0, None, "the audit log is empty: its entries were deleted")
        mismatch = self._triage_mismatch()
        if mismatch:
            return ChainReport(False, count, None, mismatch)
        return ChainReport(True, count, None, f"{count} events, chain intact, triage matches the log",
                           head=prev_hash)

    def _triage_mismatch(self) -> str | None:
        """Triage is only changed through set_triage, which logs it: replay the log and compare."""
        expected: dict[str, str] = {}
        for (data,) in self.conn.execute("SELECT data FROM events WHERE kind='triage' ORDER BY id"):
            d = json.loads(data or "{}")
            for fp in d.get("fingerprints", ()):
                expected[fp] = d.get("status", "")
        actual = {r[0]: r[1] for r in self.conn.execute("SELECT fingerprint, status FROM triage")}
        wrong = sorted(fp for fp in expected.keys() | actual.keys() if expected.get(fp) != actual.get(fp))
        if not wrong:
            return None
        return (f"the triage of {len(wrong)} finding(s) does not match the audit log (first: {wrong[0][:12]}): "
                "it was changed outside the workbench")

    # ----------------------------------------------------------- secret names
    def secret_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM secret_names ORDER BY name")]

    def _remember_secret_name(self, name: str, present: bool) -> None:
        with self.transaction():
            if present:
                self.conn.execute("INSERT OR IGNORE INTO secret_names (name, created) VALUES (?, ?)",
                                  (name, now_iso()))
            else:
                self.conn.execute("DELETE FROM secret_names WHERE name=?", (name,))

    # ------------------------------------------------------------------- state
    # Rows that record a report being written are not part of the state it describes.
    _STATE_EXCLUDES = {"events": "WHERE kind != 'report'", "meta": "WHERE key != 'events_head'"}

    def state_sha256(self) -> str:
        """SHA-256 over every table's rows in a fixed order: what a report describes.

        Logging "report exported" afterwards does not change it, so `workbench info`
        prints the hash of the PDF for as long as nothing else changed.
        """
        h = hashlib.sha256()
        tables = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for table in tables:
            h.update(f"\x1e{table}\x1e".encode())
            pk = [r[1] for r in sorted(self.conn.execute(f'PRAGMA table_info("{table}")'), key=lambda r: r[5])
                  if r[5] > 0]
            order = ", ".join(f'"{c}"' for c in pk) if pk else "rowid"
            where = self._STATE_EXCLUDES.get(table, "")
            for row in self.conn.execute(f'SELECT * FROM "{table}" {where} ORDER BY {order}'):
                h.update(_canonical([v.hex() if isinstance(v, bytes) else v for v in tuple(row)]).encode())
                h.update(b"\n")
        return h.hexdigest()

    def summary(self) -> dict:
        counts = {t: self.conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                  for t in ("runs", "findings", "triage", "artifacts", "metrics", "events")}
        return {"path": str(self.path), "name": self.name, "project_id": self.project_id,
                "schema": self.schema_version, "created": self.meta("created"), "counts": counts}


class ChainReport:
    def __init__(self, ok: bool, count: int, first_broken_id: int | None, message: str, head: str | None = None):
        self.head = head
        self.ok = ok
        self.count = count
        self.first_broken_id = first_broken_id
        self.message = message

    def __repr__(self) -> str:
        return f"ChainReport(ok={self.ok}, count={self.count}, first_broken_id={self.first_broken_id})"


def _run_dict(row) -> dict:
    d = dict(row)
    d["params"] = json.loads(d.get("params") or "{}")
    d["summary"] = json.loads(d["summary"]) if d.get("summary") else None
    return d


def _split_sql(script: str) -> list[str]:
    """Split a migration script into complete statements (sqlite3.complete_statement)."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def _current_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name on some containers
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def holder_description() -> dict:
    return {
        "pid": os.getpid(),
        "user": _current_user(),
        "host": socket.gethostname(),
        "since": now_iso(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200] if sys.argv else "",
    }
