"""The append-only audit log: hash-chained events, and the check that walks the chain."""

from __future__ import annotations

import hashlib
import json

from workbench.core.database import _canonical, now_iso

GENESIS_HASH = "0" * 64


def event_hash(prev_hash: str, event_id: int, ts: str, kind: str, plugin, message: str, data: str) -> str:
    payload = _canonical([prev_hash, event_id, ts, kind, plugin, message, data])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()



class ChainReport:
    def __init__(self, ok: bool, count: int, first_broken_id: int | None, message: str, head: str | None = None):
        self.head = head
        self.ok = ok
        self.count = count
        self.first_broken_id = first_broken_id
        self.message = message

    def __repr__(self) -> str:
        return f"ChainReport(ok={self.ok}, count={self.count}, first_broken_id={self.first_broken_id})"




def _loads(data: str | None) -> dict:
    try:
        value = json.loads(data or "{}")
    except ValueError:  # a damaged entry: the chain walk reports it first
        return {}
    return value if isinstance(value, dict) else {}


class AuditLogMixin:
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
        mismatch = self._triage_mismatch() or self._results_mismatch() or self._name_mismatch()
        if mismatch:
            return ChainReport(False, count, None, mismatch)
        return ChainReport(True, count, None, f"{count} events, chain intact, triage matches the log",
                           head=prev_hash)

    def _results_mismatch(self) -> str | None:
        """Each finished run's status and results against the digest its final event entered in the chain."""
        recorded: dict[int, dict] = {}
        for (data,) in self.conn.execute("SELECT data FROM events WHERE kind='run' ORDER BY id"):
            d = _loads(data)
            if "results_sha256" in d:
                recorded[d["run_id"]] = d
        for run_id, status in self.conn.execute(
                "SELECT id, status FROM runs WHERE status NOT IN ('queued','running') ORDER BY id"):
            d = recorded.pop(run_id, None)
            if d is None:
                return f"run {run_id} is marked {status} but the audit log never recorded it finishing"
            if d["status"] != status:
                return f"run {run_id} is marked {status} but the audit log recorded it {d['status']}"
            if self.results_digest(run_id) != d["results_sha256"]:
                return (f"the results of run {run_id} (its findings, summary or parameters) differ from what "
                        "the audit log recorded when it finished: they were changed outside the workbench")
        if recorded:
            return f"run {min(recorded)} finished according to the audit log but is missing from the project"
        orphans = self.conn.execute(
            "SELECT COUNT(*) FROM findings WHERE run_id NOT IN (SELECT id FROM runs)").fetchone()[0]
        if orphans:
            return f"{orphans} finding(s) belong to no run: they were added outside the workbench"
        return None

    def _name_mismatch(self) -> str | None:
        row = self.conn.execute("SELECT data FROM events WHERE kind='project' AND data LIKE '%\"name\"%' "
                                "ORDER BY id DESC LIMIT 1").fetchone()
        name = _loads(row[0]).get("name") if row else None
        current = self.conn.execute("SELECT value FROM meta WHERE key='name'").fetchone()
        if name is not None and current is not None and current[0] != name:
            return f"the project's name was changed outside the workbench (the log says {name!r})"
        return None

    def _triage_mismatch(self) -> str | None:
        """Triage is only changed through set_triage, which logs it: replay the log and compare."""
        expected: dict[str, str] = {}
        for (data,) in self.conn.execute("SELECT data FROM events WHERE kind='triage' ORDER BY id"):
            d = _loads(data)
            for fp in d.get("fingerprints", ()):
                expected[fp] = d.get("status", "")
        actual = {r[0]: r[1] for r in self.conn.execute("SELECT fingerprint, status FROM triage")}
        wrong = sorted(fp for fp in expected.keys() | actual.keys() if expected.get(fp) != actual.get(fp))
        if not wrong:
            return None
        return (f"the triage of {len(wrong)} finding(s) does not match the audit log (first: {wrong[0][:12]}): "
                "it was changed outside the workbench")

