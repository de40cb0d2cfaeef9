"""Record into a plain SQLite file, headless: ``python -m workbench_plugins.monitor.record --db FILE``.

The same engine as the ``workbench monitor`` command, without a project (for
a quick capture, and for the kill test). Alerts are printed as they fire,
one JSON object per line on stdout with ``--json``. With ``--report-flushes``
a line ``flushed SEQ SAMPLES LAST_TS`` is printed after each committed batch.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys


def add_recording_options(p: argparse.ArgumentParser, *, flush_into: str = "the file") -> None:
    """The recording options of ``workbench monitor`` and of this module, declared once for both."""
    p.add_argument("--duration", type=float, default=None, help="seconds to record (default: until Ctrl+C)")
    p.add_argument("--interval", type=float, default=1.0, help="sampling interval, 0.1-60 s (default 1)")
    p.add_argument("--flush", type=float, default=5.0, help=f"seconds between writes to {flush_into} (default 5)")
    p.add_argument("--log", action="append", default=[], help="log file to follow (repeatable)")
    # --rules was this module's name for it; both spellings work in both commands
    p.add_argument("--log-rules", "--rules", dest="log_rules",
                   help="log rules YAML (default: the shipped inference-service rules)")
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m workbench_plugins.monitor.record", description=__doc__)
    p.add_argument("--db", required=True, help="SQLite file to record into (created if missing)")
    add_recording_options(p)
    p.add_argument("--json", action="store_true", help="print alerts as JSON lines")
    p.add_argument("--report-flushes", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv=None) -> int:
    from .engine import Monitor
    from .logrules import LogRuleError, load_rules, shipped_rules
    from .store import SQLiteWriter

    args = build_parser().parse_args(argv)
    try:
        rules = (load_rules(args.log_rules) if args.log_rules else shipped_rules()) if args.log else None
        writer = SQLiteWriter(args.db)
    except (LogRuleError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def write(batch):
        writer.write(batch)
        if args.report_flushes:
            print(f"flushed {batch.seq} {batch.n_samples} {batch.last_sample_ts!r}", flush=True)

    def show(alert):
        if args.json:
            print(alert.to_json(), flush=True)
        else:
            print(f"[{alert.severity}] {alert.state}: {alert.title}: {alert.message}", flush=True)

    try:
        mon = Monitor(write, interval=args.interval, flush_every=args.flush, pids=args.pid, logs=args.log,
                      log_rules=rules, log_states=writer.log_states(), watch=args.watch,
                      watch_every=args.watch_every, on_alert=show, gpu=not args.no_gpu, warmup=args.warmup,
                      rehash_every_s=args.rehash_every)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        mon.run_for(args.duration, should_stop=lambda: bool(stop))
    except KeyboardInterrupt:
        mon.stop()
    from .score import concern_terms, health_score

    terms = concern_terms(mon.alert_log, mon.last_sample_ts or 0.0)
    print(json.dumps({"samples": mon.samples, "alerts": mon.alerts_fired, "write_errors": mon.write_errors,
                      "health_score": health_score(terms), "health_terms": terms}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
