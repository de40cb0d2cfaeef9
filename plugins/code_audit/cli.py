"""``workbench audit`` and ``workbench triage``: the code audit without the window."""

from __future__ import annotations

import sys
from pathlib import Path

from workbench.core.findings import SEVERITY_RANK, TRIAGE_STATUSES

EXIT_OK, EXIT_FAILURE, EXIT_GATE, EXIT_INTERRUPTED = 0, 1, 3, 130


def add_cli(plugin, subparsers) -> None:
    p = subparsers.add_parser(
        "audit", help="audit a source tree into a project (bandit + AI/ML rules + secrets + model files)",
        description="Audit PATH and store the findings in PROJECT (created if missing). "
                    f"Exit {EXIT_GATE} when --fail-on is given and an open finding is at or above it.")
    p.add_argument("path", help="folder to audit")
    p.add_argument("-p", "--project", required=True, help="project file (.wbproj); created if it does not exist")
    p.add_argument("-c", "--config", help="bandit configuration (YAML, or TOML with [tool.bandit])")
    p.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0")
    p.add_argument("--json", metavar="FILE", help="write findings as JSON")
    p.add_argument("--csv", metavar="FILE", help="write findings as CSV")
    p.add_argument("--fail-on", choices=("LOW", "MEDIUM", "HIGH"), type=str.upper,
                   help=f"exit {EXIT_GATE} if an open finding has this severity or higher")
    p.add_argument("-s", "--skip", action="append", default=[], metavar="ID", help="bandit test ids to skip")
    p.add_argument("-x", "--exclude", action="append", default=[], metavar="GLOB", help="paths to leave out")
    p.add_argument("--no-secrets", action="store_true", help="do not scan for secrets")
    p.add_argument("--no-models", action="store_true", help="do not scan model files")
    p.add_argument("--workers", type=int, help="worker processes (default: usable CPUs)")
    p.set_defaults(func=lambda args: cmd_audit(plugin, args))

    p = subparsers.add_parser("triage", help="mark code audit findings as false positive, accepted risk, fixed or open")
    p.add_argument("project")
    p.add_argument("fingerprints", nargs="+", help="finding fingerprints (a unique prefix is enough)")
    p.add_argument("--status", required=True, choices=TRIAGE_STATUSES)
    p.add_argument("--why", default="", help="justification (required for accepted_risk)")
    p.set_defaults(func=lambda args: cmd_triage(plugin, args))


def _open_or_create(path: str, plugin):
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    plugins = load_plugins().plugins
    if Path(path).exists():
        return Project.open(path, plugins=plugins)
    print(f"creating project {path}", file=sys.stderr)
    return Project.create(path, plugins=plugins)


def cmd_audit(plugin, args) -> int:
    from workbench.core.jobs import run_in_process
    from workbench.core.progress import TerminalProgress

    if not Path(args.path).is_dir():
        print(f"workbench: error: {args.path}: not a folder", file=sys.stderr)
        return EXIT_FAILURE
    params = {"include_secrets": not args.no_secrets, "include_models": not args.no_models}
    if args.config:
        params["config"] = str(Path(args.config).resolve())
    if args.skip:
        params["skips"] = args.skip
    if args.exclude:
        params["exclude"] = args.exclude
    if args.workers:
        params["workers"] = args.workers
    spec = plugin.job_spec(args.path, **params)
    with _open_or_create(args.project, plugin) as project:
        bar = TerminalProgress(spec.title, unit="files")
        try:
            run_id, status, result = run_in_process(project, spec, on_progress=bar)
        finally:
            bar.close()
        if status == "cancelled":
            print("workbench: audit cancelled; findings stored so far are kept", file=sys.stderr)
            return EXIT_INTERRUPTED
        if status != "done":
            print(f"workbench: error: audit {status}: {result}", file=sys.stderr)
            return EXIT_FAILURE
        _print_summary(result)
        exports_ok = _write_exports(project, run_id, args)
        if args.fail_on:
            worst = _open_at_or_above(project, run_id, args.fail_on)
            if worst:
                print(f"gate: {worst} open finding(s) at or above {args.fail_on}", file=sys.stderr)
                return EXIT_GATE
    return EXIT_OK if exports_ok else EXIT_FAILURE


def _print_summary(summary: dict) -> None:
    f = summary.get("findings", {})
    print(f"audited {summary.get('files', 0)} files, {summary.get('lines', 0)} lines "
          f"({summary.get('cached_files', 0)} from cache)")
    print(f"open findings: {f.get('HIGH', 0)} high, {f.get('MEDIUM', 0)} medium, {f.get('LOW', 0)} low; "
          f"{summary.get('suppressed_in_source', 0)} suppressed in source; {summary.get('skipped', 0)} files skipped")
    print(f"since the previous run: {summary.get('new', 0)} new, {summary.get('unchanged', 0)} unchanged, "
          f"{summary.get('fixed', 0)} fixed")


def _write_exports(project, run_id: int, args) -> bool:
    """Write the requested exports; a failed one is reported and the others still written."""
    from workbench_plugins.code_audit import sarif

    ok = True
    for path, writer in ((args.sarif, sarif.write_sarif), (args.json, sarif.write_json), (args.csv, sarif.write_csv)):
        if not path:
            continue
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            writer(project, run_id, path)
        except OSError as exc:
            print(f"workbench: error: {path}: cannot write ({exc.strerror or exc})", file=sys.stderr)
            ok = False
            continue
        print(f"wrote {path}")
    return ok


def _open_at_or_above(project, run_id: int, severity: str) -> int:
    from workbench_plugins.code_audit.score import is_open

    floor = SEVERITY_RANK[severity]
    return sum(1 for f in project.findings(run_id=run_id) if is_open(f) and SEVERITY_RANK[f["severity"]] >= floor)


def cmd_triage(plugin, args) -> int:
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    with Project.open(args.project, plugins=load_plugins().plugins) as project:
        known = {r[0] for r in project.conn.execute("SELECT DISTINCT fingerprint FROM findings WHERE plugin=?",
                                                      (plugin.id,))}
        chosen = []
        for prefix in args.fingerprints:
            matches = sorted(fp for fp in known if fp.startswith(prefix))
            if len(matches) != 1:
                why = "no finding has" if not matches else f"{len(matches)} findings have"
                print(f"workbench: error: {args.project}: {why} a fingerprint starting with {prefix!r}",
                      file=sys.stderr)
                return EXIT_FAILURE
            chosen.append(matches[0])
        try:
            n = project.set_triage(chosen, args.status, args.why, plugin=plugin.id)
        except ValueError as exc:
            print(f"workbench: error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    print(f"{n} finding(s) marked {args.status}")
    return EXIT_OK
