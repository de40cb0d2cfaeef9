"""The project state hash a report describes, the digests the audit log seals (each run's rows in
every table, the project-wide state), which table is which, and the project summary."""

from __future__ import annotations

from workbench.core.database import _canonical, _sha256


def is_cache_table(name: str) -> bool:
    """A plugin table named ``<id>_..._cache`` holds derived data (it can be rebuilt from the
    evidence), so it is not part of the state a report describes."""
    return name.endswith("_cache")


#: meta keys outside the project-state digest: the chain's own head (kept apart so that deleting the
#: newest events shows), and the file's inode, which a copy or a conversion changes (logged).
UNSEALED_META = ("events_head", "file_identity")
DIGEST_FORMAT = 2


def table_columns(conn, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def unhashed_tables(conn) -> set[str]:
    """Tables a plugin declared as working state outside the digests (meta ``unhashed_tables``)."""
    import json

    row = conn.execute("SELECT value FROM meta WHERE key='unhashed_tables'").fetchone()
    try:
        declared = json.loads(row[0]) if row else {}
    except (TypeError, ValueError):
        return set()
    return {str(n) for names in (declared.values() if isinstance(declared, dict) else ()) for n in names
            if isinstance(names, list)}


def classify_tables(conn) -> dict[str, list[str]]:
    """Every table of the file by how the digests cover it: ``run`` (a run_id column: hashed with its
    run), ``project`` (hashed into the project-state digest), ``skipped`` (``*_cache``, declared
    unhashed, the log itself, SQLite's own). Decided here, from the schema, for every plugin alike:
    a plugin cannot forget a table."""
    out: dict[str, list[str]] = {"run": [], "project": [], "skipped": []}
    unhashed = unhashed_tables(conn)
    # One query for every table and whether it has a run_id column (not a table_info per table).
    for name, has_run_id in conn.execute(
            "SELECT m.name, EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'run_id') "
            "FROM sqlite_master AS m WHERE m.type = 'table' ORDER BY m.name"):
        if name.startswith("sqlite_") or name == "events" or is_cache_table(name) or name in unhashed:
            out["skipped"].append(name)
        elif name == "runs" or has_run_id:
            out["run"].append(name)
        else:
            out["project"].append(name)
    return out


def _rows_sha(rows, header=None) -> str:
    # repr of a tuple of SQLite values (None, int, float, str, bytes) is exact and stable, and four
    # times faster than canonical JSON over millions of metric rows.
    h = _sha256()
    if header is not None:
        h.update(repr(tuple(header)).encode("utf-8", "surrogateescape") + b"\n")
    for row in rows:
        h.update(repr(tuple(row)).encode("utf-8", "surrogateescape") + b"\n")
    return h.hexdigest()


def _parts_sha(parts: dict) -> str:
    return _sha256(_canonical([DIGEST_FORMAT, parts]).encode("utf-8", "surrogateescape")).hexdigest()


def differing_parts(recorded: dict, actual: dict) -> list[str]:
    return sorted(k for k in set(recorded) | set(actual) if recorded.get(k) != actual.get(k))


def _order_by(conn, table: str) -> str:
    # The primary key, else every column: never the bare rowid, which VACUUM may renumber.
    info = list(conn.execute(f'PRAGMA table_info("{table}")'))
    pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] > 0]
    return ", ".join(f'"{c}"' for c in (pk or [r[1] for r in info]))


class StateMixin:
    # ------------------------------------------------------------------- state
    # Rows that record a report being written, or the file being encrypted or decrypted, are about the
    # container, not part of the state a report describes.
    _STATE_EXCLUDES = {"events": "WHERE kind NOT IN ('report', 'file')", "meta": "WHERE key NOT IN ('events_head', 'file_identity')"}

    def state_sha256(self) -> str:
        """SHA-256 over every table's rows in a fixed order: what a report describes.

        Logging "report exported" afterwards does not change it, so `workbench info`
        prints the hash of the PDF for as long as nothing else changed.
        """
        h = _sha256()
        tables = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            if not is_cache_table(r[0])]
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

    def project_state_parts(self) -> dict[str, str]:
        """{part: SHA-256} of everything project-wide: meta (but its unsealed keys), the schema, and
        every table without a run_id column that is not a cache or declared unhashed (migrations,
        secret names, triage, plugin settings), plus the rows of run-scoped tables that belong to no
        run (run_id 0 or NULL). The log records them each time the workbench changes any of it
        (kind ``state``), so a part that differs can be named."""
        conn = self.conn
        parts: dict[str, str] = {}
        marks = ",".join("?" * len(UNSEALED_META))
        parts["meta"] = _rows_sha(conn.execute(
            f"SELECT key, value FROM meta WHERE key NOT IN ({marks}) ORDER BY key", UNSEALED_META))
        parts["schema"] = _rows_sha(conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"))
        kinds = classify_tables(conn)
        for table in kinds["project"]:
            if table != "meta":
                parts[table] = _rows_sha(conn.execute(f'SELECT * FROM "{table}" ORDER BY {_order_by(conn, table)}'))
        for table in kinds["run"]:
            if table == "runs":
                continue
            rows = conn.execute(f'SELECT * FROM "{table}" WHERE run_id IS NULL OR run_id = 0 '
                                f'ORDER BY {_order_by(conn, table)}').fetchall()
            if rows:
                parts[f"{table} (no run)"] = _rows_sha(rows)
        return parts

    def project_state_sha256(self, parts: dict | None = None) -> str:
        return _parts_sha(parts if parts is not None else self.project_state_parts())

    def run_parts(self, run_id: int) -> dict[str, str]:
        """{table: SHA-256} of a run's row, whole, and of every row that carries its run_id in every
        table (findings, artifacts, metrics, each plugin's run-scoped tables; caches and declared
        unhashed tables aside). A table holding no row of the run is no part, so that a plugin
        installed later does not change the digests of older runs."""
        conn = self.conn
        parts = {"runs": _rows_sha(conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)))}
        for table in classify_tables(conn)["run"]:
            if table == "runs":
                continue
            rows = conn.execute(f'SELECT * FROM "{table}" WHERE run_id = ? ORDER BY {_order_by(conn, table)}',
                                (run_id,)).fetchall()
            if rows:
                parts[table] = _rows_sha(rows, header=table_columns(conn, table))
        return parts

    def run_digest(self, run_id: int, parts: dict | None = None) -> str:
        return _parts_sha(parts if parts is not None else self.run_parts(run_id))

    def summary(self) -> dict:
        counts = {t: self.conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                  for t in ("runs", "findings", "triage", "artifacts", "metrics", "events")}
        return {"path": str(self.path), "name": self.name, "project_id": self.project_id,
                "schema": self.schema_version, "created": self.meta("created"), "key_id": self.key_id, "counts": counts}


