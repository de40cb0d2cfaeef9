"""The monitor: one sampler thread that samples, detects, aggregates, applies rules and writes in batches.

Each tick (every ``interval`` seconds, 1 s by default, 0.1-60 s allowed):

1. sample the machine (sampler.py) and any job series pushed with
   :meth:`Monitor.publish`;
2. run each series' streaming detector (detector.py) and add the sample to
   the 1 s / 1 min / 1 h tiers with its anomaly flag (tiers.py); for the
   alerting series, fold the verdicts into episodes that raise and resolve
   alerts (episodes.py; static bounds during the warm-up);
3. evaluate threshold, trend and outbound rules (rules.py), read the followed
   logs and apply the log rules (logs.py, logrules.py), re-hash the watched
   files the platform reported as changed, and every ``watch_every`` seconds
   sweep them by stat (integrity.py; a full re-hash every ``rehash_every_s``);
4. every ``flush_every`` seconds hand everything new to ``write(batch)`` - the
   caller's writer, which stores it in one transaction. A process killed
   between two flushes loses at most the samples since the last one.

Alerts go to ``on_alert`` as they fire (the CLI prints them) and to their
actions (actions.py); action outcomes come back as events in the next batch.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from workbench.api import Finding, WorkbenchError, fingerprint

from .actions import ActionRunner
from .connections import OutboundClassifier
from .detector import DetectorParams, RobustDetector
from .episodes import ALERT_SERIES, EpisodeParams, EpisodeTracker, alerting
from .rules import DEFAULT_RULES, Alert, OutboundRule, build_rules
from .sampler import SystemProbe, check_interval
from .tiers import DEFAULT_TIERS, TierAggregator

#: Smallest change that counts as unusual, per family of series (percent points, bytes ...):
#: a CPU idling at 0.0% for the warm-up must not make a 1% blip an anomaly.
SPREAD_FLOORS = (
    ("cpu.", 2.0), ("proc.*.cpu_pct", 2.0), ("gpu*.util_pct", 2.0), ("mem.used_pct", 0.5),
    ("swap.", 0.5), ("load.", 0.1), ("gpu*.temp_c", 1.0), ("gpu*.power_w", 2.0), ("gpu*.mem_pct", 0.5),
    ("net.connections", 1.0), ("net.outbound", 0.5), ("proc.*.threads", 1.0),
    ("disk.*_iops", 5.0), ("disk.", float(1 << 20)), ("net.", 64 * 1024.0), ("mem.", 16 << 20), ("proc.*.rss", 4 << 20),
)


def detector_params_for(series: str, base: DetectorParams | None = None) -> DetectorParams:
    import fnmatch
    from dataclasses import replace

    base = base or DetectorParams()
    for prefix, floor in SPREAD_FLOORS:
        pat = prefix if "*" in prefix else prefix + "*"
        if fnmatch.fnmatchcase(series, pat):
            return replace(base, min_spread_abs=max(base.min_spread_abs, floor))
    return base


#: Batches kept for a retry while the writer fails (10 minutes at the default 5 s flush).
MAX_PENDING_BATCHES = 120


@dataclass
class Batch:
    seq: int
    ts: float
    tiers: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    log_hits: list = field(default_factory=list)
    events: list = field(default_factory=list)
    log_states: dict = field(default_factory=dict)
    retention: dict = field(default_factory=dict)
    points: list = field(default_factory=list)      # raw (series, ts, value) since the last flush
    last_sample_ts: float | None = None
    n_samples: int = 0                               # ticks since the start, this batch's included


class Monitor:
    def __init__(self, write, *, interval: float = 1.0, flush_every: float = 5.0, pids=(), logs=(),
                 log_rules=None, log_states: dict | None = None, log_max_line: int = 64 * 1024,
                 watch=(), watch_every: float = 5.0, rules=None, tiers=DEFAULT_TIERS, detect: bool = True,
                 detector_params: DetectorParams | None = None, notify=None, cancel_job=None, pause_job=None,
                 on_alert=None, probe=None, clock=time.time, gpu: bool = True, keep_points: bool = False,
                 follow_jobs: bool = False, warmup: int | None = None, episode_params: EpisodeParams | None = None,
                 alert_series=ALERT_SERIES, rehash_every_s: float = 300.0):
        from .integrity import FileWatcher
        from .logs import LogFollower

        self.write = write
        self.pids = {int(p) for p in pids}
        self.keep_points = keep_points
        self.interval = check_interval(interval)
        if flush_every <= 0:
            raise ValueError(f"flush interval must be > 0 s, got {flush_every}")
        self.flush_every = flush_every
        self.clock = clock
        self.rules = build_rules(DEFAULT_RULES if rules is None else rules)
        self.outbound_rules = [r for r in self.rules if isinstance(r, OutboundRule)]
        ignore = next((r.ignore_networks for r in self.outbound_rules if r.ignore_networks is not None), None)
        classifier = OutboundClassifier(ignore) if ignore is not None else None
        self.probe = probe if probe is not None else SystemProbe(pids=pids, gpu=gpu, classifier=classifier,
                                                                     follow_workbench_jobs=follow_jobs)
        self.tiers = TierAggregator(tiers)
        self.detect = detect
        if warmup is not None:
            from dataclasses import replace

            detector_params = replace(detector_params or DetectorParams(), warmup=int(warmup))
        self.detector_params = detector_params
        self.warmup = (detector_params or DetectorParams()).warmup
        self.detectors: dict[str, RobustDetector] = {}
        self.episode_params = episode_params or EpisodeParams(
            threshold=(detector_params or DetectorParams()).threshold)
        self.alert_series = tuple(alert_series)
        self.episodes: dict[str, EpisodeTracker | None] = {}   # None: a series that never alerts
        self.alert_log: list[dict] = []                       # every alert raised, for the summary and M
        self.on_alert = on_alert
        self.log_rules = log_rules
        states = log_states or {}
        self.followers = [LogFollower(p, max_line=log_max_line, state=states.get(os.path.abspath(p)))
                          for p in logs]
        self.watcher = FileWatcher(watch, rehash_every_s=rehash_every_s) if watch else None
        self.watch_every = watch_every
        self._last_watch = None
        self.actions = ActionRunner(record=self._record_outcome, notify=notify, cancel_job=cancel_job,
                                    pause_job=pause_job)
        self._lock = threading.Lock()
        self._pending = Batch(0, 0.0)
        self._published: dict[str, float] = {}
        self._seq = 0
        self.samples = 0
        self.alerts_fired = 0
        self.last_sample_ts: float | None = None
        self._failed: list[Batch] = []
        self.write_errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._event("status", f"GPU: {getattr(self.probe, 'gpu_status', 'n/a')}")

    # ------------------------------------------------------------------ public
    def publish(self, series: str, value: float) -> None:
        """A job's own series (loss, accuracy ...), taken with the next tick."""
        with self._lock:
            self._published[series] = float(value)

    def tick(self, ts: float | None = None) -> dict[str, float]:
        ts = self.clock() if ts is None else ts
        values = self.probe.sample()
        with self._lock:
            values.update(self._published)
            self._published.clear()
        for pid in getattr(self.probe, "gone", []):
            self._event("process_exit", f"process {pid} exited", {"pid": pid})
            if pid in self.pids:
                # a process the user asked to follow (the service itself) is gone: availability.
                # The job workers the tab follows on its own come and go normally.
                self._raise(Alert("process_exit", "availability", "firing", "HIGH", ts,
                                  "Followed process exited", f"process {pid} exited while being monitored",
                                  f"proc.{pid}", None, {"pid": pid, "concern": "availability"},
                                  [{"type": "notify"}]))
        if getattr(self.probe, "gone", None):
            self.probe.gone.clear()
        for series, v in values.items():
            anomaly = False
            if self.detect:
                det = self.detectors.get(series)
                if det is None:
                    det = self.detectors[series] = RobustDetector(detector_params_for(series, self.detector_params))
                verdict = det.update(ts, v)
                anomaly = verdict.anomaly
                tracker = self.episodes.get(series, False)
                if tracker is False:
                    tracker = self.episodes[series] = (EpisodeTracker(series, self.episode_params)
                                                       if alerting(series, self.alert_series) else None)
                if tracker is not None:
                    for alert in tracker.update(ts, v, verdict, self.interval):
                        self._raise(alert)
            self.tiers.add(series, ts, v, anomaly)
        if self.keep_points:
            with self._lock:
                self._pending.points.extend((series, ts, v) for series, v in values.items())
        for rule in self.rules:
            for alert in rule.evaluate(ts, values):
                self._raise(alert)
        if self.outbound_rules and "net.outbound" in values:
            from .connections import owner_of

            for rule in self.outbound_rules:
                for alert in rule.evaluate_connections(ts, self.probe.last_outbound, owner_of):
                    self._raise(alert)
        self._follow_logs(ts)
        if self.watcher is not None:
            # changes the platform reported are hashed at once; the stat sweep and the full
            # re-hash run on their own schedules (integrity.py)
            sweep = self._last_watch is None or ts - self._last_watch >= self.watch_every
            if sweep:
                self._last_watch = ts
            for alert in self.watcher.check(ts, sweep=sweep):
                self._raise(alert)
        self.samples += 1
        self.last_sample_ts = ts
        return values

    def flush(self) -> Batch:
        """Hand everything new to the writer in one batch (also when nothing is new: it records the flush)."""
        now = self.clock()
        with self._lock:
            batch, self._pending = self._pending, Batch(0, 0.0)
        self._seq += 1
        batch.seq, batch.ts = self._seq, now
        batch.tiers = self.tiers.take_changed()
        batch.retention = self.tiers.cutoffs(now)
        batch.log_states = {os.path.abspath(f.path): f.state() for f in self.followers}
        batch.last_sample_ts, batch.n_samples = self.last_sample_ts, self.samples
        todo = self._failed + [batch]
        for i, b in enumerate(todo):
            try:
                self.write(b)
            except Exception as exc:  # noqa: BLE001 - keep the data and retry at the next flush
                if not self.write_errors or self.write_errors[-1] != f"{type(exc).__name__}: {exc}":
                    self.write_errors.append(f"{type(exc).__name__}: {exc}")
                self._failed = todo[i:]
                if len(self._failed) > MAX_PENDING_BATCHES:  # a store that stays unwritable: bound the memory
                    self._failed = self._failed[-MAX_PENDING_BATCHES:]
                break
        else:
            self._failed = []
        return batch

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("monitor already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="monitor-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.actions.wait(timeout)
        self.actions.close()
        self.flush()  # the action outcomes that came in after the last tick
        for f in self.followers:
            f.close()
        if self.watcher is not None:
            self.watcher.close()
        self.probe.close()
        guarded = sys.modules.get(__package__ + ".guarded_re")
        if guarded is not None:
            guarded.shutdown()  # the re fallback's helper process, when one was started

    def run_here(self, duration: float | None, should_stop=None) -> None:
        """Sample in the calling thread (a job's, which owns the project connection) until
        ``duration`` passes or ``should_stop()`` is true; then flush and close."""
        start = time.monotonic()
        try:
            self._loop(until=None if duration is None else start + duration, should_stop=should_stop)
        finally:
            self.stop()

    def run_for(self, duration: float | None, should_stop=None) -> None:
        """Sample in the background until ``duration`` passes or ``should_stop()`` is true."""
        self.start()
        end = None if duration is None else time.monotonic() + duration
        try:
            while not self._stop.is_set():
                if end is not None and time.monotonic() >= end:
                    break
                if should_stop is not None and should_stop():
                    break
                # with nothing to poll, sleep until the end instead of waking ten times a second
                step = 0.1 if should_stop is not None or end is None else end - time.monotonic()
                if end is not None:
                    step = min(step, end - time.monotonic())
                self._stop.wait(max(0.0, step))
        finally:
            self.stop()

    # ----------------------------------------------------------------- private
    def _loop(self, until: float | None = None, should_stop=None) -> None:
        next_tick = time.monotonic()
        last_flush = time.monotonic()
        while not self._stop.is_set():
            if until is not None and time.monotonic() >= until:
                break
            if should_stop is not None and should_stop():
                break
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - one bad tick must not end the recording
                self._event("error", f"sampling failed: {type(exc).__name__}: {exc}")
            if time.monotonic() - last_flush >= self.flush_every:
                last_flush = time.monotonic()
                self.flush()
            next_tick += self.interval
            delay = next_tick - time.monotonic()
            if delay < 0:  # fell behind (suspend, slow disk): skip the missed ticks, no burst of catch-up
                next_tick = time.monotonic()
                delay = 0
            if until is not None:
                delay = min(delay, max(0.0, until - time.monotonic()))
            # in slices when someone may ask to stop: the job host gives a cancelled worker 3 s
            while delay > 0 and not self._stop.is_set():
                step = min(delay, 0.25) if should_stop is not None else delay
                self._stop.wait(step)
                delay -= step
                if should_stop is not None and should_stop():
                    break

    def _follow_logs(self, ts: float) -> None:
        for follower in self.followers:
            for line in follower.poll():
                if self.log_rules is None:
                    continue
                hits, alerts = self.log_rules.feed(ts, follower.path, line.offset, line.text)
                with self._lock:
                    self._pending.log_hits.extend(hits)
                for alert in alerts:
                    alert.data["truncated"] = line.truncated
                    alert.data["invalid_utf8"] = line.invalid_utf8
                    self._raise(alert)
            if self.log_rules is not None:
                for msg in self.log_rules.timeouts():
                    self._event("log_rule_timeout", msg, {"path": follower.path})
            for err in follower.errors:
                self._event("log_error", err, {"path": follower.path})
            follower.errors.clear()
        if self.log_rules is not None and self.samples % 30 == 0:
            self.log_rules.expire(ts)

    @property
    def warming_up(self) -> bool:
        return self.detect and self.samples < self.warmup

    def _raise(self, alert: Alert) -> None:
        self.alerts_fired += alert.state == "firing"
        d = alert.as_dict()
        with self._lock:
            self._pending.alerts.append(d)
            self.alert_log.append(d)
        if self.on_alert is not None:
            try:
                self.on_alert(alert)
            except Exception as exc:  # noqa: BLE001
                print(f"monitor: alert callback failed: {exc}", file=sys.stderr)
        if alert.state == "firing" and alert.actions:
            self.actions.run(alert)

    def _record_outcome(self, outcome: dict) -> None:
        ok = "ok" if outcome["ok"] else "FAILED"
        self._event("action", f"{outcome['action']} for alert {outcome['rule']}: {ok} ({outcome['detail']})",
                    outcome)

    def _event(self, kind: str, message: str, data: dict | None = None) -> None:
        with self._lock:
            self._pending.events.append({"ts": self.clock(), "kind": kind, "message": message, "data": data or {}})


# --------------------------------------------------------------------- the job in a project
# Each flush is one transaction in the project: tier rows and log-rule hits in the plugin's tables, raw
# samples in the core ``metrics`` table (plugin ``monitor``, this run, one series per metric), every alert
# as an event in the audit log and, when it fires, as a finding; action outcomes and the monitor's own
# notices as events. A run killed with SIGKILL keeps everything up to its last flush.
SEVERITY_CONFIDENCE = {"threshold": "HIGH", "trend": "MEDIUM", "outbound": "HIGH", "log": "MEDIUM",
                       "integrity": "HIGH", "anomaly": "LOW", "availability": "HIGH"}


def alert_finding(alert: dict) -> Finding:
    data = alert.get("data") or {}
    where = data.get("path") or alert.get("series") or ""
    f = Finding(plugin="monitor", rule=alert["rule"], severity=alert["severity"],
                confidence=SEVERITY_CONFIDENCE.get(alert["kind"], "MEDIUM"), title=alert["title"],
                message=alert["message"], path=data.get("path"), evidence={**alert, "data": data})
    # every alert is its own event: its identity is its id, never a line number
    f.fingerprint = fingerprint(f"monitor.{alert['rule']}", str(where), alert["id"], 0)
    return f


class ProjectWriter:
    """``write(batch)`` into a project through the plugin store, in one transaction."""

    def __init__(self, store, run_id: int, raw_retention: float | None = None, clock=time.time):
        self.store = store
        self.run_id = run_id
        self.raw_retention = raw_retention
        self.clock = clock
        self.pruned = 0

    def write(self, batch) -> None:
        from .store import prune_raw, write_batch

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
    """The ``monitor`` job: record until the duration ends or the user stops it."""
    from .logrules import LogRuleError, load_rules, shipped_rules
    from .score import _weights, concern_terms, health_score, terms_text
    from .store import stored_rules

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
