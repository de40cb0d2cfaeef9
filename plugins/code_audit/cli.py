"""``workbench audit``: the code audit without the window."""

from __future__ import annotations

from pathlib import Path

from workbench.api import (
    EXIT_FAILURE,
    EXIT_GATE,
    EXIT_OK,
    SEVERITY_RANK,
    CliError,
    job_command,
    note,
    open_project,
    run_job,
)


def add_cli(plugin, cli) -> None:
    p = job_command(
        cli, "audit", "audit a source tree (bandit + AI/ML rules + secrets + model files)",
        lambda args: cmd_audit(plugin, args), description="Audit PATH and store the findings in PROJECT (created if missing). "
                    f"Exit {EXIT_GATE} when --fail-on is given and an open finding is at or above it.")
    p.add_argument("path", nargs="*", help="folders to audit (each keeps its own latest run)")
    p.add_argument("--targets", metavar="FILE", help="a file naming one folder to audit a line")
    p.add_argument("--ray", metavar="ADDRESS", help="scan on a Ray cluster: HOST:PORT, ray://HOST:PORT or auto")
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
    from .deps.cli import add_cli as add_deps_cli

    add_deps_cli(plugin, cli)  # deps-db, deps, sbom


def cmd_audit(plugin, args) -> int | tuple[int, dict]:
    from . import distributed

    targets = distributed.audit_targets(args.path, args.targets)  # several: each its own run, as one by one
    with distributed.on_cluster(args.ray):  # --ray: the scan's chunks run there; Ray is imported only then
        if len(targets) > 1:
            return distributed.audit_many(args, targets, lambda path: cmd_audit_one(plugin, args, path))
        return cmd_audit_one(plugin, args, targets[0])


def cmd_audit_one(plugin, args, target: str) -> tuple[int, dict]:
    if not Path(target).is_dir():
        raise CliError(f"{target}: not a folder")
    spec = plugin.job_spec(
        "audit", target=target, config=args.config, include_secrets=not args.no_secrets,
        include_models=not args.no_models, skips=args.skip, exclude=args.exclude, workers=args.workers)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        store = project.store(plugin.id)
        run_id, _, summary = run_job(project, spec, unit="files")
        code = _gate_and_export(store, run_id, summary, args)
    return code, summary


def _gate_and_export(store, run_id: int, summary: dict, args) -> int:
    _print_summary(summary)
    return export_and_gate(store, run_id, args)


def export_and_gate(store, run_id: int, args) -> int:
    """Write the requested exports, then apply ``--fail-on`` (the audit's and the dependency check's)."""
    exports_ok = _write_exports(store, run_id, args)
    if args.fail_on:
        floor = SEVERITY_RANK[args.fail_on]
        worst = sum(1 for f in store.findings(run_id=run_id)
                    if f.is_open and SEVERITY_RANK[f.severity] >= floor)
        if worst:
            note(f"gate: {worst} open finding(s) at or above {args.fail_on}")
            return EXIT_GATE
    return EXIT_OK if exports_ok else EXIT_FAILURE


def _print_summary(summary: dict) -> None:
    f = summary.get("findings", {})
    print(f"audited {summary.get('files', 0)} files, {summary.get('lines', 0)} lines "
          f"({summary.get('cached_files', 0)} from cache)")
    print(f"open findings: {f.get('HIGH', 0)} high, {f.get('MEDIUM', 0)} medium, {f.get('LOW', 0)} low; "
          f"{summary.get('suppressed_in_source', 0)} suppressed in source; {summary.get('skipped', 0)} files skipped")
    print(f"since the previous run: {summary.get('new', 0)} new, {summary.get('unchanged', 0)} unchanged, "
          f"{summary.get('fixed', 0)} fixed, {summary.get('not_checked', 0)} not checked in this run")


def _write_exports(store, run_id: int, args) -> bool:
    """Write the requested exports; a failed one is reported and the others still written."""
    from workbench.api import WorkbenchError, error

    from . import sarif

    ok = True
    for path, writer in ((args.sarif, sarif.write_sarif), (args.json, sarif.write_json), (args.csv, sarif.write_csv)):
        if not path:
            continue
        try:
            writer(store, run_id, path)
        except WorkbenchError as exc:
            error(str(exc))
            ok = False
            continue
        print(f"wrote {path}")
    return ok
