"""What every headless command needs, so that no plugin writes it again.

* :class:`Commands`: registers commands, grouped per plugin in ``--help``, and
  refuses a name that is already taken;
* :func:`job_command`: a command that runs a job, with ``-p/--project`` and
  ``--summary-json FILE`` declared and the summary written for it
  (:func:`project_argument`: the same ``-p`` for a command that runs none);
* :func:`open_project`: open (or create) a project, with this plugin's state checked;
* :func:`run_job`: run a job here with a terminal progress bar, write
  ``--summary-json``, and turn the outcome into an exit code;
* exit codes and :class:`CliError`, printed by the entry point as
  ``workbench: error: …``.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from workbench.core.errors import WorkbenchError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_GATE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class CliError(WorkbenchError):
    """A command failed for a reason the user can act on; the message is printed as is."""

    def __init__(self, message: str, code: int = EXIT_FAILURE):
        super().__init__(message)
        self.code = code


def error(message: str) -> None:
    print(f"workbench: error: {message}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"workbench: warning: {message}", file=sys.stderr)


def note(message: str) -> None:
    """Progress chatter: standard error, so that standard output stays parseable."""
    print(message, file=sys.stderr)


# ---------------------------------------------------------------- commands
@dataclass
class CommandGroup:
    title: str
    commands: list[tuple[str, str]] = field(default_factory=list)  # (name, help)


class Commands:
    """Hands out subcommand parsers. ``group`` is a plugin id (or "core")."""

    def __init__(self, subparsers, groups: dict[str, CommandGroup] | None = None):
        self._sub = subparsers
        self.groups: dict[str, CommandGroup] = groups if groups is not None else {}
        self._owner: dict[str, str] = {}
        self._group = "core"

    def for_plugin(self, plugin) -> "Commands":
        """The same registry, with commands filed under *plugin*."""
        view = Commands(self._sub, self.groups)
        view._owner = self._owner
        view._group = plugin.id
        self.groups.setdefault(plugin.id, CommandGroup(f"{plugin.title} ({plugin.id})"))
        return view

    def command(self, name: str, help: str, *, description: str | None = None,
                runs_job: bool = False) -> argparse.ArgumentParser:
        """A parser for ``workbench NAME``. Set its function with ``set_defaults(func=f)``,
        where ``f(args) -> exit code``. A command that runs a job gets ``--summary-json FILE``."""
        if name in self._owner:
            raise ValueError(f"command {name!r} is already taken by {self._owner[name]!r}")
        self._owner[name] = self._group
        self.groups.setdefault(self._group, CommandGroup("Core commands"))
        self.groups[self._group].commands.append((name, help))
        parser = self._sub.add_parser(name, description=description or help,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
        if runs_job:
            parser.add_argument("--summary-json", metavar="FILE",
                                help="write the run's summary (the dict stored with the run) as JSON")
        return parser

    def help_text(self) -> str:
        lines = []
        for group in self.groups.values():
            if not group.commands:
                continue
            lines.append(f"{group.title}:")
            width = max(len(n) for n, _ in group.commands)
            lines += [f"  {n:<{width}}  {h}" for n, h in group.commands]
            lines.append("")
        return "\n".join(lines)


PROJECT_HELP = "project file (.wbproj)"


def project_argument(parser, *, required: bool = True, create: bool = True, without: str | None = None,
                     about: str | None = None) -> None:
    """Declare ``-p/--project PROJECT`` on *parser*, with the one help text every command shares.

    *create*: the command creates a missing project; *about*: what else the project is for, e.g.
    ``"its keyring holds the keys"``; *without*: what the command does when ``-p`` is left out (then
    ``-p`` is optional), e.g. ``"the keys come from WORKBENCH_ANON_KEY_<ID>"``."""
    text = PROJECT_HELP + ("; created if it does not exist" if create else "") + (f"; {about}" if about else "")
    if without:
        required = False
        text += f"; without it, {without}"
    parser.add_argument("-p", "--project", required=required, metavar="PROJECT", help=text)


# the summaries of the jobs done inside the job_command running now (None outside one)
_DONE_SUMMARIES: contextvars.ContextVar[list | None] = contextvars.ContextVar("done_summaries", default=None)


def job_command(cli: Commands, name: str, help: str, run: Callable, *, description: str | None = None,
                create: bool = True, without_project: str | None = None,
                project_about: str | None = None) -> argparse.ArgumentParser:
    """Register ``workbench NAME``, a command that runs a job, and return its parser for the
    command's own arguments.

    It declares ``-p/--project PROJECT`` (:func:`project_argument`) and ``--summary-json FILE``.
    ``run(args)`` does the work and returns the exit code, or ``(exit code, summary)``: the summary
    (a JSON-able dict) is then written to ``--summary-json`` when it was given, whatever the code,
    so a gate's exit code still comes with its summary. When ``run`` raises after its one job was
    done (an export to a folder that does not exist), that job's summary, as :func:`run_job`
    returned it, is written before the error goes on: the run is stored, so it has its summary.
    A run that raises before a job is done, or after several, writes nothing."""
    parser = cli.command(name, help, description=description, runs_job=True)
    project_argument(parser, create=create, without=without_project, about=project_about)

    def main(args) -> int:
        done: list = []  # the summaries of the jobs run_job ran for this command
        token = _DONE_SUMMARIES.set(done)
        try:
            out = run(args)
        except BaseException:
            if len(done) == 1 and getattr(args, "summary_json", None):
                with contextlib.suppress(CliError):  # the error that stopped the command is the one to tell
                    write_summary_json(args.summary_json, done[0])
            raise
        finally:
            _DONE_SUMMARIES.reset(token)
        code, summary = out if isinstance(out, tuple) else (out, None)
        if summary is not None and getattr(args, "summary_json", None):
            write_summary_json(args.summary_json, summary)
        return code

    parser.set_defaults(func=main)
    return parser


# ---------------------------------------------------------------- projects
@contextmanager
def open_project(path: str | os.PathLike, *, create: bool = False, readonly: bool = False,
                 plugin_id: str | None = None) -> Iterator:
    """Open *path* (creating it when *create* and it does not exist) with every loaded plugin's
    tables. When *plugin_id* cannot use the project (its migration failed), say so and stop."""
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    plugins = load_plugins().plugins
    if readonly:
        project = Project.open(path, readonly=True)
    elif create and not Path(path).exists():
        note(f"creating project {path}")
        project = Project.create(path, plugins=plugins)
    else:
        project = Project.open(path, plugins=plugins)
    try:
        for failed, why in project.plugin_failures.items():
            if failed != plugin_id:
                warn(f"{path}: plugin '{failed}' cannot use this project ({why}); the others can")
        if plugin_id and plugin_id in project.plugin_failures:
            raise CliError(f"{path}: plugin '{plugin_id}' cannot use this project: "
                           f"{project.plugin_failures[plugin_id]}")
        yield project
    finally:
        project.close()


def write_summary_json(path: str | os.PathLike, summary) -> None:
    """Write *summary* to *path* whole or not at all (temporary file, then rename)."""
    from workbench.core.database import json_default
    from workbench.core.files import atomic_write

    try:
        atomic_write(path, json.dumps(summary, indent=2, sort_keys=True, default=json_default) + "\n")
    except WorkbenchError as exc:
        raise CliError(str(exc)) from exc


def run_job(project, spec, *, unit: str = "items", summary_json: str | None = None,
            on_log: Callable[[str], None] | None = None) -> tuple[int, str, object]:
    """Run *spec* here with a terminal progress bar. Returns (run_id, status, summary or error).

    The summary goes to *summary_json* when the run is done. A failed run raises
    :class:`CliError`; a cancelled one (Ctrl+C) raises it with exit code 130.
    """
    from workbench.core.jobs import run_in_process
    from workbench.core.progress import TerminalProgress

    bar = TerminalProgress(spec.title or spec.job, unit=unit)
    try:
        run_id, status, result = run_in_process(project, spec, on_progress=bar, on_log=on_log)
    finally:
        bar.close()
    if status == "cancelled":
        raise CliError(f"{spec.title or spec.job}: cancelled; results stored so far are kept", EXIT_INTERRUPTED)
    if status != "done":
        raise CliError(f"{spec.title or spec.job}: {status}: {result}")
    done = _DONE_SUMMARIES.get()
    if done is not None:  # in a job_command: its summary is written even if a later step fails
        done.append(result)
    if summary_json:
        write_summary_json(summary_json, result)
    return run_id, status, result
