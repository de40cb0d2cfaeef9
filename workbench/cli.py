"""``workbench``: the headless face of the same engines the GUI runs.

Exit codes: 0 success, 1 failure (a clear message on stderr), 2 usage error;
plugins may add a gate code (the code audit's ``--fail-on`` uses 3).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from workbench import APP_NAME, __version__
from workbench.core.errors import WorkbenchError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_GATE = 0, 1, 2, 3


def _err(message: str) -> None:
    print(f"workbench: error: {message}", file=sys.stderr)


def _registry():
    from workbench.core.plugins import load_plugins

    return load_plugins(on_error=lambda s: print(
        f"workbench: warning: plugin '{s.name}' failed to load: {s.error}", file=sys.stderr))


def default_demo_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path("ai-security-workbench", appauthor=False) / "demo"


# ---------------------------------------------------------------- commands
def cmd_gui(args) -> int:
    from workbench.gui.app import run_gui

    return run_gui(project=args.project, theme=getattr(args, "theme", "system"))


def cmd_new(args) -> int:
    from workbench.core.project import Project

    path = Path(args.path)
    if path.suffix != ".wbproj":
        path = path.with_name(path.name + ".wbproj")
    with Project.create(path, name=args.name, plugins=_registry().plugins) as project:
        print(f"created {project.path} (project id {project.project_id})")
    return EXIT_OK


def cmd_info(args) -> int:
    from workbench.core.project import Project

    with Project.open(args.project, readonly=True) as project:
        info = project.summary()
        info["runs"] = [{k: r[k] for k in ("id", "title", "status", "started", "finished")} for r in project.runs()]
        info["state_sha256"] = project.state_sha256()
        chain = project.verify_events() if args.verify else None
        if args.json:
            if chain:
                info["events_chain"] = {"ok": chain.ok, "first_broken_id": chain.first_broken_id,
                                        "message": chain.message}
            print(json.dumps(info, indent=2))
        else:
            print(f"project   {info['name']}  ({info['path']})")
            print(f"id        {info['project_id']}")
            print(f"schema    {info['schema']}   created {info['created']}")
            print("contents  " + ", ".join(f"{v} {k}" for k, v in info["counts"].items()))
            print(f"state     sha256 {info['state_sha256']}")
            for r in info["runs"][-10:]:
                print(f"  run {r['id']:>4}  {r['status']:<11} {r['title']}")
            if chain:
                print(("events    OK: " if chain.ok else "events    BROKEN: ") + chain.message)
        if chain and not chain.ok:
            return EXIT_FAILURE
    return EXIT_OK


def cmd_plugins(args) -> int:
    registry = _registry()
    for s in registry.statuses:
        state = "loaded" if s.loaded else f"FAILED: {s.error}"
        title = s.plugin.title if s.loaded else s.value
        print(f"{s.name:<14} {s.version or '-':<10} {state:<8}  {title}")
    return EXIT_OK if not registry.failed else EXIT_FAILURE


def cmd_report(args) -> int:
    from workbench.core.project import Project
    from workbench.core.report import build_report

    registry = _registry()
    with Project.open(args.project, readonly=True) as project:
        report = build_report(project, registry)
    _ensure_headless_qt()
    from workbench.gui.report_pdf import render_pdf

    try:
        pages = render_pdf(report, args.output)
    except OSError as exc:
        raise WorkbenchError(str(exc)) from exc
    print(f"wrote {args.output} ({pages} pages, project state sha256 {report.state_sha256[:16]}…)")
    return EXIT_OK


def cmd_demo(args) -> int:
    from workbench.core.demo import create_demo
    from workbench.core.progress import TerminalProgress

    registry = _registry()
    out = Path(args.output or default_demo_dir())
    bars: list[TerminalProgress] = []

    def progress_factory(spec):
        bars.append(TerminalProgress(spec.title or spec.job))
        return bars[-1]

    def on_job(spec, status, result):
        if bars:
            bars[-1].close()
        detail = "" if status == "done" else f": {result}"
        print(f"  {spec.title or spec.job}: {status}{detail}", file=sys.stderr)

    path = create_demo(out, registry, on_job=on_job, progress_factory=progress_factory)
    print(f"demo project: {path}")
    if args.headless:
        pdf = out / "demo-report.pdf"
        return cmd_report(argparse.Namespace(project=str(path), output=str(pdf)))
    from workbench.gui.app import run_gui

    return run_gui(project=str(path), theme=args.theme)


def _secret_project(args):
    from workbench.core.project import Project

    return Project.open(args.project)


def cmd_secret(args) -> int:
    from workbench.core import secrets

    with _secret_project(args) as project:
        if args.action == "list":
            for name, present in secrets.list_secrets(project):
                print(f"{name}{'' if present else '  (missing from the keyring)'}")
        elif args.action == "set":
            value = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass(f"value for {args.name}: ")
            if not value:
                _err("empty value; nothing stored")
                return EXIT_FAILURE
            secrets.set_secret(project, args.name, value)
            print(f"stored '{args.name}' in the OS keyring ({secrets.backend_name()})")
        elif args.action == "get":
            value = secrets.get_secret(project, args.name)
            if value is None:
                _err(f"no secret named '{args.name}' for this project")
                return EXIT_FAILURE
            print(value)
        elif args.action == "delete":
            if args.name not in project.secret_names():
                _err(f"{args.project}: no secret named '{args.name}'")
                return EXIT_FAILURE
            secrets.delete_secret(project, args.name)
            print(f"deleted '{args.name}'")
    return EXIT_OK


def _ensure_headless_qt() -> None:
    """PDF rendering needs a QGuiApplication; with no display use the offscreen platform."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


