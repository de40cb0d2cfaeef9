"""``workbench deps-db``, ``workbench deps`` and ``workbench sbom``."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.api import (
    EXIT_GATE,
    EXIT_OK,
    CliError,
    WorkbenchError,
    job_command,
    note,
    open_project,
    run_job,
)


def add_cli(plugin, cli) -> None:
    db = cli.command("deps-db", "import an OSV snapshot (zip export) for offline dependency checks; show it",
                     description="Import OSV exports (e.g. PyPI's all.zip) carried over from a connected machine "
                                 "into the index in your data folder, or show what is imported. Nothing is "
                                 "downloaded.")
    sub = db.add_subparsers(dest="deps_db_action", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="verify and index OSV export zips")
    imp.add_argument("files", nargs="+", metavar="FILE.zip")
    imp.add_argument("--sha256", action="append", default=[], metavar="HEX",
                     help="expected SHA-256 (once per file, in order); without it a SHA256SUMS beside the file")
    imp.add_argument("--index", metavar="FILE", help="index file (default: in the user's data folder)")
    imp.add_argument("--summary-json", metavar="FILE", help="write what was imported as JSON")
    imp.set_defaults(func=cmd_import)
    inf = sub.add_parser("info", help="snapshot date and counts")
    inf.add_argument("--index", metavar="FILE", help="index file (default: in the user's data folder)")
    inf.add_argument("--json", action="store_true", help="print as JSON")
    inf.set_defaults(func=cmd_info)

    p = job_command(cli, "deps", "check dependencies against the imported OSV snapshot (offline)",
                    lambda args: cmd_deps(plugin, args),
                    description="Read requirements*.txt, pyproject.toml, poetry/uv/pdm/Pipfile locks and conda "
                                "environment files under PATH (and a venv's installed packages with --venv), "
                                "check them against the imported OSV snapshot and store the findings in PROJECT. "
                                f"Exit {EXIT_GATE} when --fail-on is given and an open finding is at or above it.")
    p.add_argument("path", help="folder (or one manifest file) to check")
    p.add_argument("--venv", metavar="DIR", help="also read the distributions installed in this environment")
    p.add_argument("--index", metavar="FILE", help="OSV index (default: the imported one in the user's data folder)")
    p.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0")
    p.add_argument("--json", metavar="FILE", help="write findings as JSON")
    p.add_argument("--csv", metavar="FILE", help="write findings as CSV")
    p.add_argument("--fail-on", choices=("LOW", "MEDIUM", "HIGH"), type=str.upper,
                   help=f"exit {EXIT_GATE} if an open finding has this severity or higher")
    p.add_argument("--no-models", action="store_true", help="do not list model files and hub references")

    s = cli.command("sbom", "write the target's SBOM (CycloneDX 1.6 JSON), model files included",
                    description="Inventory PATH as `workbench deps` does (and --venv) and write a CycloneDX 1.6 "
                                "SBOM: packages, model files with their SHA-256, hub model references.")
    s.add_argument("path", help="folder (or one manifest file)")
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="the SBOM to write (.cdx.json)")
    s.add_argument("--venv", metavar="DIR", help="also list the distributions installed in this environment")
    s.add_argument("--no-models", action="store_true", help="leave model files and hub references out")
    s.set_defaults(func=cmd_sbom)


def cmd_import(args) -> int:
    from .osvdb import import_zip

    if args.sha256 and len(args.sha256) != len(args.files):
        raise CliError(f"{len(args.sha256)} --sha256 for {len(args.files)} files: give one per file, in order, "
                       "or none (SHA256SUMS beside each file)")
    done = []
    for i, path in enumerate(args.files):
        try:
            out = import_zip(path, sha256=args.sha256[i] if args.sha256 else None, index=args.index)
        except WorkbenchError as exc:
            raise CliError(str(exc)) from exc
        for why in out["rejected"][:20]:
            note(f"rejected: {why}")
        if len(out["rejected"]) > 20:
            note(f"... and {len(out['rejected']) - 20} more rejected records")
        print(f"imported {path}: {out['advisories']} {out['ecosystem']} advisories ({out['withdrawn']} withdrawn), "
              f"snapshot of {out['snapshot_date']}, {len(out['rejected'])} rejected, sha256 {out['sha256']}")
        done.append(out)
    if args.summary_json:
        from workbench.api import write_summary_json

        write_summary_json(args.summary_json, {"imported": done})
    return EXIT_OK


def cmd_info(args) -> int:
    from .osvdb import info

    try:
        data = info(args.index)
    except WorkbenchError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"index: {data['index']}")
    if not data["sources"]:
        print("no snapshot imported")
    for s in data["sources"]:
        print(f"{s['ecosystem']}: snapshot of {s['snapshot_date']}, {s['advisories']} advisories "
              f"({s['withdrawn']} withdrawn), {s['packages']} packages; from {s['file']} (sha256 {s['sha256']}), "
              f"imported {s['imported']}")
    print(f"total: {data['advisories']} advisories, {data['packages']} packages")
    return EXIT_OK


def cmd_deps(plugin, args) -> tuple[int, dict]:
    if not Path(args.path).exists():
        raise CliError(f"{args.path}: no such file or folder")
    if args.venv and not Path(args.venv).is_dir():
        raise CliError(f"{args.venv}: not a folder")
    try:
        from .osvdb import connect

        connect(args.index).close()  # say "import a snapshot first" before a run is created
    except WorkbenchError as exc:
        raise CliError(str(exc)) from exc
    spec = plugin.job_spec("deps", target=args.path, venv=args.venv, index=args.index,
                           include_models=not args.no_models)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        store = project.store(plugin.id)
        run_id, _, summary = run_job(project, spec, unit="steps")
        f = summary["findings"]
        print(f"checked {summary['packages']} packages from {summary['manifests']} files against {summary['snapshot']}")
        print(f"{summary['vulnerable_packages']} vulnerable packages, {summary['advisories']} advisories; findings: "
              f"{f['HIGH']} high, {f['MEDIUM']} medium, {f['LOW']} low; {summary['model_files']} model files, "
              f"{summary['unpinned_references']} unpinned hub references")
        for name, fix in summary["fixes"].items():
            print(f"  {name}: " + (f"raise to ≥ {fix}" if fix else "no fixed version in the snapshot"))
        from ..cli import export_and_gate

        return export_and_gate(store, run_id, args), summary


def cmd_sbom(args) -> int:
    from workbench.api import atomic_write

    from .engine import inventory
    from .sbom import build_bom, to_json

    try:
        inv = inventory(args.path, args.venv, models=not args.no_models)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    for rel, why in inv.problems:
        note(f"skipped {rel}: {why}")
    from .. import VERSION

    bom = build_bom(args.path, inv.deps, inv.models, inv.refs, tool_version=VERSION)
    try:
        atomic_write(args.output, to_json(bom))
    except WorkbenchError as exc:
        raise CliError(str(exc)) from exc
    print(f"wrote {args.output}: {len(bom.components)} components ({len(inv.models)} model files)")
    return EXIT_OK
