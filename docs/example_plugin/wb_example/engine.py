"""The example plugin's engine: the plain function that does the work, and the job around it."""

from __future__ import annotations

import os

from workbench.api import Finding, assign_fingerprints

from .store import save_run


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
    save_run(ctx.store, ctx.run_id, rows, findings)
    return {"files": len(rows), "long_files": len(findings), "max_line": params.max_line}