# ------------------------------------------------------------------ parser
def build_parser(registry=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description=f"{APP_NAME}: audit, anonymise, attack and monitor AI systems, offline.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage error, 3 a gate (e.g. audit --fail-on) was hit.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("gui", help="open the main window (the default)")
    p.add_argument("project", nargs="?", help="project file to open")
    p.add_argument("--theme", choices=("system", "light", "dark"), default="system")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("new", help="create an empty project file")
    p.add_argument("path")
    p.add_argument("--name", help="display name (default: the file name)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("info", help="summarise a project file (read-only)")
    p.add_argument("project")
    p.add_argument("--verify", action="store_true", help="check the audit log's hash chain; exit 1 if broken")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("plugins", help="list plugins with version and load status")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("report", help="write the PDF summary of a project")
    p.add_argument("project")
    p.add_argument("-o", "--output", required=True, help="PDF file to write")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="build the demo project, run every plugin on it, open it")
    p.add_argument("--headless", action="store_true", help="write the demo PDF instead of opening the window")
    p.add_argument("-o", "--output", help="folder for the demo project and PDF (default: the user data folder)")
    p.add_argument("--theme", choices=("system", "light", "dark"), default="system")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("secret", help="manage this project's secrets in the OS keyring")
    p.add_argument("action", choices=("list", "set", "get", "delete"))
    p.add_argument("project")
    p.add_argument("name", nargs="?")
    p.add_argument("--stdin", action="store_true", help="read the value for 'set' from standard input")
    p.set_defaults(func=cmd_secret)

    for plugin in (registry.plugins if registry else []):
        try:
            plugin.add_cli(sub)
        except Exception as exc:  # a plugin's CLI bug must not break the others
            print(f"workbench: warning: plugin '{plugin.id}' could not add its commands: {exc}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_registry())
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *argv])
    if args.command == "secret" and args.action != "list" and not args.name:
        parser.error(f"'secret {args.action}' needs a NAME")
    try:
        return int(args.func(args) or 0)
    except (WorkbenchError, ValueError) as exc:
        _err(str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
