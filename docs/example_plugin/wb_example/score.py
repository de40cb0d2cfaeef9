"""The example plugin's pillar score."""

from __future__ import annotations


def score(store) -> float | None:
    """100 × the share of files without a long line, over the latest run of each target."""
    runs = store.latest_runs("count")
    if not runs:
        return None
    files = sum(r.summary["files"] for r in runs)  # RunRecord.summary: the dict the job returned
    long_files = sum(r.summary["long_files"] for r in runs)
    return round(100.0 * (files - long_files) / files) if files else 100.0
