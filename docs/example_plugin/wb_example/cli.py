"""``workbench example-count``: the job without the window."""

from __future__ import annotations

import os

from workbench.api import job_command, open_project, run_job


def add_cli(plugin, cli) -> None:
    # -p/--project and --summary-json come with job_command; the summary _cmd_count returns is written
    p = job_command(cli, "example-count", "count lines, report files with long ones (example plugin)",
                    lambda args: _cmd_count(plugin, args))
    p.add_argument("path", help="folder to read")
    p.add_argument("--max-line", type=int, default=100)


def _cmd_count(plugin, args) -> tuple[int, dict]:
    spec = plugin.job_spec("count", target=os.path.abspath(args.path), max_line=args.max_line)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="files")
    print(f"{summary['files']} files, {summary['long_files']} with lines over {summary['max_line']}")
    return 0, summary
