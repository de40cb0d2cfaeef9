"""The project file's database: validating, opening, locking, transactions, migrations, meta.

Opening validates the file read-only first (header, application id, schema
version, integrity) so that a wrong or damaged file is reported and never
written to. Writers hold an advisory lock next to the file; worker processes
of the lock holder write without it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import contextlib
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from workbench import __version__
from workbench.core import open_files
from workbench.core import project_crypto as crypto
from workbench.core.errors import (
    DamagedProjectError,
    NewerSchemaError,
    NotAProjectError,
    NotSQLiteError,
    ProjectError,
    ProjectNotFoundError,
    StorageFullError,
    is_no_room,
)
from workbench.core.host import now_iso
from workbench.core.lock import ProjectLock

SUFFIX = ".wbproj"
# "AISW" in ASCII: marks the SQLite file as ours (PRAGMA application_id).
APPLICATION_ID = 0x41495357
SCHEMA_VERSION = 2
SQLITE_HEADER = b"SQLite format 3\x00"
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
    (
        2,
        # Metrics carry their plugin and run; the key serves time-range reads of one
        # series (monitoring, robustness curves) over millions of samples.
        """
        CREATE TABLE metrics_v2 (
            plugin TEXT NOT NULL, series TEXT NOT NULL, ts REAL NOT NULL,
            run_id INTEGER NOT NULL DEFAULT 0, value REAL,
            PRIMARY KEY (plugin, series, ts, run_id)) WITHOUT ROWID;
        INSERT INTO metrics_v2 (plugin, series, ts, run_id, value) SELECT 'core', series, ts, 0, value FROM metrics;
        DROP TABLE metrics;
        ALTER TABLE metrics_v2 RENAME TO metrics;
        CREATE INDEX metrics_run ON metrics (run_id, series, ts);
        """,
    ),
]


def json_default(obj):
    """What JSON writes for a value it does not know: numbers as numbers (numpy's ``int64``,
    ``float32``, ``bool_``, a ``Fraction``), anything else as its text."""
    import numbers  # only for a value JSON does not know

    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    if type(obj).__module__ == "numpy" and callable(getattr(obj, "item", None)):
        return obj.item()  # np.bool_ and other scalars: the Python value (no numpy import here)
    return str(obj)


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default)


_sha256_impl = None


def _sha256(data: bytes = b""):
    """hashlib.sha256(*data*). hashlib (OpenSSL, ~3 ms) is imported on the first digest: opening and
    showing a project make none. (Not an import in each caller: under the Qt binding's import hook an
    import statement costs a microsecond, three times a small digest.)"""
    global _sha256_impl
    if _sha256_impl is None:
        from hashlib import sha256 as _sha256_impl
    return _sha256_impl(data)


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


def file_key(path: Path) -> str | None:
    """The key of an encrypted project file (from this process or the secrets backend); None for a plain one."""
    return crypto.key_for(path) if crypto.is_encrypted_file(path) else None


def validate(path: str | os.PathLike) -> Path:
    """Check, read-only, that *path* is a healthy project this version can open (and that its key is here)."""
    path = Path(path)
    if not path.exists():
        raise ProjectNotFoundError(path, "no such file.")
    if path.is_dir():
        raise NotAProjectError(path, "is a folder, not a workbench project file.")
    if not path.is_file():  # a FIFO or a device would block or stream forever: never open one
        raise NotAProjectError(path, "is not a regular file (a pipe or a device), not a workbench project.")
    try:
        encrypted = crypto.is_encrypted_file(path)
        if not encrypted and not open_files.is_open_here(path):  # open here: its header was checked then
            check_header(path)
    except PermissionError as exc:
        raise ProjectError(path, f"cannot be read ({exc.strerror}).") from exc
    key = crypto.key_for(path) if encrypted else None
    try:
        # The header on disk can be stale while changes sit in the WAL: ask SQLite. With no WAL
        # file present, open immutable so that not even a -shm file is created next to it.
        conn = crypto.connect(read_only_uri(path), key, uri=True)
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
            result = [tuple(r) for r in conn.execute("PRAGMA quick_check").fetchall()]
        finally:
            conn.close()
    except crypto.DATABASE_ERROR as exc:
        if key is not None and "not a database" in str(exc):
            raise crypto.WrongProjectKeyError(
                path, f"is an encrypted project, and the key stored for its key id {crypto.key_id_of(path)} does "
                      f"not open it (another key under the same id, or a damaged file); {crypto.KEY_IMPORT_HINT}."
            ) from None
        raise DamagedProjectError(path, f"the file is damaged ({exc}). Restore it from a backup.") from exc
    if result != [("ok",)]:
        first = "; ".join(r[0] for r in result[:3])
        raise DamagedProjectError(path, f"the file is damaged ({first}). Restore it from a backup.")
    return path


# Statements that never write a row, so never fire a sealing trigger (PluginStore's reads, too).
_NO_ROW_WRITES = re.compile(r"\s*(SELECT|PRAGMA|EXPLAIN|VALUES)\b", re.IGNORECASE)


class SealOnFirstWrite:
    """The connection of a project opened for writing: the audit log's sealing triggers are created
    just before its first statement that may write a row, not on open. Creating those hundred-odd
    temporary triggers is most of the cost of an open, and a window that only shows the project (the
    Overview at start-up) needs none of them.

    Every way to write through the connection passes here: execute and executemany (any statement
    but SELECT, PRAGMA, EXPLAIN and VALUES), executescript, a cursor of its own, blobopen, and the
    cursor a read returned before the setup (reused for a write: ``store.execute("SELECT ...")`` then
    ``cursor.execute("UPDATE ...")``). (A backup *into* it, ``other.backup(conn)``, would not: nothing
    does that to an open project.)
    """

    _first_write_setup = None  # what runs before the first write; None once it ran (or never armed)
    _setting_up = False

    def before_first_write(self, setup) -> None:
        """*setup*: a bound method of the project, held weakly (no project <-> connection cycle)."""
        self._setup_lock = threading.RLock()
        self._first_write_setup = weakref.WeakMethod(setup)

    def _set_up(self) -> None:
        with self._setup_lock:  # another thread waits here until the setup is done
            pending = self._first_write_setup
            if pending is None or self._setting_up:  # done already, or the setup's own statements
                return
            setup = pending()
            self._setting_up = True
            try:
                if setup is not None:  # (None: the project is gone, nothing will seal anything)
                    setup()  # raises: this write does not run, and the next one tries again
                self._first_write_setup = None
            finally:
                self._setting_up = False

    # The driver's execute() calls self.cursor(), which sets up: these use the driver's cursor().
    def execute(self, sql, *args):
        if self._first_write_setup is not None:
            if _NO_ROW_WRITES.match(sql):
                # A read before the setup: its cursor may be reused for a write, which then sets up.
                cls, driver_cursor = _SEAL_CURSORS.get(type(self)) or self._seal_cursor_class()
                return driver_cursor.execute(super().cursor(factory=cls), sql, *args)
            self._set_up()
        return super().cursor().execute(sql, *args)

    def _seal_cursor_class(self) -> tuple[type, type]:
        """The driver's Cursor (sqlite3's or SQLCipher's) under _SealOnFirstWriteCursor, and the driver's."""
        base = type(super().cursor())
        pair = _SEAL_CURSORS[type(self)] = (type("SealOnFirstWriteCursor", (_SealOnFirstWriteCursor, base), {}), base)
        return pair

    def executemany(self, sql, *args):
        if self._first_write_setup is not None and not _NO_ROW_WRITES.match(sql):
            self._set_up()
        return super().cursor().executemany(sql, *args)

    def executescript(self, script):
        if self._first_write_setup is not None:
            self._set_up()
        return super().cursor().executescript(script)

    def cursor(self, *args, **kwargs):
        if self._first_write_setup is not None:  # what a cursor will run is not known here
            self._set_up()
        return super().cursor(*args, **kwargs)

    def blobopen(self, *args, **kwargs):
        if self._first_write_setup is not None:
            self._set_up()
        return super().blobopen(*args, **kwargs)


class _SealOnFirstWriteCursor:
    """What SealOnFirstWrite's reads return before its setup ran: the setup runs before the cursor
    writes, as before a write through the connection itself."""

    def execute(self, sql, *args):
        conn = self.connection
        if conn._first_write_setup is not None and not _NO_ROW_WRITES.match(sql):
            conn._set_up()
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        conn = self.connection
        if conn._first_write_setup is not None and not _NO_ROW_WRITES.match(sql):
            conn._set_up()
        return super().executemany(sql, *args)

    def executescript(self, script):
        conn = self.connection
        if conn._first_write_setup is not None:
            conn._set_up()
        return super().executescript(script)


# connection class -> (its cursor class for reads before the setup, the driver's cursor class)
_SEAL_CURSORS: dict[type, tuple[type, type]] = {}


class ProjectDatabase:
    """Opening, locking, transactions, migrations and meta of a project file.

    :class:`workbench.core.project.Project` adds runs, findings, the audit log and the state hash.
    """

    def __init__(self, path: Path, conn, *, readonly: bool, lock: ProjectLock | None):
        self.path = path
        self.conn = conn
        #: the key id of an encrypted project file (see project_crypto); None for a plain one
        self.key_id: str | None = None
        self._open_handle = None
        self._leave_no_wal = False  # a read-only view that must not leave -wal/-shm behind
        self.readonly = readonly
        self._lock = lock
        self._in_transaction = False
        #: {plugin id: why its migrations failed}: that plugin cannot use this project.
        self.plugin_failures: dict[str, str] = {}
        # Sealing (audit_log): temp triggers note which runs and project-wide tables a transaction
        # touched; before it commits, their new digests enter the log; after, the head goes outside.
        self._seal_ready = False
        self._seal_deferred = False
        self._events_appended = False

    @property
    def encrypted(self) -> bool:
        return self.key_id is not None

    def _opened(self, key_id: str | None) -> None:
        self.key_id = key_id
        self._open_handle = open_files.opened(self.path, key_id)

    def _close_quietly(self) -> None:
        """After a failed open: the connection goes, and so does the note that the file is open here."""
        with contextlib.suppress(Exception):
            self.conn.close()
        if self._open_handle is not None:
            open_files.closed(self._open_handle)
            self._open_handle = None

    # ----------------------------------------------------------------- opening
    @classmethod
    def create(cls, path: str | os.PathLike, name: str | None = None, *, plugins: Sequence = (),
               encrypted: bool = False) -> "Project":
        """A new project file; ``encrypted`` makes it a SQLCipher file whose new random key goes to the
        secrets backend first (no usable backend, no file)."""
        path = Path(path)
        if path.exists():
            raise ProjectError(path, "already exists; open it, or choose another name.")
        if not path.parent.is_dir():
            raise ProjectError(path, f"the folder {path.parent} does not exist.")
        import uuid

        project_id = str(uuid.uuid4())
        if encrypted:
            crypto.cipher_module()
        lock = ProjectLock.acquire(path)
        key = key_id = project = None
        try:
            if encrypted:  # the key is safe in the backend before a byte is encrypted with it
                key_id, key = crypto.new_key_id(), crypto.new_key()
                crypto.store_key(key_id, key)
            conn = cls._connect(path, key, salt=crypto.salt_of(key_id) if key else None)
            project = cls(path, conn, readonly=False, lock=lock)
            project._opened(key_id)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            project._seal_deferred = True  # the creation event seals the new project's state at once
            project._migrate(plugins)
            with project.transaction():
                project.set_meta("project_id", project_id, _tx=False)
                project.set_meta("file_identity", _file_identity(path), _tx=False)
                project.set_meta("name", name or path.stem, _tx=False)
                project.set_meta("created", now_iso(), _tx=False)
                project.set_meta("created_by", f"ai-security-workbench {__version__}", _tx=False)
            project._seal_deferred = False
            project._log_creation(f"project created ({path.name})", name or path.stem)
            # Put the header (application id, schema) into the main file now, not only the WAL.
            project.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return project
        except BaseException as exc:
            if project is not None:
                project._close_quietly()
            # The file did not exist before: a half-made one (a full disk, a crash of the driver) is no
            # project, and would only be refused as damaged later.
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            lock.release()
            if key_id:  # nothing but the half-made file used the key: it goes too
                with contextlib.suppress(Exception):  # the original error is the one to report
                    crypto.forget_key(key_id, from_backend=True)
            # (a new file cannot be damaged: SQLCipher's driver names no error, and its I/O errors are writes)
            if is_no_room(exc) or (key_id and "disk I/O error" in str(exc)):
                raise StorageFullError(path, f"could not be created ({exc}): is the disk or quota full? Nothing "
                                             "was left behind.") from exc
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
            return cls._open_readonly(path)
        if not os.access(path, os.W_OK):
            read_only_fs = hasattr(os, "statvfs") and bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
            why = "is on a read-only file system" if read_only_fs else "is read-only (file permissions)"
            raise ProjectError(path, f"{why}: open it read-only (`info`, `report`, `gui --read-only`), "
                                     "or copy it somewhere writable")
        lock = None if worker else ProjectLock.acquire(path)
        project = None
        try:
            # Everything read from the file's first bytes is read before connecting (see project_crypto).
            key = file_key(path)
            key_id = crypto.key_id_of(path) if key else None
            conn = cls._connect(path, key)
            project = cls(path, conn, readonly=False, lock=lock)
            project._opened(key_id)
            conn.before_first_write(project._install_seal_triggers)
            if not worker:
                project._seal_deferred = True  # all migrations of this open: one seal, at the end
                try:
                    project._migrate(plugins)
                finally:
                    project._seal_deferred = False
                if project._seal_ready:  # something was written (and noted): nothing was when none ran
                    with project.transaction():
                        pass  # seals what the migrations changed
                project._give_a_copy_its_own_id()
                project._mark_interrupted_runs()
            return project
        except BaseException:
            if project is not None:
                project._close_quietly()
            if lock:
                lock.release()
            raise

    @classmethod
    def _open_readonly(cls, path: Path) -> "Project":
        """Plain mode=ro, so that the view follows a writer that opens the file meanwhile; but where
        nothing can write (a read-only file, folder or file system) and no WAL exists, immutable:
        then SQLite creates no -wal/-shm beside the file, and needs no write access to open it."""
        had_wal = path.with_name(path.name + "-wal").exists()
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        modes = ["mode=ro"] if (writable or had_wal) else []
        if not had_wal:
            modes.append("mode=ro&immutable=1")
        error = None
        key = file_key(path)
        key_id = crypto.key_id_of(path) if key else None
        for mode in modes:
            try:
                conn = crypto.connect(f"{path.resolve().as_uri()}?{mode}", key, uri=True, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 10000")
                conn.execute("SELECT COUNT(*) FROM meta").fetchone()
            except crypto.OPERATIONAL_ERROR as exc:  # e.g. a read-only file system refuses the -shm
                error = exc
                continue
            project = cls(path, conn, readonly=True, lock=None)
            project._opened(key_id)
            project._leave_no_wal = not had_wal and "immutable" not in mode
            return project
        raise ProjectError(path, f"cannot be opened for reading ({error}); if it is on a read-only disk, "
                                 "copy it with its -wal file to a writable folder")

    @staticmethod
    def _connect(path: Path, key: str | None, *, salt: str | None = None):
        # Autocommit mode: transactions are explicit (see transaction()).
        conn = crypto.connect(str(path), key, salt=salt, isolation_level=None, check_same_thread=False,
                              mixin=SealOnFirstWrite)
        conn.execute("PRAGMA busy_timeout = 15000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def close(self) -> None:
        failed_checkpoint = None
        if self.conn is not None and self._seal_ready and not self.readonly:
            # Rows written outside transaction() (autocommit) are sealed now at the latest.
            try:
                if self.conn.execute("SELECT 1 FROM temp.wb_touched LIMIT 1").fetchone():
                    with self.transaction():
                        pass
            except crypto.ERROR:  # evaluated only on an error (it loads SQLCipher's driver)
                pass
        if self.conn is not None:
            try:
                if not self.readonly:
                    self.conn.execute("PRAGMA optimize")
            except crypto.ERROR:
                pass
            if not self.readonly and self._lock is not None:
                # Merge the WAL into the file now, and say so when that fails (a full disk): the
                # results are safe in the -wal file, which must then travel with the project.
                try:
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except crypto.ERROR as exc:
                    failed_checkpoint = exc
            self.conn.close()
            if isinstance(self.conn, SealOnFirstWrite):
                self.conn._first_write_setup = None
            self.conn = None  # type: ignore[assignment]
            if self._open_handle is not None:
                open_files.closed(self._open_handle)
                self._open_handle = None
            if self.readonly and self._leave_no_wal:
                self._remove_sidecars()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if failed_checkpoint is not None:
            raise StorageFullError(
                self.path, f"could not merge the write-ahead log into the file ({failed_checkpoint}). Everything "
                f"saved is in {self.path.name}-wal: keep it beside the project (the next open merges it) and "
                "free some disk space.")

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
            conn = crypto.connect(str(self.path), file_key(self.path))
            try:
                conn.execute("SELECT 1 FROM sqlite_master").fetchall()
            finally:
                conn.close()
        except (*crypto.ERROR, ProjectError):
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
            self._events_appended = False
            try:
                yield self.conn
                # What this transaction changed of finished runs and of the project-wide state is
                # sealed in the log inside the same transaction: both commit, or neither.
                self._seal_touched()
            except BaseException:
                # SQLite may already have rolled back by itself (SQLITE_FULL, IOERR, NOMEM):
                # a second ROLLBACK would fail and hide the real error.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except crypto.ERROR:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            if self._events_appended:
                self._store_anchor()
        except crypto.OPERATIONAL_ERROR as exc:
            if "full" in str(exc).lower():
                raise StorageFullError(
                    self.path, f"the disk is full ({exc}); the last batch was not saved, earlier work is intact."
                ) from exc
            raise
        finally:
            self._in_transaction = False

    # Sealing hooks; :class:`workbench.core.audit_log.AuditLogMixin` gives them their work.
    def _seal_touched(self) -> None:
        pass

    def _store_anchor(self) -> None:
        pass

    def _install_seal_triggers(self) -> None:
        pass

    def _older_than_anchor(self) -> str | None:
        return None

    def _mark_project_touched(self) -> None:
        pass

    def _give_a_copy_its_own_id(self) -> None:
        """A copied file (another inode than the one it was created or last adopted as) gets a
        new project id before anything is written under the old one: its secrets are named by
        the id, and a copy must never change the original's. A rename keeps the inode."""
        identity = _file_identity(self.path)
        recorded = self.meta("file_identity")
        if recorded == identity:
            return
        with self.transaction():
            self.set_meta("file_identity", identity, _tx=False)
            if recorded is None:
                return  # a project from before this check: adopt the file as it is
            import uuid

            old = self.meta("project_id")
            new = str(uuid.uuid4())
            # A copy made of an older state than the original's anchored history (an old backup put
            # back with cp) is said so, permanently: a new id must not hide a rollback.
            older = self._older_than_anchor()
            self.set_meta("project_id", new, _tx=False)
            self._append_event("project", f"this file is a copy: it has its own project id now (was {old})"
                               + (f"; it holds an older state than the original's: {older}" if older else ""),
                               None, {"old_project_id": old, "project_id": new,
                                      **({"older_than_anchor": older} if older else {})})

    # -------------------------------------------------------------- migrations
    def _migrate(self, plugins: Sequence) -> None:
        """Apply the core's migrations, then each plugin's, one plugin at a time.

        A plugin whose migration fails (bad SQL, a table without its prefix, a broken
        ``migrations`` attribute) is rolled back, recorded in :attr:`plugin_failures`
        and the log, and skipped: the project opens for everyone else.
        """
        have_tables = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='migrations'"
        ).fetchone()
        applied: set[tuple[str, int]] = set()
        if have_tables:
            applied = {(r[0], r[1]) for r in self.conn.execute("SELECT plugin, version FROM migrations")}
        for version, sql in CORE_MIGRATIONS:
            if ("core", version) not in applied:
                self._apply_migration("core", version, sql)
        for plugin in plugins:
            try:
                steps = [(v, sql) for v, sql in (plugin.migrations or ()) if (plugin.id, v) not in applied]
                for version, sql in steps:
                    self._apply_migration(plugin.id, version, sql)
                self._declare_unhashed(plugin)
            except StorageFullError:
                raise  # the disk, not the plugin
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
                self.plugin_failures[plugin.id] = why
                try:
                    self.log_event("plugin", f"plugin {plugin.id} cannot use this project: {why}", plugin.id,
                                   {"error": why[:500]})
                except crypto.ERROR:
                    pass

    def _apply_migration(self, owner: str, version: int, sql: str) -> None:
        # executescript commits first; run statements inside our own transaction.
        with self.transaction():
            before = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
            for statement in _split_sql(sql):
                try:
                    self.conn.execute(statement)
                except crypto.ERROR as exc:
                    raise sqlite3.OperationalError(f"migration {version}: {exc}") from exc
            if owner != "core":
                foreign = sorted(n for n in {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
                                 - before if not n.startswith(f"{owner}_") and not n.startswith("sqlite_"))
                if foreign:
                    raise ValueError(f"migration {version} creates {', '.join(foreign)}, "
                                     f"not named with the plugin's prefix '{owner}_'")
            # New tables get their sealing triggers, and the schema change itself is sealed.
            self._install_seal_triggers()
            self._mark_project_touched()
            self.conn.execute(
                "INSERT INTO migrations (plugin, version, applied) VALUES (?, ?, ?)",
                (owner, version, now_iso()),
            )
            if owner == "core":
                self.conn.execute(f"PRAGMA user_version = {version}")

    def _declare_unhashed(self, plugin) -> None:
        """Record the plugin's ``unhashed_tables`` (working state such as a log reader's offsets, left
        out of every digest like ``*_cache``) in meta, which the project-state digest covers: a name
        added there outside the workbench is detected. Every other table is hashed (see state.py)."""
        declared = getattr(plugin, "unhashed_tables", None) or ()
        names = sorted(str(n) for n in declared)
        bad = [n for n in names if not n.startswith(f"{plugin.id}_")]
        if bad:
            raise ValueError(f"unhashed_tables names {', '.join(bad)}, not a table of plugin '{plugin.id}'")
        current = json.loads(self.meta("unhashed_tables") or "{}")
        if current.get(plugin.id, []) == names:
            return
        if names:
            current[plugin.id] = names
        else:
            current.pop(plugin.id, None)
        with self.transaction():
            self.set_meta("unhashed_tables", json.dumps(current, sort_keys=True), _tx=False)
            self._install_seal_triggers()

    def pending_migrations(self, plugins: Sequence) -> dict[str, list[int]]:
        """{plugin id: versions not applied}, e.g. for a read-only view or ``info``."""
        applied = {(r[0], r[1]) for r in self.conn.execute("SELECT plugin, version FROM migrations")}
        pending = {}
        for plugin in plugins:
            try:
                missing = [v for v, _ in (plugin.migrations or ()) if (plugin.id, v) not in applied]
            except Exception:  # a broken migrations attribute: all of it is pending
                missing = [-1]
            if missing:
                pending[plugin.id] = missing
        return pending

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



def _file_identity(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"
