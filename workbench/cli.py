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
from workbench.core import project_crypto
from workbench.core.cli_kit import EXIT_FAILURE, EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from workbench.core.cli_kit import error as _err
from workbench.core.errors import WorkbenchError, is_no_room
from workbench.core.findings import TRIAGE_STATUSES

#: A short prefix that is unique today may match a finding of a later run: ask for enough of it.
MIN_FINGERPRINT_PREFIX = 8

__all__ = ["EXIT_FAILURE", "EXIT_GATE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def _registry():
    from workbench.core.plugins import load_plugins

    return load_plugins(on_error=lambda s: print(
        f"workbench: warning: plugin '{s.name}' failed to load: {s.error}", file=sys.stderr))


def default_demo_dir() -> Path:
    import platformdirs

    return platformdirs.user_data_path("ai-security-workbench", appauthor=False) / "demo"


# ---------------------------------------------------------------- commands
def _check_display() -> None:
    """Qt aborts the process (exit 134) when it finds no display: say so first."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise CliError("there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset). "
                       "Run `workbench demo --headless` for the demo PDF, or the headless commands "
                       "(`workbench --help`); set QT_QPA_PLATFORM=offscreen to force a window without a screen.")


def cmd_gui(args) -> int:
    _check_display()
    from workbench.gui.app import run_gui

    return run_gui(project=args.project, theme=getattr(args, "theme", None),
                   readonly=getattr(args, "read_only", False))


def cmd_new(args) -> int:
    from workbench.core.project import Project

    path = Path(args.path)
    if path.suffix != ".wbproj":
        path = path.with_name(path.name + ".wbproj")
    with Project.create(path, name=args.name, plugins=_registry().plugins, encrypted=args.encrypted) as project:
        print(f"created {project.path} (project id {project.project_id})")
        if project.encrypted:
            print(f"encrypted with SQLCipher; its key is in {_secrets_where()} under key id {project.key_id}.\n"
                  f"To hand it to a reviewer: workbench key export {project.path} -o KEYFILE")
    return EXIT_OK


def _secrets_where() -> str:
    from workbench.core import secrets

    return secrets.backend_description()


def cmd_encrypt(args) -> int:
    from workbench.core.convert import encrypt_project

    key_id = encrypt_project(args.project)
    print(f"encrypted {args.project} with SQLCipher; its key is in {_secrets_where()} under key id {key_id}.\n"
          "The plain file's old blocks may remain on the disk until overwritten.")
    return EXIT_OK


def cmd_decrypt(args) -> int:
    from workbench.core.convert import decrypt_project

    out = decrypt_project(args.project, args.output)
    print(f"wrote the plain copy {out} (same project id and state; anyone can read it)")
    return EXIT_OK


def _passphrase(args, prompt: str, *, twice: bool) -> str:
    if args.passphrase_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for the passphrase: pass it on standard input with --passphrase-stdin")
    first = getpass.getpass(prompt)
    if twice and getpass.getpass("again: ") != first:
        raise CliError("the two passphrases differ; nothing was written")
    return first


def cmd_key(args) -> int:
    from workbench.core.database import validate
    from workbench.core.files import check_writable_target

    if args.action == "export":
        if not args.output:
            raise CliError("'key export' needs -o KEYFILE")
        path = validate(args.target)
        if not project_crypto.is_encrypted_file(path):
            raise CliError(f"{path}: is not encrypted, so it has no key to export")
        out = check_writable_target(args.output)
        key = project_crypto.key_for(path)
        key_id = project_crypto.key_id_of(path)
        passphrase = _passphrase(args, f"passphrase for {out.name} (tell the reviewer another way): ", twice=True)
        project_crypto.write_key_file(out, key_id=key_id, key=key, project_name=path.stem, passphrase=passphrase)
        print(f"wrote {out}: the key of {path.name} (key id {key_id}), encrypted under your passphrase")
        from workbench.core.errors import ProjectLockedError
        from workbench.core.project import Project

        try:
            with Project.open(path) as project:
                project.log_event("file", f"project key exported to {out.name}", data={"key_id": key_id})
        except ProjectLockedError:
            print("(not recorded in the project's audit log: the project is open for writing elsewhere)")
    else:
        passphrase = _passphrase(args, f"passphrase of {Path(args.target).name}: ", twice=False)
        key_id, key, name = project_crypto.read_key_file(Path(args.target), passphrase)
        project_crypto.store_key(key_id, key)
        print(f"imported the key {key_id}{f' of {name}' if name else ''} into {_secrets_where()}")
    return EXIT_OK


def cmd_info(args) -> int:
    from workbench.core.project import Project

    registry = _registry()
    if getattr(args, "accept_restored", False):
        with Project.open(args.project) as project:
            print(f"anchor    {project.accept_restored()}", file=sys.stderr if args.json else sys.stdout)
    with Project.open(args.project, readonly=True) as project:
        report_head = None
        if getattr(args, "report", None):
            from workbench.render.signing import report_head as _report_head

            report_head = _report_head(args.report)  # a SignatureError says why the report cannot vouch
        # Verified first: damage that makes the summary unreadable (a flipped schema) is still named.
        chain = project.verify_events(report_head=report_head) if args.verify or report_head else None
        try:
            info = project.summary()
            info["runs"] = [{k: r[k] for k in ("id", "title", "status", "started", "finished")}
                            for r in project.runs()]
            info["state_sha256"] = project.state_sha256()
            info["plugins"] = _plugin_info(project, registry)
        except Exception as exc:
            if chain is None or chain.ok:
                raise
            print(f"events    BROKEN: {chain.message} (and the project cannot be summarised: {exc})")
            return EXIT_FAILURE
        from workbench.core import netguard

        info["network"] = netguard.status_line()
        if args.json:
            if chain:
                info["events_chain"] = {"ok": chain.ok, "first_broken_id": chain.first_broken_id,
                                        "message": chain.message, "head": chain.head, "head_id": chain.head_id,
                                        "anchor": chain.anchor, "notes": chain.notes}
            print(json.dumps(info, indent=2))
        else:
            print(f"project   {info['name']}  ({info['path']})")
            print(f"id        {info['project_id']}")
            print("file      " + (f"encrypted (SQLCipher, key id {info['key_id']})" if info["key_id"]
                                   else "plain SQLite (not encrypted)"))
            print(f"schema    {info['schema']}   created {info['created']}")
            print("contents  " + ", ".join(f"{v} {k}" for k, v in info["counts"].items()))
            print(f"state     sha256 {info['state_sha256']}")
            print(info["network"])
            for pid, p in info["plugins"].items():
                # Rounded as the window and the report show it; --json keeps the exact value.
                score = "not assessed" if p["score"] is None else f"{p['score']:.0f}/100"
                opened = ", ".join(f"{n} {sev.lower()}" for sev, n in p["open_findings"].items() if n) or "none open"
                state = f"  ({p['problem']})" if p.get("problem") else ""
                print(f"plugin    {pid:<12} score {score:<13} findings: {opened}{state}")
            for r in info["runs"][-10:]:
                print(f"  run {r['id']:>4}  {r['status']:<11} {r['title']}")
            if chain:
                print(("events    OK: " if chain.ok else "events    BROKEN: ") + chain.message)
                if chain.anchor:
                    print(f"anchor    {chain.anchor}")
                for note in chain.notes:
                    print(f"note      {note}")
                if chain.head:
                    print(f"log head  event {chain.head_id}, sha256 {chain.head}  "
                          "(compare it with the one a report carries)")
        if chain and not chain.ok:
            return EXIT_FAILURE
    return EXIT_OK


def _plugin_info(project, registry) -> dict:
    """Each loaded plugin's score and open findings over the latest run of every target."""
    pending = project.pending_migrations(registry.plugins)
    out = {}
    for plugin in registry.plugins:
        entry: dict = {"title": plugin.title, "version": plugin.version, "score": None,
                       "open_findings": {s: 0 for s in ("HIGH", "MEDIUM", "LOW")}}
        if plugin.id in pending:
            failure = project.conn.execute(
                "SELECT message FROM events WHERE kind='plugin' AND plugin=? ORDER BY id DESC LIMIT 1",
                (plugin.id,)).fetchone()
            entry["problem"] = failure[0] if failure else "its tables are not set up in this project yet"
        else:
            store = project.store(plugin.id)
            try:
                entry["score"] = plugin.score(store)
            except Exception as exc:  # one plugin's bug must not hide the others
                entry["problem"] = f"score failed: {type(exc).__name__}: {exc}"
            entry["open_findings"].update(store.open_counts())
        out[plugin.id] = entry
    return out


def cmd_plugins(args) -> int:
    registry = _registry()
    problems: dict = {}
    if args.project:
        from workbench.core.project import Project

        with Project.open(args.project, readonly=True) as project:
            problems = {pid: p["problem"] for pid, p in _plugin_info(project, registry).items() if p.get("problem")}
    for s in registry.statuses:
        state = "loaded" if s.loaded else f"FAILED: {s.error}"
        title = s.plugin.title if s.loaded else s.value
        if s.loaded and s.plugin.id in problems:
            title += f"  (cannot use {args.project}: {problems[s.plugin.id]})"
        print(f"{s.name:<14} {s.version or '-':<10} {state:<8}  {title}")
    return EXIT_OK if not registry.failed and not problems else EXIT_FAILURE


def cmd_demo(args) -> int:
    from workbench.core.demo import create_demo
    from workbench.core.progress import TerminalProgress

    registry = _registry()
    out = Path(args.output or default_demo_dir())
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a folder; -o names the folder for the demo project and PDF")
    if not args.headless:
        _check_display()
    bars: list[TerminalProgress] = []

    def progress_factory(spec):
        bars.append(TerminalProgress(spec.title or spec.job))
        return bars[-1]

    summaries: dict = {}

    def on_job(spec, status, result):
        if bars:
            bars[-1].close()
        detail = "" if status == "done" else f": {result}"
        print(f"  {spec.title or spec.job}: {status}{detail}", file=sys.stderr)
        summaries[f"{spec.plugin}.{spec.job}"] = {"status": status,
                                                  "summary": result if status == "done" else None}

    path = create_demo(out, registry, on_job=on_job, progress_factory=progress_factory)
    print(f"demo project: {path}")
    if args.summary_json:
        from workbench.core.cli_kit import write_summary_json

        write_summary_json(args.summary_json, {"project": str(path), "jobs": summaries})
    if args.headless:
        pdf = out / f"{path.stem}-report.pdf"
        from workbench.render.commands import cmd_report

        from workbench.core import secrets

        # The demo's PDF is signed when a signing key can be had; a bare machine still gets its demo.
        can_sign, why = secrets.available()
        if not can_sign:
            print(f"warning: the demo report is not signed: {why}", file=sys.stderr)
        return cmd_report(argparse.Namespace(project=str(path), output=str(pdf), no_sign=not can_sign), registry)
    from workbench.gui.app import run_gui

    return run_gui(project=str(path), theme=args.theme)


def cmd_desktop_install(args) -> int:
    from workbench.core.desktop import run_desktop_install

    return run_desktop_install(uninstall_=args.uninstall)


def cmd_triage(args) -> int:
    """Triage by fingerprint prefix, over every plugin's findings."""
    from workbench.core.cli_kit import open_project

    with open_project(args.project) as project:
        rows = project.conn.execute("SELECT DISTINCT fingerprint, plugin FROM findings").fetchall()
        known = {r[0]: r[1] for r in rows}
        chosen: dict[str, list[str]] = {}
        for prefix in args.fingerprints:
            if len(prefix) < MIN_FINGERPRINT_PREFIX:
                raise CliError(f"{prefix!r}: give at least {MIN_FINGERPRINT_PREFIX} characters of the "
                               "fingerprint, so that it stays unambiguous as the project's history grows")
            matches = sorted(fp for fp in known if fp.startswith(prefix))
            if len(matches) != 1:
                why = "no finding has" if not matches else f"{len(matches)} findings have"
                raise CliError(f"{args.project}: {why} a fingerprint starting with {prefix!r}")
            chosen.setdefault(known[matches[0]], []).append(matches[0])
        n = 0
        for plugin_id, fps in chosen.items():
            n += project.set_triage(fps, args.status, args.why, plugin=plugin_id)
    print(f"{n} finding(s) marked {args.status}")
    return EXIT_OK


def _secret_project(args):
    from workbench.core.project import Project

    # Listing names writes nothing: no write lock, so it works while the window has the project open.
    return Project.open(args.project, readonly=args.action == "list")


def _unlock_secrets(args) -> int | None:
    """Ask for the encrypted secrets file's passphrase when that file is the chosen backend and still locked.

    Only on a terminal, and never while the value itself comes from stdin (getpass would read the
    value as the passphrase when there is no terminal). Otherwise the command fails with the
    module's message, which names WORKBENCH_KEYRING_PASSPHRASE.
    """
    from workbench.core import secrets

    if secrets.needs_passphrase() and sys.stdin.isatty() and not args.stdin:
        if not secrets.prompt_unlock(getpass.getpass):
            _err("no passphrase given; nothing done")
            return EXIT_FAILURE
    return None


def cmd_secret_backend(args) -> int:
    from workbench.core import secrets

    if args.project is None:
        print(secrets.backend_description())
        return EXIT_OK
    print(f"secrets backend: {secrets.choose_backend(args.project, path=args.file)}")
    if args.project == "encrypted-file" and sys.stdin.isatty() and secrets.needs_passphrase() \
            and secrets.is_new_store():
        if secrets.prompt_unlock(getpass.getpass):  # create the file now, asking twice
            print(f"secrets backend: {secrets.backend_description()}")
    return EXIT_OK


def cmd_secret(args) -> int:
    from workbench.core import secrets

    if args.action == "backend":
        return cmd_secret_backend(args)
    with _secret_project(args) as project:
        failed = _unlock_secrets(args)
        if failed is not None:
            return failed
        if args.action == "list":
            for name, present in secrets.list_secrets(project):
                print(f"{name}{'' if present else '  (missing from the keyring)'}")
        elif args.action == "set":
            try:
                value = (sys.stdin.readline().rstrip("\n") if args.stdin
                         else getpass.getpass(f"value for {args.name}: "))
            except (EOFError, OSError):
                value = ""
            if not value:
                _err("empty value; nothing stored")
                return EXIT_FAILURE
            secrets.set_secret(project, args.name, value)
            print(f"stored '{args.name}' in {secrets.backend_description()}")
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


# ------------------------------------------------------------------ parser
def build_parser(registry=None) -> argparse.ArgumentParser:
    from workbench.core.cli_kit import Commands

    titles = [p.title.lower() for p in (registry.plugins if registry else [])]
    parser = argparse.ArgumentParser(
        prog="workbench",
        description=f"{APP_NAME}, offline. Installed and working here: "
                    + (", ".join(titles) if titles else "no plugins") + "; triage, the audit log and reports.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cli = Commands(sub)

    p = cli.command("gui", "open the main window (the default)")
    p.add_argument("project", nargs="?", help="project file to open")
    p.add_argument("--read-only", action="store_true",
                   help="open the project without the write lock (it may be open in another workbench)")
    p.add_argument("--theme", choices=("system", "light", "dark"),
                   help="default: the theme chosen in View → Theme (system until one is chosen)")
    p.set_defaults(func=cmd_gui)

    p = cli.command("new", "create an empty project file")
    p.add_argument("path")
    p.add_argument("--name", help="display name (default: the file name)")
    p.add_argument("--encrypted", action="store_true",
                   help="encrypt the file with SQLCipher; a random key goes to the OS keyring (or your encrypted file)")
    p.set_defaults(func=cmd_new)

    p = cli.command("encrypt", "encrypt a plain project file in place (SQLCipher; the key goes to the keyring)")
    p.add_argument("project")
    p.set_defaults(func=cmd_encrypt)

    p = cli.command("decrypt", "write a plain copy of an encrypted project")
    p.add_argument("project")
    p.add_argument("-o", "--output", required=True, help="the plain copy (must not exist)")
    p.set_defaults(func=cmd_decrypt)

    p = cli.command("key", "export an encrypted project's key under a passphrase, or import such a key file")
    p.add_argument("action", choices=("export", "import"))
    p.add_argument("target", metavar="PROJECT|KEYFILE", help="export: the project; import: the key file")
    p.add_argument("-o", "--output", help="export: the key file to write (e.g. project.wbkey)")
    p.add_argument("--passphrase-stdin", action="store_true",
                   help="read the key file's passphrase from standard input instead of asking")
    p.set_defaults(func=cmd_key)

    p = cli.command("info", "summarise a project file (read-only)")
    p.add_argument("project")
    p.add_argument("--verify", action="store_true", help="check the audit log's hash chain; exit 1 if broken")
    p.add_argument("--report", metavar="REPORT", help="with --verify: also check the log against the head this "
                   "signed report carries (a rollback or rewrite on a machine without the anchor)")
    p.add_argument("--accept-restored", action="store_true",
                   help="you put back an older copy of this file yourself: log that, and anchor its head from now on")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = cli.command("plugins", "list plugins with version and load status")
    p.add_argument("-p", "--project", help="also say which plugins cannot use this project (a failed migration)")
    p.set_defaults(func=cmd_plugins)

    from workbench.render.commands import add_report_commands

    add_report_commands(cli, _registry)

    p = cli.command("demo", "build the demo project, run every plugin on it, open it", runs_job=True)
    p.add_argument("--headless", action="store_true", help="write the demo PDF instead of opening the window")
    p.add_argument("-o", "--output", help="folder for the demo project and PDF (default: the user data folder)")
    p.add_argument("--theme", choices=("system", "light", "dark"),
                   help="default: the theme chosen in View → Theme (system until one is chosen)")
    p.set_defaults(func=cmd_demo)

    p = cli.command("triage", "mark findings (of any plugin) false positive, accepted risk, fixed or open")
    p.add_argument("project")
    p.add_argument("fingerprints", nargs="+", help="finding fingerprints (a unique prefix is enough)")
    p.add_argument("--status", required=True, choices=TRIAGE_STATUSES)
    p.add_argument("--why", default="", help="justification (required for accepted_risk)")
    p.set_defaults(func=cmd_triage)

    p = cli.command("desktop-install", "add the workbench to this user's Linux applications menu (XDG_DATA_HOME)")
    p.add_argument("--uninstall", action="store_true", help="remove the menu entry, icon and file type it added")
    p.set_defaults(func=cmd_desktop_install)

    p = cli.command("secret", "manage this project's secrets (OS keyring, or an encrypted file you choose)")
    p.add_argument("action", choices=("list", "set", "get", "delete", "backend"),
                   help="'backend' shows where secrets go; 'backend os|encrypted-file' chooses")
    p.add_argument("project", nargs="?", metavar="PROJECT", help="the project file ('backend': os or encrypted-file)")
    p.add_argument("name", nargs="?")
    p.add_argument("--stdin", action="store_true", help="read the value for 'set' from standard input")
    p.add_argument("--file", help="'backend encrypted-file' only: where the encrypted file lives")
    p.set_defaults(func=cmd_secret)

    for plugin in (registry.plugins if registry else []):
        try:
            plugin.add_cli(cli.for_plugin(plugin))
        except Exception as exc:  # a plugin's CLI bug (or a taken name) must not break the others
            print(f"workbench: warning: plugin '{plugin.id}' could not add its commands: {exc}", file=sys.stderr)
    parser.epilog = (cli.help_text() + "\nExit codes: 0 ok, 1 failure, 2 usage error, 3 a gate (e.g. audit "
                     "--fail-on) was hit, 130 cancelled.\nEvery command that runs a job takes --summary-json FILE.")
    return parser


def main(argv: list[str] | None = None) -> int:
    from workbench.core import netguard

    netguard.install()  # before any plugin code runs: nothing here talks to the network
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_registry())
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *argv])
    if args.command == "secret":
        if args.action == "backend":
            if args.project not in (None, "os", "encrypted-file") or args.name:
                parser.error("usage: workbench secret backend [os|encrypted-file] [--file PATH]")
            if args.file and args.project != "encrypted-file":
                parser.error("--file goes with 'secret backend encrypted-file'")
        elif not args.project:
            parser.error(f"'secret {args.action}' needs a PROJECT")
        elif args.action != "list" and not args.name:
            parser.error(f"'secret {args.action}' needs a NAME")
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        _err(str(exc))
        return exc.code
    except project_crypto.DATABASE_ERROR as exc:
        where = getattr(args, "project", None) or "the project file"
        if "readonly" in str(exc) or "read-only" in str(exc):
            _err(f"{where}: cannot be written ({exc}); open it read-only, or give it write permission")
        elif is_no_room(exc):  # a full disk is not damage: what was committed before is whole
            _err(f"{where}: could not be written ({exc}): is the disk or quota full? What was saved before "
                 "is kept; free some space and run again.")
        else:
            # Damage that the open-time check cannot see (a flipped byte inside a row) shows when read.
            _err(f"{where}: the file is damaged ({exc}). Restore it from a backup.")
        return EXIT_FAILURE
    except UnicodeDecodeError as exc:  # a flipped byte inside a stored text: damage, not a usage error
        where = getattr(args, "project", None) or "the project file"
        _err(f"{where}: the file is damaged (a stored text is not valid UTF-8: {exc}). Restore it from a backup.")
        return EXIT_FAILURE
    except (WorkbenchError, ValueError) as exc:
        _err(str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
