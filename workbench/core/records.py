"""Runs, findings, triage, artifacts, metrics and secret names of a project (a mixin of Project)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence

from workbench.core.database import ACTIVE_STATUSES, RUN_STATUSES, _canonical, _sha256
from workbench.core.host import current_user as _current_user
from workbench.core.host import now_iso
from workbench.core.host import process_start_time as _process_start_time
from workbench.core.findings import OPEN_SQL, TRIAGE_STATUSES, Finding
from workbench.core.stored import RunRecord, StoredFinding, decode_json


class RecordsMixin:
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
        self._make_note(run_id)

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
            self._note_path(run_id).unlink(missing_ok=True)
            self.conn.execute(
                "UPDATE runs SET status=?, finished=?, summary=?, error=?, message=? WHERE id=?",
                (status, now_iso(), _canonical(summary) if summary is not None else None, error, message, run_id),
            )
            # The chain takes a digest of everything the run produced (its row, and its rows in every
            # table), so an edited result breaks verification, not only an edited log entry.
            parts = self.run_parts(run_id)
            self._append_event("run", f"{status}: {row['title']}", row["plugin"],
                               {"run_id": run_id, "status": status, "results_sha256": self.run_digest(run_id, parts),
                                "digest_format": 2, "parts": parts,
                                **({"error": error.splitlines()[-1][:300]} if error else {})})
            self._unmark_run(run_id)  # sealed just now

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

    def run_record(self, run_id: int) -> RunRecord | None:
        """:meth:`run` as a typed record."""
        run = self.run(run_id)
        return RunRecord.from_row(run) if run is not None else None

    def run_records(self, plugin: str | None = None, status: str | None = None) -> list[RunRecord]:
        """:meth:`runs` as typed records, oldest first."""
        return [RunRecord.from_row(r) for r in self.runs(plugin, status)]

    def previous_run(self, plugin: str, job: str, target: str | None, before_run_id: int) -> dict | None:
        row = self.conn.execute(
            "SELECT * FROM runs WHERE plugin=? AND job=? AND target IS ? AND id<? AND status='done' "
            "ORDER BY id DESC LIMIT 1",
            (plugin, job, target, before_run_id),
        ).fetchone()
        return _run_dict(row) if row else None

    def latest_run_ids(self, plugin: str | None = None) -> list[int]:
        """The newest finished run of each (plugin, job, target): what 'current' findings are."""
        where, args = ("AND plugin=?", [plugin]) if plugin else ("", [])
        return [r[0] for r in self.conn.execute(
            f"SELECT MAX(id) FROM runs WHERE status='done' {where} GROUP BY plugin, job, target ORDER BY 1", args)]

    # A run's note: a small file made while there is still room, so that a run the disk
    # stopped can say why even when the project itself cannot be written any more.
    _NOTE_SIZE = 512

    def _note_path(self, run_id: int):
        return self.path.with_name(f"{self.path.name}-run{int(run_id)}.note")

    def _make_note(self, run_id: int) -> None:
        try:
            self._note_path(run_id).write_bytes(b" " * self._NOTE_SIZE)
        except OSError:
            pass  # no room even for this: the run still works, it just cannot explain a later failure

    def note_failure(self, run_id: int, why: str) -> bool:
        """Write *why* into the run's note in place (no new disk space needed). True if written."""
        data = why.encode("utf-8", "replace")[: self._NOTE_SIZE]
        try:
            fd = os.open(self._note_path(run_id), os.O_WRONLY)
        except OSError:
            return False
        try:
            os.pwrite(fd, data.ljust(self._NOTE_SIZE), 0)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def _take_note(self, run_id: int) -> str:
        note = self._note_path(run_id)
        try:
            text = note.read_bytes().decode("utf-8", "replace").strip()
            note.unlink()
        except OSError:
            return ""
        return text

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
                why = self._take_note(row["id"])
                self.finish_run(row["id"], "interrupted",
                                message=why or "the process running this job ended without finishing it")

    # ---------------------------------------------------------------- findings
    def add_findings(self, run_id: int, findings: Iterable[Finding]) -> int:
        self._forget_finding_records()
        findings = list(findings)
        for f in findings:
            f.check()  # again here: evidence may have been changed since the finding was made
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
        return [_finding_dict(r) for r in self.conn.execute(*_findings_query(_FINDINGS_SQL, run_id, plugin))]

    @contextmanager
    def reading_findings_once(self) -> Iterator[None]:
        """Within this block :meth:`finding_records` reads a run's findings from the file once: the
        Overview asks for the same run's findings for the target's score, the pillar's score and its
        trend. Records cannot change; a triage or new findings in the block start afresh. The same
        records go to every caller in the block, their ``evidence`` dicts too: read them, never
        change them (copy one first)."""
        if getattr(self, "_finding_cache", None) is not None:
            yield  # nested: the outer block owns the cache
            return
        self._finding_cache = {}
        try:
            yield
        finally:
            self._finding_cache = None

    def finding_records(self, run_id: int | None = None, plugin: str | None = None) -> list[StoredFinding]:
        """:meth:`findings` as typed records (read straight from the rows: no dict in between)."""
        cache = getattr(self, "_finding_cache", None)
        if cache is not None:
            key = (run_id, plugin or None)
            if key not in cache:
                cache[key] = self._read_finding_records(run_id, plugin)
            return list(cache[key])
        return self._read_finding_records(run_id, plugin)

    def _read_finding_records(self, run_id: int | None, plugin: str | None) -> list[StoredFinding]:
        rows = self.conn.execute(*_findings_query(_FINDING_RECORDS_SQL, run_id, plugin))
        return list(map(StoredFinding.from_values, rows))

    def _forget_finding_records(self) -> None:
        if getattr(self, "_finding_cache", None):
            self._finding_cache = {}

    def finding_record(self, finding_id: int) -> StoredFinding | None:
        """One stored finding by id, triage joined in."""
        row = self.conn.execute(_FINDING_RECORDS_SQL + " AND f.id=?", (int(finding_id),)).fetchone()
        return StoredFinding.from_values(row) if row is not None else None

    def open_counts_by_run(self, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """{run id: {severity: open findings}} of the given runs (a run without open findings is left out)."""
        counts: dict[int, dict[str, int]] = {}
        ids = [int(i) for i in run_ids]
        for start in range(0, len(ids), 500):  # SQLite's limit on parameters, with room
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(
                    f"SELECT f.run_id, f.severity, COUNT(*) FROM findings f LEFT JOIN triage t USING (fingerprint) "
                    f"WHERE f.run_id IN ({marks}) AND {OPEN_SQL} GROUP BY f.run_id, f.severity", chunk):
                counts.setdefault(r[0], {})[r[1]] = r[2]
        return counts

    def finding_counts(self) -> dict[str, dict[str, int]]:
        """{plugin: {severity: n}} over the latest run of each target, open findings only."""
        ids = self.latest_run_ids()
        counts: dict[str, dict[str, int]] = {}
        if not ids:
            return counts
        marks = ",".join("?" * len(ids))
        for r in self.conn.execute(
            f"SELECT f.plugin, f.severity, COUNT(*) FROM findings f LEFT JOIN triage t USING (fingerprint) "
            f"WHERE f.run_id IN ({marks}) AND {OPEN_SQL} "
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
        self._forget_finding_records()
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
        digest = _sha256(data).hexdigest()
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
    def add_metrics(self, series: str, samples: Iterable[tuple[float, float]], *, plugin: str = "core",
                    run_id: int | None = None) -> int:
        """Store (time, value) samples of one series in one transaction; a repeated time replaces."""
        run = int(run_id or 0)
        rows = [(plugin, series, float(ts), run, None if v is None else float(v)) for ts, v in samples]
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO metrics (plugin, series, ts, run_id, value) VALUES (?,?,?,?,?)", rows)
        return len(rows)

    def metrics(self, series: str, since: float | None = None, *, until: float | None = None,
                plugin: str = "core", run_id: int | None = None) -> list[tuple[float, float]]:
        sql, args = "SELECT ts, value FROM metrics WHERE plugin=? AND series=?", [plugin, series]
        if since is not None:
            sql += " AND ts>=?"
            args.append(since)
        if until is not None:
            sql += " AND ts<=?"
            args.append(until)
        if run_id is not None:
            sql += " AND run_id=?"
            args.append(int(run_id))
        return [(r[0], r[1]) for r in self.conn.execute(sql + " ORDER BY ts", args)]

    def metric_series(self, plugin: str = "core", run_id: int | None = None) -> list[str]:
        sql, args = "SELECT DISTINCT series FROM metrics WHERE plugin=?", [plugin]
        if run_id is not None:
            sql += " AND run_id=?"
            args.append(int(run_id))
        return [r[0] for r in self.conn.execute(sql + " ORDER BY series", args)]

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


_FINDINGS_SQL = ("SELECT f.*, COALESCE(t.status, 'open') AS triage_status, t.justification AS triage_justification "
                 "FROM findings f LEFT JOIN triage t ON t.fingerprint = f.fingerprint WHERE 1=1")


# The columns of a StoredFinding, in its field order (``StoredFinding.from_values`` reads them so).
_FINDING_RECORDS_SQL = (
    "SELECT " + ", ".join(f"f.{column}" for _, column in StoredFinding._columns[:-2])
    + ", COALESCE(t.status, 'open'), t.justification "
    "FROM findings f LEFT JOIN triage t ON t.fingerprint = f.fingerprint WHERE 1=1")


def _findings_query(sql: str, run_id: int | None, plugin: str | None) -> tuple[str, list]:
    """*sql* (one of the two above) narrowed to a run and a plugin, in id order."""
    args: list = []
    if run_id is not None:
        sql += " AND f.run_id=?"
        args.append(run_id)
    if plugin:
        sql += " AND f.plugin=?"
        args.append(plugin)
    return sql + " ORDER BY f.id", args


def _finding_dict(row) -> dict:
    d = dict(row)
    d["evidence"] = _json(d["evidence"], {})
    return d


def _run_dict(row) -> dict:
    d = dict(row)
    d["params"] = _json(d.get("params"), {})
    d["summary"] = _json(d.get("summary"), None)
    return d


_json = decode_json
