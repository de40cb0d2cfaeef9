"""The example plugin's report section."""

from __future__ import annotations

from workbench.api import KeyValues, Paragraph, Section, Table

from .store import files


def report_sections(store, options: dict) -> list[Section]:
    runs = store.latest_runs("count")
    if not runs:
        return [Section("Long lines", [Paragraph("Not assessed: no run yet.")], "example")]
    blocks = []
    for run in runs:
        rows = files(store, run.id, longest_first=True)  # run: a RunRecord
        blocks += [KeyValues([("Folder", run.target), ("Files", str(run.summary["files"])),
                              ("Files with long lines", str(run.summary["long_files"]))]),
                   Table(["File", "Lines", "Longest line"], [[r["path"], r["lines"], r["longest"]] for r in rows])]
    return [Section("Long lines", blocks, "example")]
