"""``workbench report`` (and the report commands to come): build the report as data, render it.

Registered by the entry point (``workbench.cli``); imports QtGui only inside the commands,
and never the GUI package.
"""

from __future__ import annotations

import os
import sys


def add_report_commands(cli, registry_loader) -> None:
    p = cli.command("report", "write the PDF summary of a project")
    p.add_argument("project")
    p.add_argument("-o", "--output", required=True, help="PDF file to write")
    p.set_defaults(func=lambda args: cmd_report(args, registry_loader()))


def ensure_headless_qt() -> None:
    """PDF rendering needs a QGuiApplication; with no display use the offscreen platform."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def cmd_report(args, registry) -> int:
    from workbench.core.errors import WorkbenchError
    from workbench.core.project import Project
    from workbench.core.report import build_report

    with Project.open(args.project, readonly=True) as project:
        report = build_report(project, registry)
    ensure_headless_qt()
    from workbench.render.pdf import render_pdf

    try:
        pages = render_pdf(report, args.output)
    except OSError as exc:
        raise WorkbenchError(str(exc)) from exc
    print(f"wrote {args.output} ({pages} pages, project state sha256 {report.state_sha256[:16]}…)")
    return 0
