"""The ``monitor`` job and the ``workbench monitor`` command: record into a project.

Each flush is one transaction in the project: tier rows and log-rule hits in
the plugin's tables, raw samples in the core ``metrics`` table (plugin
``monitor``, this run, one series per metric), every alert as an event in the
audit log and, when it fires, as a finding; action outcomes and the monitor's
own notices (GPU status, a followed process exiting) as events. A run killed
with SIGKILL keeps everything up to its last flush; the project marks it
interrupted the next time it is opened.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import defaultdict

from workbench.api import CliError, Finding, WorkbenchError, fingerprint, open_project, run_job

from .rules import DEFAULT_RULES, build_rules

SEVERITY_CONFIDENCE = {"threshold": "HIGH", "trend": "MEDIUM", "outbound": "HIGH", "log": "MEDIUM",
                       "integrity": "HIGH", "anomaly": "LOW"}


def stored_rules(store) -> list[dict]:
    rows = store.query("SELECT spec FROM monitor_rules ORDER BY rowid")
    return [json.loads(r["spec"]) for r in rows] if rows else [dict(r) for r in DEFAULT_RULES]


def save_rules(store, specs: list[dict]) -> None:
    """Replace the project's metric rules (checked first: a bad rule changes nothing)."""
    build_rules(specs, "rules")
    with store.transaction():
        store.execute("DELETE FROM monitor_rules")
        store.executemany("INSERT INTO monitor_rules (id, spec) VALUES (?, ?)",
                          [(d["id"], json.dumps(d, sort_keys=True)) for d in specs])


def alert_finding(alert: dict) -> Finding:
    data = alert.get("data") or {}
    where = data.get("path") or alert.get("series") or ""
    f = Finding(plugin="monitor", rule=alert["rule"], severity=alert["severity"],
                confidence=SEVERITY_CONFIDENCE.get(alert["kind"], "MEDIUM"), title=alert["title"],
                message=alert["message"], path=data.get("path"), evidence={**alert, "data": data})
    # every alert is its own event: its identity is its id, never a line number
    f.fingerprint = fingerprint(f"monitor.{alert['rule']}", str(where), alert["id"], 0)
    return f


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


class ProjectWriter:
    """``write(batch)`` into a project through the plugin store, in one transaction."""

    def __init__(self, store, run_id: int, raw_retention: float | None = None, clock=time.time):
        self.store = store
        self.run_id = run_id
        self.raw_retention = raw_retention
        self.clock = clock
        self.pruned = 0

    def write(self, batch) -> None:
        from .store import write_batch

        store = self.store
        points = defaultdict(list)
        for series, ts, v in batch.points:
            points[series].append((ts, v))
        with store.transaction():
            write_batch(store.execute, store.executemany, batch, self.run_id, events=False)
            for series, pts in points.items():
                store.add_metrics(series, pts, run_id=self.run_id)
            firing = [a for a in batch.alerts if a["state"] == "firing"]
            if firing:
                store.add_findings(self.run_id, [alert_finding(a) for a in firing])
            for a in batch.alerts:
                store.log_event("monitor.alert", f"[{a['severity']}] {a['state']}: {a['title']}: {a['message']}",
                                {k: a[k] for k in ("id", "rule", "kind", "state", "series", "value", "data")})
            for e in batch.events:
                store.log_event(f"monitor.{e['kind']}", e["message"], e.get("data"))
            if self.raw_retention is not None and points:
                self.pruned += prune_raw(store, points, self.clock() - self.raw_retention)


def _signal_pid(sig):
    """The job's cancel/pause handler: ``{"type": "cancel_job", "job": PID}`` sends SIGTERM (pause:
    SIGSTOP) to that process - a workbench job's worker, or any process of the user's."""
    def handler(job, alert):
        try:
            pid = int(job)
        except (TypeError, ValueError):
            return f"job {job!r} is not a process id this monitor can reach"
        os.kill(pid, sig)
        return True
    return handler


