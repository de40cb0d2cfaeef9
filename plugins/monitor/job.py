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
                       "integrity": "HIGH", "anomaly": "LOW", "availability": "HIGH"}


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


def alert_line(alert) -> str:
    """How an alert reads in the job log and the CLI: one line."""
    if alert.state == "resolved":
        return f"resolved: [{alert.severity}] {alert.title}: {alert.message}"
    return f"ALERT [{alert.severity}] {alert.title}: {alert.message}"


def run(params, ctx) -> dict:
    from .engine import Monitor
    from .logrules import LogRuleError, load_rules, shipped_rules
    from .report import _weights
    from .score import concern_terms, health_score, terms_text

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
                      watch_every=params.watch_every, rehash_every_s=params.rehash_every, warmup=params.warmup,
                      rules=rules, gpu=params.gpu, keep_points=True, follow_jobs=params.follow_jobs,
                      # every alert is already a line of the job log (on_alert): notify has nothing to add
                      notify=lambda alert: "shown in the job log",
                      cancel_job=_signal_pid(sigterm) if sigterm else None,
                      pause_job=_signal_pid(sigstop) if sigstop else None,
                      on_alert=lambda alert: ctx.log(alert_line(alert)))
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from None
    ctx.log(f"monitoring {params.target} every {params.interval:g} s; GPU: {mon.probe.gpu_status}")
    warm_s = params.warmup * params.interval
    ctx.log(f"warm-up: the first {params.warmup} samples of each series ({warm_s:g} s) teach the detector the "
            f"normal level; until then only static bounds raise anomaly alerts")
    if mon.watcher is not None:
        ctx.log(f"file integrity: {len(mon.watcher.known)} files, {mon.watcher.mode}")
    started = time.monotonic()
    duration = params.duration
    warm = [True]

    def should_stop() -> bool:
        elapsed = time.monotonic() - started
        shown = round(min(elapsed, duration) if duration else elapsed, 1)
        if warm[0] and not mon.warming_up:
            warm[0] = False
            ctx.log(f"warm-up done after {mon.samples} samples: the detector is armed")
        note = f" (warm-up {mon.samples}/{params.warmup})" if warm[0] else ""
        ctx.progress(shown, duration, f"{mon.samples} samples{note}, {mon.alerts_fired} alerts")
        return ctx.cancelled

    ended = "duration" if duration else "stopped"
    try:
        mon.run_here(duration, should_stop=should_stop)
    except KeyboardInterrupt:
        # Ctrl+C is how a headless recording without --duration ends: the last batch is
        # already flushed (run_here's finally), so this is a normal end with a summary.
        ended = "interrupted by Ctrl+C"
    if ctx.cancelled:
        # Stop is how a recording ends (always so for "until stopped"): everything up to now
        # is flushed, so the run is done and scored, not cancelled.
        ended = "stopped by the user"
    rates = {s: d.anomaly_rate for s, d in mon.detectors.items() if d.samples}
    end_ts = mon.last_sample_ts or time.time()
    terms = concern_terms(mon.alert_log, end_ts, _weights(store))
    m = health_score(terms)
    fired = [a for a in mon.alert_log if a["state"] == "firing"]
    ctx.log(f"health score M = {'n/a' if m is None else f'{m:.1f}'}: {terms_text(terms)}")
    return {
        "target": params.target, "samples": mon.samples, "seconds": round(time.monotonic() - started, 3),
        "interval": params.interval, "series": len(rates), "alerts": mon.alerts_fired,
        "gpu": mon.probe.gpu_status, "health_score": None if m is None else round(m, 2),
        "health_terms": terms,
        "warmup_samples": params.warmup, "warmup_seconds": warm_s,
        "anomaly_rates": {s: round(r, 4) for s, r in sorted(rates.items()) if r > 0},
        "alert_list": [{k: a[k] for k in ("ts", "rule", "kind", "severity", "title", "message", "series")}
                       for a in fired[:500]],
        "alert_rules": sorted({a["rule"] for a in fired}),
        "integrity_mode": mon.watcher.mode if mon.watcher is not None else None,
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
    p.add_argument("--watch", action="append", default=[],
                   help="file, or folder watched recursively, by SHA-256 (repeatable)")
    p.add_argument("--watch-every", type=float, default=5.0,
                   help="seconds between stat sweeps of the watched files (default 5; changes the platform "
                        "reports are hashed at once)")
    p.add_argument("--rehash-every", type=float, default=300.0,
                   help="seconds between full re-hashes of every watched file (default 300)")
    p.add_argument("--warmup", type=int, default=30,
                   help="samples per series the anomaly detector learns from before it alerts (default 30; "
                        "static bounds apply during the warm-up)")
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
                               rehash_every=args.rehash_every, warmup=args.warmup, pids=args.pid,
                               gpu=not args.no_gpu, raw_retention=args.raw_retention)
    except (ValueError, WorkbenchError) as exc:
        raise CliError(str(exc)) from None
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="s", summary_json=args.summary_json,
                                on_log=lambda msg: print(msg, flush=True))
    if not isinstance(summary, dict):   # failed: run_job has reported why
        return 1
    from .score import terms_text

    score = summary.get("health_score")
    print(f"{summary['samples']} samples of {summary['series']} series, {summary['alerts']} alerts, "
          f"health score {'n/a' if score is None else f'{score:.1f}'}")
    if summary.get("alert_list"):
        print("alerts: " + ", ".join(f"{a['rule']} [{a['severity']}]" + (f" {a['series']}" if a["series"] else "")
                                     for a in summary["alert_list"][:40]))
    print(f"M terms λ·(1−u): {terms_text(summary['health_terms'])}")
    return 0
