"""The append-only audit log: hash-chained events, the seals that put every stored result under the
chain, the anchor kept outside the file, and the check that walks all of it.

What the chain covers (see the README's trust model):

* each finished run: a digest of its row, whole, and of every row carrying its run_id in every
  table (findings, artifacts, metrics, every plugin's run-scoped tables), entered when it finishes
  and again whenever the workbench changes one of those rows later (kind ``run``, ``amended``);
* the project-wide state: meta (all but the chain head and the file's inode), the schema, and
  every table without a run_id that is not a ``*_cache`` or declared unhashed, entered whenever the
  workbench changes any of it (kind ``state``);
* the head (event id and hash) is also stored outside the file, per project, in the secrets
  backend after each commit, and carried by every signed report: a rollback of the newest events
  or a rewrite of the whole chain is then detected.

The workbench notices its own changes through temporary triggers of its connection (they live in
the connection, never in the file): a change made with another tool fires none, and so is never
sealed.
"""

from __future__ import annotations

import json

from workbench.core.database import ACTIVE_STATUSES, _canonical, _sha256
from workbench.core.host import now_iso
from workbench.core.state import UNSEALED_META, classify_tables, differing_parts

GENESIS_HASH = "0" * 64
ANCHOR_PREFIX = "audit-head/"
PATH_ANCHOR_PREFIX = "audit-path/"
NO_ANCHOR = ("no anchor for this project on this machine (it is kept in the secrets backend of the machine "
             "that wrote the project): its history can be checked only against a signed report "
             "(--report REPORT)")


def event_hash(prev_hash: str, event_id: int, ts: str, kind: str, plugin, message: str, data: str) -> str:
    payload = _canonical([prev_hash, event_id, ts, kind, plugin, message, data])
    # surrogateescape: a damaged (non-UTF-8) text read back as it is hashes to something else, never fails
    return _sha256(payload.encode("utf-8", "surrogateescape")).hexdigest()


class ChainReport:
    def __init__(self, ok: bool, count: int, first_broken_id: int | None, message: str, head: str | None = None,
                 *, head_id: int | None = None, notes: list[str] | None = None, anchor: str = ""):
        self.head = head
        self.head_id = head_id
        self.ok = ok
        self.count = count
        self.first_broken_id = first_broken_id
        self.message = message
        #: what the check could not cover, in words (older digest formats)
        self.notes = list(notes or [])
        #: what the comparison with the anchor (or a report's head) said
        self.anchor = anchor

    def __repr__(self) -> str:
        return f"ChainReport(ok={self.ok}, count={self.count}, first_broken_id={self.first_broken_id})"