def run(params, ctx) -> dict:
    from .engine import Monitor
    from .logrules import LogRuleError, load_rules, shipped_rules
    from .score import health_score

    store = ctx.store
    try:
        rules = params.rules if params.rules is not None else stored_rules(store)
        log_rules = (load_rules(params.log_rules) if params.log_rules else shipped_rules()) if params.logs else None
    except (LogRuleError, ValueError) as exc:
        raise WorkbenchError(str(exc)) from None
    states = {r["path"]: json.loads(r["state"]) for r in store.query("SELECT path, state FROM monitor_log_state")}
    writer = ProjectWriter(store, ctx.run_id, params.raw_retention)
    sigterm = getattr(signal, "SIGTERM", None)
    sigstop = getattr(signal, "SIGSTOP", None)
    try:
        mon = Monitor(writer.write, interval=params.interval, flush_every=params.flush_every, pids=params.pids,
                      logs=params.logs, log_rules=log_rules, log_states=states, watch=params.watch,
                      watch_every=params.watch_every,
                      rules=rules, gpu=params.gpu, keep_points=True, follow_jobs=params.follow_jobs,
                      notify=lambda alert: ctx.log(f"ALERT [{alert.severity}] {alert.title}: {alert.message}"),
                      cancel_job=_signal_pid(sigterm) if sigterm else None,
                      pause_job=_signal_pid(sigstop) if sigstop else None,
                      on_alert=lambda alert: ctx.log(f"{alert.state}: [{alert.severity}] {alert.title}: "
                                                     f"{alert.message}") if alert.state == "resolved" else None)
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from None
    ctx.log(f"monitoring {params.target} every {params.interval:g} s; GPU: {mon.probe.gpu_status}")
    started = time.monotonic()
    duration = params.duration

    def should_stop() -> bool:
        elapsed = time.monotonic() - started
        shown = round(min(elapsed, duration) if duration else elapsed, 1)
        ctx.progress(shown, duration, f"{mon.samples} samples")
        return ctx.cancelled

    ended = "duration" if duration else "stopped"
    try:
        mon.run_here(duration, should_stop=should_stop)
    except KeyboardInterrupt:
        # Ctrl+C is how a headless recording without --duration ends: the last batch is
        # already flushed (run_here's finally), so this is a normal end with a summary.
        ended = "interrupted by Ctrl+C"
    ctx.check_cancelled()
    rates = {s: d.anomaly_rate for s, d in mon.detectors.items() if d.samples}
    return {
        "target": params.target, "samples": mon.samples, "seconds": round(time.monotonic() - started, 3),
        "interval": params.interval, "series": len(rates), "alerts": mon.alerts_fired,
        "gpu": mon.probe.gpu_status, "health_score": health_score(rates),
        "logs": list(params.logs), "watched": list(params.watch), "write_errors": mon.write_errors,
        "raw_pruned": writer.pruned,
        "ended": ended,
    }


# --------------------------------------------------------------------- CLI
def add_cli(plugin, cli) -> None:
    p = cli.command("monitor", "record system, GPU and log metrics with alerts into a project (headless)",
                    runs_job=True)
    p.add_argument("-p", "--project", required=True, help="project file, created if missing")
    p.add_argument("--duration", type=float, default=None, help="seconds to record (default: until Ctrl+C)")
    p.add_argument("--interval", type=float, default=1.0, help="sampling interval, 0.1-60 s (default 1)")
    p.add_argument("--flush", type=float, default=5.0, help="seconds between writes to the project (default 5)")
    p.add_argument("--log", action="append", default=[], help="log file to follow (repeatable)")
    p.add_argument("--log-rules", help="log rules YAML (default: the shipped inference-service rules)")
    p.add_argument("--watch", action="append", default=[], help="file to watch by SHA-256 (repeatable)")
    p.add_argument("--watch-every", type=float, default=5.0, help="seconds between file checks (default 5)")
    p.add_argument("--pid", type=int, action="append", default=[], help="process to follow (repeatable)")
    p.add_argument("--no-gpu", action="store_true", help="do not sample GPUs")
    p.add_argument("--raw-retention", type=float, default=None,
                   help="seconds of raw samples to keep (older ones deleted; the 1 min and 1 h tiers stay)")
    p.set_defaults(func=lambda args: _cmd_monitor(plugin, args))


def _cmd_monitor(plugin, args) -> int:
    try:
        spec = plugin.job_spec("monitor", duration=args.duration, interval=args.interval, flush_every=args.flush,
                               logs=[os.path.abspath(p) for p in args.log],
                               log_rules=os.path.abspath(args.log_rules) if args.log_rules else None,
                               watch=[os.path.abspath(p) for p in args.watch], watch_every=args.watch_every,
                               pids=args.pid,
                               gpu=not args.no_gpu, raw_retention=args.raw_retention)
    except (ValueError, WorkbenchError) as exc:
        raise CliError(str(exc)) from None
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="s", summary_json=args.summary_json,
                                on_log=lambda msg: print(msg, flush=True))
    score = summary.get("health_score")
    print(f"{summary['samples']} samples of {summary['series']} series, {summary['alerts']} alerts, "
          f"health score {'n/a' if score is None else f'{score:.1f}'}")
    return 0
