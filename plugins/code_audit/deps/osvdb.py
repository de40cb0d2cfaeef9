"""The OSV snapshot: imported from OSV exports, indexed in SQLite in the user's data folder.

An OSV export is a zip of OSV JSON records (``https://osv-dev.storage.googleapis.com/<ecosystem>/all.zip``),
carried over from a connected machine. :func:`import_zip` checks the file against a SHA-256 the user
gives or a ``SHA256SUMS`` file beside it, reads every ``*.json`` member (bounded in size), and
replaces the previous snapshot of the same ecosystem in one transaction. The index lives in the
user's data folder (``WORKBENCH_DATA_DIR`` overrides it: tests, portable installs), never in a
project: one snapshot serves every project on the workstation, and each run records which
snapshot it used. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
import zipfile
from collections import Counter
from pathlib import Path

from workbench.api import WorkbenchError, is_no_room

APP_DIR = "ai-security-workbench"
INDEX_NAME = "osv-index.sqlite"
MAX_RECORD_BYTES = 16 * 1024 * 1024  # the largest OSV records are well under 1 MB: more is not a record
MAX_MEMBERS = 2_000_000
BATCH = 5000
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS sources (
        id INTEGER PRIMARY KEY, file TEXT NOT NULL, sha256 TEXT NOT NULL, ecosystem TEXT NOT NULL,
        imported TEXT NOT NULL, snapshot_date TEXT, advisories INTEGER NOT NULL, withdrawn INTEGER NOT NULL,
        rejected INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS advisories (
        id TEXT PRIMARY KEY, source_id INTEGER NOT NULL, modified TEXT, published TEXT, withdrawn TEXT,
        summary TEXT, aliases TEXT NOT NULL, severity TEXT NOT NULL, db_severity TEXT, cwes TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS affected (
        advisory TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS affected_pkg ON affected(ecosystem, name)",
    "CREATE INDEX IF NOT EXISTS affected_adv ON affected(advisory)",
    "CREATE INDEX IF NOT EXISTS advisories_source ON advisories(source_id)",
)


class SnapshotError(WorkbenchError):
    """The snapshot cannot be imported or read; the message names the file."""


# ------------------------------------------------------------------ where

def data_dir() -> Path:
    folder = os.environ.get("WORKBENCH_DATA_DIR")
    if folder:
        return Path(folder)
    import platformdirs

    # the workbench's own data folder (the one the secrets file uses); plugins only see the SDK
    return Path(platformdirs.user_data_path(APP_DIR, appauthor=False))


def index_path(path: str | os.PathLike | None = None) -> Path:
    return Path(path) if path else data_dir() / "osv" / INDEX_NAME


def connect(path: str | os.PathLike | None = None, *, create: bool = False) -> sqlite3.Connection:
    """The index; with *create*, made (and its folder) when missing. Read-only use never creates it."""
    p = index_path(path)
    new = not p.exists()
    if new:
        if not create:
            raise SnapshotError(f"no OSV snapshot imported yet ({p} does not exist): carry an OSV export "
                                "(e.g. PyPI's all.zip) over and run `workbench deps-db import FILE.zip`")
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(p), timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        for stmt in SCHEMA:
            conn.execute(stmt)
        conn.commit()
    except sqlite3.DatabaseError as exc:
        if new:  # a new index cannot be damaged: the disk refused its first pages; leave nothing behind
            for leftover in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")):
                leftover.unlink(missing_ok=True)
            raise SnapshotError(f"{p}: cannot create the OSV index ({exc}; is the disk full?); nothing was "
                                "imported") from exc
        raise SnapshotError(f"{p}: not a readable OSV index ({exc}); delete it and import the snapshot again") \
            from exc
    return conn


# ----------------------------------------------------------------- verify

def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def expected_sha256(path: str | os.PathLike, given: str | None = None) -> tuple[str, str]:
    """(hex digest, where it came from): the one the user gave, else the line of SHA256SUMS beside the file."""
    path = Path(path)
    if given:
        if not _HEX64.match(given.strip()):
            raise SnapshotError(f"--sha256 {given!r}: not a SHA-256 (64 hexadecimal digits)")
        return given.strip().lower(), "--sha256"
    sums = path.with_name("SHA256SUMS")
    if not sums.is_file():
        raise SnapshotError(f"{path}: no checksum to verify it against; pass --sha256 HEX or put a SHA256SUMS "
                            "file (as written by `sha256sum`) beside it")
    with open(sums, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.strip().split(None, 1)
            if len(parts) != 2:
                continue
            digest, name = parts
            name = name.lstrip("*").strip()  # `sha256sum -b` marks binary mode with '*'
            if os.path.basename(name) == path.name:
                if not _HEX64.match(digest):
                    raise SnapshotError(f"{sums}, line {n}: {digest!r} is not a SHA-256")
                return digest.lower(), f"{sums.name} line {n}"
    raise SnapshotError(f"{sums}: no line for {path.name}; pass --sha256 HEX instead")


def verify(path: str | os.PathLike, given: str | None = None) -> str:
    """The file's SHA-256 when it matches what is expected; raises :class:`SnapshotError` otherwise."""
    expected, where = expected_sha256(path, given)
    actual = sha256_file(path)
    if actual != expected:
        raise SnapshotError(f"{path}: SHA-256 {actual} does not match {expected} ({where}); "
                            "the file is damaged or not the one published; nothing imported")
    return actual


