"""The example plugin's engine: plain functions over files and the plugin store."""

from __future__ import annotations

import os

from workbench.api import Finding, KeyValues, Paragraph, Section, Table, assign_fingerprints, open_project, run_job


def count_lines(target: str, max_line: int, ctx) -> tuple[list[dict], list[Finding]]:
    """Each text file under *target*: its line count and longest line; a finding per long-lined file."""
    files = sorted(os.path.join(root, n) for root, _, names in os.walk(target) for n in names)
    rows, findings = [], []
    for done, path in enumerate(files, 1):
        ctx.check_cancelled()
        rel = os.path.relpath(path, target)
        try:
            with open(path, encoding="utf-8") as fh:
                lengths = [len(line.rstrip("\n")) for line in fh]
        except (OSError, UnicodeDecodeError):
            continue  # not text: not this plugin's business
        longest = max(lengths, default=0)
        rows.append({"path": rel, "lines": len(lengths), "longest": longest})
        if longest > max_line:
            findings.append(Finding(plugin="example", rule="EX001", severity="LOW", confidence="HIGH",
                                    title="Line longer than the limit",
                                    message=f"{rel} has a line of {longest} characters (limit {max_line})",
                                    path=rel, line=lengths.index(longest) + 1))
        ctx.progress(done, len(files), rel)
    assign_fingerprints(findings, lambda f: f.message)
    return rows, findings


def run(params, ctx) -> dict:
    """The job: count, then store rows, findings and a metric through the plugin's store."""
    rows, findings = count_lines(params.target, params.max_line, ctx)
    store = ctx.store
    with store.transaction():
        store.executemany("INSERT INTO example_files (run_id, path, lines, longest) VALUES (?,?,?,?)",
                          [(ctx.run_id, r["path"], r["lines"], r["longest"]) for r in rows])
        store.add_findings(ctx.run_id, findings)
        store.add_metrics("longest_line", [(i, r["longest"]) for i, r in enumerate(rows)], run_id=ctx.run_id)
    return {"files": len(rows), "long_files": len(findings), "max_line": params.max_line}


def score(store) -> float | None:
    """100 × the share of files without a long line, over the latest run of each target."""
    runs = store.latest_runs("count")
    if not runs:
        return None
    files = sum(r["summary"]["files"] for r in runs)
    long_files = sum(r["summary"]["long_files"] for r in runs)
    return round(100.0 * (files - long_files) / files) if files else 100.0


def report_sections(store, options: dict) -> list[Section]:
    runs = store.latest_runs("count")
    if not runs:
        return [Section("Long lines", [Paragraph("Not assessed: no run yet.")], "example")]
    blocks = []
    for run in runs:
        rows = store.query("SELECT path, lines, longest FROM example_files WHERE run_id=? ORDER BY longest DESC",
                           (run["id"],))
        blocks += [KeyValues([("Folder", run["target"]), ("Files", str(run["summary"]["files"])),
                              ("Files with long lines", str(run["summary"]["long_files"]))]),
                   Table(["File", "Lines", "Longest line"], [[r["path"], r["lines"], r["longest"]] for r in rows])]
    return [Section("Long lines", blocks, "example")]


def add_cli(plugin, cli) -> None:
    p = cli.command("example-count", "count lines, report files with long ones (example plugin)", runs_job=True)
    p.add_argument("path", help="folder to read")
    p.add_argument("-p", "--project", required=True, help="project file, created if missing")
    p.add_argument("--max-line", type=int, default=100)
    p.set_defaults(func=lambda args: _cmd_count(plugin, args))


def _cmd_count(plugin, args) -> int:
    spec = plugin.job_spec("count", target=os.path.abspath(args.path), max_line=args.max_line)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="files", summary_json=args.summary_json)
    print(f"{summary['files']} files, {summary['long_files']} with lines over {summary['max_line']}")
    return 0
