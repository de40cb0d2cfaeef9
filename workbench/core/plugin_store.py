"""What a plugin sees of a project: its own tables, its runs, findings, metrics and artifacts.

Jobs get it as ``ctx.store``; report sections, the score and the tab get one
for their plugin too. Runs and findings come back as typed records
(:class:`~workbench.core.stored.RunRecord`, :class:`~workbench.core.stored.StoredFinding`).
Everything it writes is scoped to the plugin id, and every write goes through
the project's one transaction helper.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Iterable, Sequence

from workbench.core.findings import OPEN_SQL, Finding, FindingError
from workbench.core.stored import RunRecord, StoredFinding


_READS = re.compile(r"\s*(SELECT|PRAGMA|EXPLAIN|VALUES)\b", re.IGNORECASE)


class PluginStore:
    def __init__(self, project, plugin_id: str):
        self.project = project
        self.plugin_id = plugin_id

    # ------------------------------------------------------------- the file
    @property
    def path(self):
        return self.project.path

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def readonly(self) -> bool:
        return self.project.readonly

    def of(self, plugin_id: str) -> "PluginStore":
        """Another plugin's view of the same project, to read its runs, findings and metrics
        (cross-pillar views: findings on lines no test executes). Write only through your own."""
        return PluginStore(self.project, plugin_id)

    def table(self, name: str) -> str:
        """The full name of one of this plugin's tables: ``table("runs")`` → ``"code_audit_runs"``."""
        return f"{self.plugin_id}_{name}"

    def transaction(self):
        """One write transaction; nested calls join the outer one. Use it around batches."""
        return self.project.transaction()

    def execute(self, sql: str, args: Sequence = ()) -> sqlite3.Cursor:
        if self.project.readonly or self.project._in_transaction or _READS.match(sql):
            return self.project.conn.execute(sql, args)
        # A write outside a transaction gets one: its commit seals what it changed in the audit log.
        with self.transaction():
            return self.project.conn.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> sqlite3.Cursor:
        with self.transaction():
            return self.project.conn.executemany(sql, rows)

    def query(self, sql: str, args: Sequence = ()) -> list[dict]:
        return [dict(r) for r in self.project.conn.execute(sql, args)]

    def query_one(self, sql: str, args: Sequence = ()) -> dict | None:
        row = self.project.conn.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    # ----------------------------------------------------------------- runs
    def run(self, run_id: int) -> RunRecord | None:
        """One of this plugin's runs (None for another plugin's, or no such run)."""
        run = self.project.run_record(run_id)
        return run if run is not None and run.plugin == self.plugin_id else None

    def runs(self, *, job: str | None = None, status: str | None = "done") -> list[RunRecord]:
        """This plugin's runs, oldest first (finished ones by default; ``status=None``: all)."""
        return [r for r in self.project.run_records(plugin=self.plugin_id, status=status)
                if job is None or r.job == job]

    def active_runs(self, *, every_plugin: bool = False) -> list[RunRecord]:
        """Runs queued or running now: this plugin's, or every plugin's (the monitor watches them)."""
        plugin = None if every_plugin else self.plugin_id
        return [r for status in ("queued", "running") for r in self.project.run_records(plugin=plugin, status=status)]

    def latest_runs(self, job: str | None = None) -> list[RunRecord]:
        """The latest finished run of each target: what the score, counts and report cover."""
        ids = set(self.project.latest_run_ids(self.plugin_id))
        return [r for r in self.runs(job=job) if r.id in ids]

    def latest_runs_of(self, jobs) -> list[RunRecord]:
        """:meth:`latest_runs` of each of *jobs* in turn (job by job), read once: a scorer of several
        jobs runs at every Overview refresh."""
        latest = self.latest_runs()
        return [r for job in jobs for r in latest if r.job == job]

    def latest_run(self, target: str | None = None, job: str | None = None) -> RunRecord | None:
        """The latest finished run of *target* (of any target when None)."""
        runs = [r for r in self.runs(job=job) if target is None or r.target == target]
        return runs[-1] if runs else None

    def previous_run(self, run_id: int) -> RunRecord | None:
        """The finished run of the same job and target before *run_id*."""
        run = self.project.run(run_id)
        if run is None:
            return None
        previous = self.project.previous_run(self.plugin_id, run["job"], run["target"], run_id)
        return RunRecord.from_row(previous) if previous is not None else None

    # ------------------------------------------------------------- findings
    def add_findings(self, run_id: int, findings: Iterable[Finding]) -> int:
        """Store findings of run *run_id*; :class:`FindingError` names a finding built wrong
        (another plugin's, or evidence that is not a dict of JSON values)."""
        findings = list(findings)
        for f in findings:
            if f.plugin != self.plugin_id:
                raise FindingError(f"{f.describe()}: stored through {self.plugin_id!r}'s store")
        return self.project.add_findings(run_id, findings)

    def findings(self, run_id: int | None = None, *, latest: bool = False,
                 open_only: bool = False) -> list[StoredFinding]:
        """Findings with triage joined in: of one run, of the latest run of every target
        (``latest=True``), or of all runs."""
        if latest:
            rows = [f for r in self.latest_runs() for f in self.project.finding_records(r.id, self.plugin_id)]
        else:
            rows = self.project.finding_records(run_id, self.plugin_id)
        return [f for f in rows if f.is_open] if open_only else rows

    def finding(self, finding_id: int) -> StoredFinding | None:
        """One of this plugin's stored findings by its id (``StoredFinding.id``)."""
        row = self.project.finding_record(finding_id)
        return row if row is not None and row.plugin == self.plugin_id else None

    def set_triage(self, fingerprints: Sequence[str], status: str, justification: str = "") -> int:
        """Triage this plugin's findings by fingerprint; logged in the audit log."""
        return self.project.set_triage(list(fingerprints), status, justification, plugin=self.plugin_id)

    def open_counts(self) -> dict[str, int]:
        """{severity: open findings} over the latest run of every target."""
        ids = [r.id for r in self.latest_runs()]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.project.conn.execute(
            f"SELECT f.severity, COUNT(*) FROM findings f LEFT JOIN triage t USING (fingerprint) "
            f"WHERE f.run_id IN ({marks}) AND {OPEN_SQL} GROUP BY f.severity", ids)
        return {r[0]: r[1] for r in rows}

    # -------------------------------------------------------------- metrics
    def add_metrics(self, series: str, samples: Iterable[tuple[float, float]], *, run_id: int | None = None) -> int:
        return self.project.add_metrics(series, samples, plugin=self.plugin_id, run_id=run_id)

    def metrics(self, series: str, *, run_id: int | None = None, since: float | None = None,
                until: float | None = None, plugin: str | None = None) -> list[tuple[float, float]]:
        """Samples of a series, by time; *plugin* reads another plugin's series (the monitor
        draws the robustness runs' curves live)."""
        return self.project.metrics(series, since, until=until, plugin=plugin or self.plugin_id, run_id=run_id)

    def metric_series(self, run_id: int | None = None, plugin: str | None = None) -> list[str]:
        return self.project.metric_series(plugin or self.plugin_id, run_id)

    def metric_sources(self, since: float | None = None) -> list[tuple[str, int, str]]:
        """(plugin, run id, series) of every series with samples since *since*, across plugins."""
        sql, args = "SELECT DISTINCT plugin, run_id, series FROM metrics", []
        if since is not None:
            sql += " WHERE ts >= ?"
            args.append(since)
        return [tuple(r) for r in self.project.conn.execute(sql + " ORDER BY plugin, run_id, series", args)]

    # -------------------------------------------------------------- secrets
    def get_secret(self, name: str) -> str | None:
        """A secret of this project from the keyring (never stored in the project)."""
        from workbench.core import secrets

        return secrets.get_secret(self.project, name)

    def set_secret(self, name: str, value: str) -> str:
        """Store a secret (a key the plugin generated) in the OS keyring, or the encrypted file the
        user chose; only its name goes into the project. Returns where it went."""
        from workbench.core import secrets

        return secrets.set_secret(self.project, name, value)

    # ------------------------------------------------------------ artifacts
    def add_artifact(self, kind: str, name: str, data: bytes, *, run_id: int | None = None) -> int:
        return self.project.add_artifact(kind, name, data, run_id=run_id, plugin=self.plugin_id)

    def artifacts(self, run_id: int | None = None) -> list[dict]:
        return [a for a in self.project.artifacts(run_id) if a["plugin"] == self.plugin_id]

    # --------------------------------------------------------------- events
    def log_event(self, kind: str, message: str, data: dict | None = None) -> int:
        return self.project.log_event(kind, message, self.plugin_id, data)
