"""The ``workbench monitor`` command: record into a project, headless (the job is engine.run)."""

from __future__ import annotations

import os

from workbench.api import CliError, WorkbenchError, job_command, open_project, run_job

from .record import add_recording_options


def add_cli(plugin, cli) -> None:
    p = job_command(cli, "monitor", "record system, GPU and log metrics with alerts into a project (headless)",
                    lambda args: _cmd_monitor(plugin, args))
    add_recording_options(p, flush_into="the project")
    p.add_argument("--raw-retention", type=float, default=None,
                   help="seconds of raw samples to keep (older ones deleted; the 1 min and 1 h tiers stay)")


def _cmd_monitor(plugin, args) -> int | tuple[int, dict]:
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
        _, _, summary = run_job(project, spec, unit="s", on_log=lambda msg: print(msg, flush=True))
    from .score import terms_text

    score = summary.get("health_score")
    print(f"{summary['samples']} samples of {summary['series']} series, {summary['alerts']} alerts, "
          f"health score {'n/a' if score is None else f'{score:.1f}'}")
    if summary.get("alert_list"):
        print("alerts: " + ", ".join(f"{a['rule']} [{a['severity']}]" + (f" {a['series']}" if a["series"] else "")
                                     for a in summary["alert_list"][:40]))
    print(f"M terms λ·(1−u): {terms_text(summary['health_terms'])}")
    return 0, summary