def compare_head(conn, recorded: dict, where: str) -> tuple[bool, str]:
    """The file's log against a head recorded outside it ({"id", "hash", "ts"}): (ok, in words)."""
    try:
        rid, rhash, rts = int(recorded["id"]), str(recorded["hash"]), str(recorded.get("ts", "?"))
    except (KeyError, TypeError, ValueError):
        return False, f"the head recorded in {where} is unreadable"
    last = conn.execute("SELECT id, ts FROM events ORDER BY id DESC LIMIT 1").fetchone()
    last_id, last_ts = (last[0], last[1]) if last else (0, "the beginning")
    row = conn.execute("SELECT hash FROM events WHERE id=?", (rid,)).fetchone()
    if row is not None and row[0] == rhash:
        return True, f"the log holds the head recorded in {where} (event {rid} of {rts})"
    if row is None and last_id < rid:
        return False, (f"the audit log was rolled back: {rid - last_id} event(s) since {last_ts} are missing "
                       f"({where} records event {rid} of {rts}; the file ends at event {last_id}; if you "
                       "restored a backup yourself: `workbench info PROJECT --accept-restored`)")
    return False, (f"the log was rewritten: event {rid} is not the one recorded in {where} ({rts}); "
                   "the events from there on were replaced")

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
        self._events_appended = True
        return event_id

    def events(self, limit: int | None = None, newest_first: bool = True) -> list[dict]:
        sql = "SELECT id, ts, kind, plugin, message, data FROM events ORDER BY id " + ("DESC" if newest_first else "ASC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [dict(r) for r in self.conn.execute(sql)]

    def last_event_id(self) -> int | None:
        """The id of the newest entry of the log (None when empty): a view reloads when it changes."""
        return self.conn.execute("SELECT MAX(id) FROM events").fetchone()[0]

    # ------------------------------------------------------------------- seals
    def _install_seal_triggers(self) -> None:
        """Temporary triggers (this connection only, never in the file) that note the run of every
        row the workbench writes, and -1 for the project-wide state."""
        if self.readonly:
            return
        conn = self.conn
        kinds = classify_tables(conn)
        meta_keys = ",".join(f"'{k}'" for k in UNSEALED_META)
        statements = ["CREATE TEMP TABLE IF NOT EXISTS wb_touched (run_id INTEGER PRIMARY KEY)"]
        for table in kinds["skipped"]:
            for op in ("insert", "update", "delete"):
                statements.append(f'DROP TRIGGER IF EXISTS temp."wb_seal_{table}_{op}"')
        for table in kinds["run"] + kinds["project"]:
            if table == "runs":
                new, old = "NEW.id", "OLD.id"
            elif table in kinds["run"]:
                new, old = "COALESCE(NEW.run_id, 0)", "COALESCE(OLD.run_id, 0)"
            else:
                new = old = "-1"
            when = {"insert": "", "update": "", "delete": ""}
            if table == "meta":
                when = {"insert": f" WHEN NEW.key NOT IN ({meta_keys})",
                        "update": f" WHEN NEW.key NOT IN ({meta_keys}) OR OLD.key NOT IN ({meta_keys})",
                        "delete": f" WHEN OLD.key NOT IN ({meta_keys})"}
            # No conflict is ever raised (an outer UPSERT or OR REPLACE would override OR IGNORE here).
            note = "INSERT INTO wb_touched SELECT {0} WHERE NOT EXISTS (SELECT 1 FROM wb_touched WHERE run_id = {0});"
            body = {"insert": note.format(new), "update": note.format(new) + " " + note.format(old),
                    "delete": note.format(old)}
            for op in ("insert", "update", "delete"):
                statements.append(f'CREATE TEMP TRIGGER IF NOT EXISTS "wb_seal_{table}_{op}" AFTER {op.upper()} '
                                  f'ON main."{table}"{when[op]} BEGIN {body[op]} END')
        if conn.in_transaction:  # (a migration's) executescript would commit it first
            for statement in statements:
                conn.execute(statement)
        else:  # one call for the hundred-odd statements
            conn.executescript(";\n".join(statements) + ";")
        self._seal_ready = True

    def _mark_project_touched(self) -> None:
        if self._seal_ready:
            self.conn.execute("INSERT INTO temp.wb_touched SELECT -1 WHERE NOT EXISTS "
                              "(SELECT 1 FROM temp.wb_touched WHERE run_id = -1)")

    def _unmark_run(self, run_id: int) -> None:
        if self._seal_ready:
            self.conn.execute("DELETE FROM temp.wb_touched WHERE run_id=?", (run_id,))

    def _seal_touched(self) -> None:
        """Inside the committing transaction: a new digest for each finished run whose rows it
        changed, and for the project-wide state when that changed."""
        if not self._seal_ready or self._seal_deferred:
            return
        ids = [r[0] for r in self.conn.execute("SELECT run_id FROM temp.wb_touched ORDER BY run_id")]
        if not ids:
            return
        self.conn.execute("DELETE FROM temp.wb_touched")
        for run_id in (i for i in ids if i > 0):
            row = self.conn.execute("SELECT plugin, status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                if self._recorded_finished(run_id):
                    self._append_event("run", f"run {run_id} deleted", None, {"run_id": run_id, "deleted": True})
                else:  # rows written for a run that does not exist: part of the project-wide state
                    ids.append(0)
                continue
            if row["status"] in ACTIVE_STATUSES:
                continue  # sealed when it finishes
            parts = self.run_parts(run_id)
            self._append_event("run", f"results of run {run_id} amended", row["plugin"],
                               {"run_id": run_id, "status": row["status"], "amended": True,
                                "results_sha256": self.run_digest(run_id, parts), "digest_format": 2,
                                "parts": parts})
        if any(i <= 0 for i in ids):
            parts = self.project_state_parts()
            last = self.conn.execute("SELECT data FROM events WHERE kind IN ('state', 'project') AND "
                                     "json_extract(data, '$.parts') IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
            changed = differing_parts(_loads(last[0]).get("parts") or {}, parts) if last else []
            self._append_event("state", f"project-wide state changed: {', '.join(changed)}" if changed else
                               "project-wide state sealed",
                               None, {"project_sha256": self.project_state_sha256(parts), "digest_format": 2,
                                      "parts": parts})

    def _log_creation(self, message: str, name: str) -> None:
        """The first event: the new project's name, id and project-wide state, sealed at once."""
        with self.transaction():
            if self._seal_ready:
                self.conn.execute("DELETE FROM temp.wb_touched")
            parts = self.project_state_parts()
            self._append_event("project", message, None,
                               {"name": name, "project_id": self.project_id, "digest_format": 2,
                                "project_sha256": self.project_state_sha256(parts), "parts": parts})

    def _recorded_finished(self, run_id: int) -> bool:
        return self.conn.execute("SELECT 1 FROM events WHERE kind='run' AND json_extract(data, '$.run_id')=? "
                                 "AND json_extract(data, '$.results_sha256') IS NOT NULL LIMIT 1",
                                 (run_id,)).fetchone() is not None

    # ------------------------------------------------------------------ anchor
    def _anchor_name(self, project_id: str | None = None) -> str:
        return ANCHOR_PREFIX + (project_id or self.project_id)

    def _path_anchor_name(self) -> str:
        # Which project this machine last anchored at this path: a file that claims another id there,
        # with no anchor of its own, did not come from this machine's history.
        return PATH_ANCHOR_PREFIX + _sha256(str(self.path.resolve()).encode("utf-8", "surrogateescape")
                                            ).hexdigest()[:32]

    def _replaced_here(self) -> str | None:
        """No anchor for this project id: was another project anchored at this very path?"""
        try:
            from workbench.core import secrets

            other = secrets.get_user_secret(self._path_anchor_name())
        except Exception:
            return None
        if not other or other == self.project_id:
            return None
        known = self.conn.execute("SELECT 1 FROM events WHERE json_extract(data, '$.old_project_id') = ? LIMIT 1",
                                  (other,)).fetchone()
        if known:
            return None  # this file is that project's copy, and its log says so
        return (f"this file was anchored here as project {other}; it now says it is project {self.project_id}, "
                "which no anchor vouches for: it was rewritten with a new id or replaced (if you replaced it on "
                "purpose: `workbench info PROJECT --accept-restored`)")

    def read_anchor(self) -> tuple[dict | None, str]:
        """(the head recorded outside the file for this project, or None; why none)."""
        try:
            from workbench.core import secrets

            raw = secrets.get_user_secret(self._anchor_name())
        except Exception as exc:  # no backend, or a locked one: said, never fatal
            return None, f"{NO_ANCHOR}; the secrets backend cannot be read here ({exc})"
        if not raw:
            return None, NO_ANCHOR
        try:
            value = json.loads(raw)
        except ValueError:
            return {"id": None}, ""
        return value if isinstance(value, dict) else {"id": None}, ""

    def _store_anchor(self) -> None:
        """After a commit that added events: the new head goes to the secrets backend, unless the
        recorded one is not part of this file's log (a rollback or rewrite stays visible)."""
        if self.readonly or getattr(self, "_anchor_off", False):
            return
        try:
            from workbench.core import secrets

            # Never create the encrypted secrets file, or prompt, as a side effect of a commit.
            if secrets.chosen_backend() == "encrypted-file" and (
                    not secrets.encrypted_file_path().exists() or secrets.needs_passphrase()):
                self._anchor_off = True
                return
            last = self.conn.execute("SELECT id, hash, ts FROM events ORDER BY id DESC LIMIT 1").fetchone()
            if last is None:
                return
            name = self._anchor_name()
            raw = secrets.get_user_secret(name)
            if raw:
                try:
                    recorded = json.loads(raw)
                    rid, rhash = int(recorded["id"]), recorded["hash"]
                except (ValueError, KeyError, TypeError):
                    rid, rhash = None, None
                if rid is not None:
                    if rid >= last["id"]:
                        return  # another process is ahead, or this file was rolled back: keep it
                    row = self.conn.execute("SELECT hash FROM events WHERE id=?", (rid,)).fetchone()
                    if row is None or row[0] != rhash:
                        return  # this file does not extend the recorded history: keep the evidence
            secrets.set_user_secret(name, json.dumps({"id": last["id"], "hash": last["hash"], "ts": last["ts"],
                                                      "path": str(self.path)}, sort_keys=True))
            if secrets.get_user_secret(self._path_anchor_name()) != self.project_id:
                secrets.set_user_secret(self._path_anchor_name(), self.project_id)
        except Exception as exc:  # the anchor is extra protection: a missing backend never stops work
            self._anchor_off = True
            self.anchor_problem = f"{type(exc).__name__}: {exc}"

    def _older_than_anchor(self) -> str | None:
        """Before a copy takes its own id: does this file fall short of the original's anchor?"""
        anchor, _ = self.read_anchor()
        if anchor is None:
            return None
        ok, words = compare_head(self.conn, anchor, "the original's anchor")
        return None if ok else words

    def _unaccepted_older_copy(self) -> str | None:
        """The newest copy event that says the copy holds an older state, unless the user accepted it."""
        row = self.conn.execute("SELECT id, data FROM events WHERE kind='project' AND "
                                "json_extract(data, '$.older_than_anchor') IS NOT NULL ORDER BY id DESC LIMIT 1"
                                ).fetchone()
        if row is None or self.conn.execute("SELECT 1 FROM events WHERE kind='file' AND id > ? AND "
                                            "json_extract(data, '$.accepted') = 1", (row[0],)).fetchone():
            return None
        return _loads(row[1]).get("older_than_anchor")

    def accept_restored(self) -> str:
        """The user put back an older copy of this file on purpose (a backup): say so in the log, and
        anchor this file's head from now on. Returns what was accepted, in words."""
        from workbench.core import secrets

        problems = []
        anchor, why = self.read_anchor()
        if anchor is not None:
            ok, words = compare_head(self.conn, anchor, "the anchor outside the file (secrets backend)")
            if not ok:
                problems.append(words)
        older = self._unaccepted_older_copy()
        if older:
            problems.append(f"this copy holds an older state than its original: {older}")
        replaced = self._replaced_here() if anchor is None else None
        if replaced:
            problems.append(replaced.split(" (if you", 1)[0])
        if not problems:
            return "nothing to accept" + (f" ({why})" if anchor is None else ": the log holds the anchored head")
        words = "; ".join(problems)
        with self.transaction():
            self._append_event("file", f"restored history accepted by the user: {words}", None,
                               {"previous_anchor": anchor, "accepted": 1})
        last = self.conn.execute("SELECT id, hash, ts FROM events ORDER BY id DESC LIMIT 1").fetchone()
        secrets.set_user_secret(self._anchor_name(), json.dumps(
            {"id": last["id"], "hash": last["hash"], "ts": last["ts"], "path": str(self.path)}, sort_keys=True))
        secrets.set_user_secret(self._path_anchor_name(), self.project_id)
        return f"accepted and logged: {words}"

    # ------------------------------------------------------------------ verify
    def verify_events(self, *, report_head: dict | None = None, use_anchor: bool = True) -> "ChainReport":
        """Walk the hash chain; check every sealed digest; compare the head with the anchor kept
        outside the file (and with *report_head*, the head a signed report carries). Reports the
        first thing that does not hold."""
        # A flipped byte can leave a text that is not UTF-8: read it as it is (it then hashes
        # differently and is reported), instead of failing on it.
        saved = self.conn.text_factory
        self.conn.text_factory = _tolerant_text
        try:
            return self._verify_events(report_head, use_anchor)
        finally:
            self.conn.text_factory = saved

    def _verify_events(self, report_head: dict | None, use_anchor: bool) -> "ChainReport":
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
        # Outside the file first: a rewritten chain is consistent in itself.
        anchor_words = []
        if report_head is not None:
            by = report_head.get("signed_by")
            ok, words = compare_head(self.conn, report_head, f"the signed report{f' ({by})' if by else ''}")
            if not ok:
                return ChainReport(False, count, None, words, head_id=last_id)
            anchor_words.append(words)
        if use_anchor:
            anchor, why = self.read_anchor()
            replaced = self._replaced_here() if anchor is None else None
            if replaced:
                return ChainReport(False, count, None, replaced, head_id=last_id)
            if anchor is None:
                anchor_words.append(why)
            else:
                ok, words = compare_head(self.conn, anchor, "the anchor outside the file (secrets backend)")
                if not ok:
                    return ChainReport(False, count, None, words, head_id=last_id)
                anchor_words.append(words)
        older = self._unaccepted_older_copy()
        if older:
            return ChainReport(False, count, None, f"this file is a copy made of an older state than its original's "
                               f"anchored history: {older}", head_id=last_id)
        notes: list[str] = []
        mismatch = (self._triage_mismatch() or self._results_mismatch(notes) or self._state_mismatch(notes)
                    or self._name_mismatch())
        if mismatch:
            return ChainReport(False, count, None, mismatch, head_id=last_id, anchor="; ".join(anchor_words))
        return ChainReport(True, count, None,
                           f"{count} events, chain intact, triage matches the log, every sealed result and the "
                           "project-wide state match their digests", head=prev_hash, head_id=last_id,
                           notes=notes, anchor="; ".join(anchor_words))

    def results_digest(self, run_id: int) -> str:
        """The current digest of a run (format 2; see :meth:`run_parts`)."""
        return self.run_digest(run_id)

    _V1_COLUMNS = ("plugin", "rule", "severity", "confidence", "title", "message", "path", "line", "end_line",
                   "col", "cwe", "fingerprint", "evidence", "source_status")

    def _results_digest_v1(self, run_id: int) -> str:
        """The digest of projects written before format 2: the run's main fields and its findings."""
        h = _sha256()
        run = self.conn.execute("SELECT plugin, job, target, params, status, summary FROM runs WHERE id=?",
                                (run_id,)).fetchone()
        h.update(_canonical(list(run) if run else None).encode())
        cols = ", ".join(self._V1_COLUMNS)
        for f in self.conn.execute(f"SELECT {cols} FROM findings WHERE run_id=? ORDER BY id", (run_id,)):
            h.update(b"\n")
            h.update(_canonical(list(f)).encode())
        return h.hexdigest()

    def _results_mismatch(self, notes: list[str] | None = None) -> str | None:
        """Each finished run against the digest the log recorded for it last (when it finished, or
        when the workbench amended it); rows that belong to no run."""
        notes = notes if notes is not None else []
        recorded: dict[int, dict] = {}
        for (data,) in self.conn.execute("SELECT data FROM events WHERE kind='run' ORDER BY id"):
            d = _loads(data)
            if "results_sha256" in d or d.get("deleted"):
                recorded[d.get("run_id")] = d
        old_format = []
        for run_id, status in self.conn.execute("SELECT id, status FROM runs ORDER BY id"):
            d = recorded.pop(run_id, None)
            if status in ACTIVE_STATUSES:
                if d is not None and not d.get("deleted"):
                    return (f"run {run_id} is marked {status} but the audit log recorded it {d.get('status')}: "
                            "it was changed outside the workbench")
                continue
            if d is None or d.get("deleted"):
                return f"run {run_id} is marked {status} but the audit log never recorded it finishing"
            if d.get("status") != status:
                return f"run {run_id} is marked {status} but the audit log recorded it {d.get('status')}"
            if d.get("digest_format") == 2:
                parts = self.run_parts(run_id)
                if self.run_digest(run_id, parts) != d["results_sha256"]:
                    where = differing_parts(d.get("parts") or {}, parts)
                    what = f" (in {', '.join(where)})" if where else ""
                    return (f"the results of run {run_id}{what} differ from what the audit log recorded: "
                            "they were changed outside the workbench")
            else:
                old_format.append(run_id)
                if self._results_digest_v1(run_id) != d["results_sha256"]:
                    return (f"the results of run {run_id} (its findings, summary or parameters) differ from what "
                            "the audit log recorded when it finished: they were changed outside the workbench")
        recorded = {k: v for k, v in recorded.items() if not v.get("deleted")}
        if recorded:
            return f"run {min(recorded)} finished according to the audit log but is missing from the project"
        if old_format:
            notes.append(f"older digest format: run(s) {_ids(old_format)} were sealed before every table was "
                         "covered; only their run row's main fields and findings are checked")
        for table in classify_tables(self.conn)["run"]:
            if table == "runs":
                continue
            orphans = self.conn.execute(
                f'SELECT COUNT(*) FROM "{table}" WHERE run_id IS NOT NULL AND run_id <> 0 '
                f'AND run_id NOT IN (SELECT id FROM runs)').fetchone()[0]
            if orphans:
                return (f"{orphans} row(s) of {table} belong to no run: they were added outside the workbench"
                        if table != "findings" else
                        f"{orphans} finding(s) belong to no run: they were added outside the workbench")
        return None

    def _state_mismatch(self, notes: list[str]) -> str | None:
        row = self.conn.execute("SELECT data FROM events WHERE kind IN ('state', 'project') "
                                "AND json_extract(data, '$.project_sha256') IS NOT NULL "
                                "ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            notes.append("older digest format: this project's settings and project-wide tables were never "
                         "sealed (they are, from the next change on)")
            return None
        d = _loads(row[0])
        parts = self.project_state_parts()
        if self.project_state_sha256(parts) == d.get("project_sha256"):
            return None
        where = differing_parts(d.get("parts") or {}, parts)
        what = f" ({', '.join(where)})" if where else ""
        return (f"the project-wide state{what} differs from what the audit log recorded at its last change: "
                "it was changed outside the workbench")

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


def _tolerant_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