# ----------------------------------------------------------------- import

def normalise_name(ecosystem: str, name: str) -> str:
    if ecosystem == "PyPI":
        from packaging.utils import canonicalize_name

        return str(canonicalize_name(name))
    return name


def _ecosystem(raw: str) -> str:
    return str(raw).split(":", 1)[0]  # "Debian:11" -> "Debian"; PyPI, npm and Go have no suffix


def parse_record(data: bytes, where: str) -> dict:
    """One OSV record, checked for the fields the index needs; raises ValueError naming *where*."""
    try:
        rec = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(rec, dict):
        raise ValueError(f"{where}: an OSV record is a JSON object")
    if not isinstance(rec.get("id"), str) or not rec["id"]:
        raise ValueError(f"{where}: no 'id'")
    if not isinstance(rec.get("modified"), str):
        raise ValueError(f"{where}: {rec['id']} has no 'modified' time")
    for key in ("affected", "aliases", "severity"):
        if key in rec and not isinstance(rec[key], list):
            raise ValueError(f"{where}: {rec['id']}: '{key}' must be a list")
    for key in ("summary", "details", "published", "withdrawn"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise ValueError(f"{where}: {rec['id']}: '{key}' must be a string")
    for n, aff in enumerate(rec.get("affected") or []):
        pkg = aff.get("package") if isinstance(aff, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("ecosystem"), str) or not pkg["ecosystem"] \
                or not isinstance(pkg.get("name"), str) or not pkg["name"]:
            raise ValueError(f"{where}: {rec['id']}: affected[{n}] has no package ecosystem and name")
        if not isinstance(aff.get("ranges", []), list) or not isinstance(aff.get("versions", []), list):
            raise ValueError(f"{where}: {rec['id']}: affected[{n}]: 'ranges' and 'versions' must be lists")
    return rec


def _rows(rec: dict, source_id: int) -> tuple[tuple, list[tuple]]:
    db = rec.get("database_specific") if isinstance(rec.get("database_specific"), dict) else {}
    severity = [{"type": s.get("type"), "score": s.get("score")} for s in rec.get("severity") or []
                if isinstance(s, dict)]
    cwes = db.get("cwe_ids") if isinstance(db.get("cwe_ids"), list) else []
    adv = (rec["id"], source_id, rec.get("modified"), rec.get("published"), rec.get("withdrawn"),
           (rec.get("summary") or rec.get("details") or "")[:500], json.dumps(rec.get("aliases") or []),
           json.dumps(severity), db.get("severity") if isinstance(db.get("severity"), str) else None,
           json.dumps(cwes))
    affected = []
    for aff in rec.get("affected") or []:
        eco = _ecosystem(aff["package"]["ecosystem"])
        # Per-package severity (GHSA puts it there sometimes) is kept with the package.
        data = {"ranges": aff.get("ranges") or [], "versions": aff.get("versions") or []}
        if aff.get("severity"):
            data["severity"] = aff["severity"]
        affected.append((rec["id"], eco, normalise_name(eco, aff["package"]["name"]), json.dumps(data)))
    return adv, affected


def import_zip(path: str | os.PathLike, *, sha256: str | None = None, index: str | os.PathLike | None = None,
               progress=None) -> dict:
    """Verify and index one OSV export. Returns what was imported (the source row, and the rejected records).

    A record that is not valid OSV is named in ``rejected`` and the rest is imported; the snapshot of
    the same ecosystem imported before is replaced only when this one has been read to the end.
    """
    path = Path(path)
    if not path.is_file():
        raise SnapshotError(f"{path}: no such file")
    t0 = time.perf_counter()
    digest = verify(path, sha256)
    t_verify = time.perf_counter() - t0
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SnapshotError(f"{path}: not a zip file ({exc})") from exc
    conn = connect(index, create=True)
    rejected: list[str] = []
    ecosystems: Counter = Counter()
    withdrawn = count = 0
    newest = ""
    try:
        with zf:
            members = [i for i in zf.infolist() if not i.is_dir() and i.filename.lower().endswith(".json")]
            if len(members) > MAX_MEMBERS:
                raise SnapshotError(f"{path}: {len(members)} members; more than an OSV export holds")
            conn.execute("BEGIN IMMEDIATE")
            # A temporary source id; the row is written once the counts are known.
            source_id = (conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM sources").fetchone()[0])
            advs: list[tuple] = []
            affs: list[tuple] = []
            for n, info in enumerate(members):
                where = f"{path.name}:{info.filename}"
                if info.file_size > MAX_RECORD_BYTES:
                    rejected.append(f"{where}: {info.file_size} bytes, larger than an OSV record")
                    continue
                try:
                    with zf.open(info) as fh:
                        data = fh.read(MAX_RECORD_BYTES + 1)
                    if len(data) > MAX_RECORD_BYTES:
                        raise ValueError(f"{where}: larger than an OSV record")
                    rec = parse_record(data, where)
                except (ValueError, zipfile.BadZipFile, OSError, RuntimeError) as exc:
                    rejected.append(str(exc))
                    continue
                adv, aff = _rows(rec, source_id)
                advs.append(adv)
                affs += aff
                ecosystems.update(r[1] for r in aff)
                count += 1
                withdrawn += bool(rec.get("withdrawn"))
                newest = max(newest, rec["modified"])
                if len(advs) >= BATCH:
                    _flush(conn, advs, affs)
                if progress is not None and n % 1000 == 0:
                    progress(n, len(members))
            _flush(conn, advs, affs)
            ecosystem = ecosystems.most_common(1)[0][0] if ecosystems else "unknown"
            # The previous snapshot of this ecosystem goes; records this one re-imported stay (source_id moved).
            old = [r[0] for r in conn.execute("SELECT id FROM sources WHERE ecosystem = ?", (ecosystem,))]
            for sid in old:
                conn.execute("DELETE FROM affected WHERE advisory IN (SELECT id FROM advisories WHERE source_id = ?)",
                             (sid,))
                conn.execute("DELETE FROM advisories WHERE source_id = ?", (sid,))
                conn.execute("DELETE FROM sources WHERE id = ?", (sid,))
            row = (source_id, path.name, digest, ecosystem, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   newest[:10] or None, count, withdrawn, len(rejected))
            conn.execute("INSERT INTO sources (id, file, sha256, ecosystem, imported, snapshot_date, advisories,"
                         " withdrawn, rejected) VALUES (?,?,?,?,?,?,?,?,?)", row)
            conn.commit()
    except BaseException as exc:
        if conn.in_transaction:
            conn.rollback()
        conn.close()
        if is_no_room(exc):
            # a full disk: name the index (there is no project here), and say that the rollback kept
            # what was there
            raise SnapshotError(f"{index_path(index)}: cannot write the OSV index ({exc}; is the disk full?); "
                                f"nothing of {path.name} was imported, the snapshot imported before is "
                                "unchanged") from exc
        raise
    conn.close()
    return {"file": str(path), "sha256": digest, "ecosystem": ecosystem, "snapshot_date": newest[:10] or None,
            "advisories": count, "withdrawn": withdrawn, "rejected": rejected,
            "seconds": {"verify": round(t_verify, 3), "total": round(time.perf_counter() - t0, 3)}}


def _flush(conn, advs: list, affs: list) -> None:
    if advs:
        ids = [(a[0],) for a in advs]
        # A record seen again (in this file or an earlier snapshot) replaces its old rows.
        conn.executemany("DELETE FROM affected WHERE advisory = ?", ids)
        conn.executemany("INSERT OR REPLACE INTO advisories (id, source_id, modified, published, withdrawn, summary,"
                         " aliases, severity, db_severity, cwes) VALUES (?,?,?,?,?,?,?,?,?,?)", advs)
    if affs:
        conn.executemany("INSERT INTO affected (advisory, ecosystem, name, data) VALUES (?,?,?,?)", affs)
    advs.clear()
    affs.clear()


# ------------------------------------------------------------------ read

def info(index: str | os.PathLike | None = None) -> dict:
    """The snapshot: one entry per imported export, and totals."""
    conn = connect(index)
    try:
        sources = [dict(zip(("ecosystem", "file", "sha256", "imported", "snapshot_date", "advisories", "withdrawn",
                             "rejected"), r))
                   for r in conn.execute("SELECT ecosystem, file, sha256, imported, snapshot_date, advisories,"
                                         " withdrawn, rejected FROM sources ORDER BY ecosystem")]
        packages = dict(conn.execute("SELECT ecosystem, COUNT(DISTINCT name) FROM affected GROUP BY ecosystem"))
    finally:
        conn.close()
    for s in sources:
        s["packages"] = packages.get(s["ecosystem"], 0)
    return {
        "index": str(index_path(index)),
        "sources": sources,
        "advisories": sum(s["advisories"] for s in sources),
        "withdrawn": sum(s["withdrawn"] for s in sources),
        "packages": sum(packages.values()),
        "snapshot": snapshot_label(sources),
    }


def snapshot_label(sources: list[dict]) -> str:
    """How a finding cites the snapshot: ecosystem, date and the start of the file's SHA-256."""
    if not sources:
        return "no snapshot"
    return "; ".join(f"OSV {s['ecosystem']} {s['snapshot_date'] or 'undated'} ({s['file']} sha256:{s['sha256'][:12]})"
                     for s in sources)


class Snapshot:
    """Read access for a check: advisories of a package, evaluated once and kept."""

    def __init__(self, index: str | os.PathLike | None = None):
        self.conn = connect(index)
        self.info = info(index)
        self._cache: dict[tuple[str, str], list] = {}

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def source_for(self, ecosystem: str) -> dict | None:
        return next((s for s in self.info["sources"] if s["ecosystem"] == ecosystem), None)

    def advisories(self, ecosystem: str, name: str) -> list:
        """[(advisory dict, Affected)] of *name*, withdrawn advisories left out."""
        from .versions import evaluate_affected

        key = (ecosystem, normalise_name(ecosystem, name))
        if key not in self._cache:
            rows = self.conn.execute(
                "SELECT a.id, a.modified, a.published, a.withdrawn, a.summary, a.aliases, a.severity, "
                "a.db_severity, a.cwes, f.data FROM affected f JOIN advisories a ON a.id = f.advisory "
                "WHERE f.ecosystem = ? AND f.name = ? ORDER BY a.id", key)
            out = []
            for r in rows:
                if r[3]:
                    continue  # withdrawn: OSV says it no longer applies
                data = json.loads(r[9])
                adv = {"id": r[0], "modified": r[1], "published": r[2], "summary": r[4],
                       "aliases": json.loads(r[5]), "severity": json.loads(r[6]) or data.get("severity") or [],
                       "db_severity": r[7], "cwes": json.loads(r[8])}
                out.append((adv, evaluate_affected(data)))
            self._cache[key] = out
        return self._cache[key]
