"""The small helpers the GUI's Overview shares with the report: severity colours, the order of
open risks, readable titles and places, times and durations, a pillar's score trend.

Kept apart from :mod:`workbench.core.report` (which re-exports them) so that showing the Overview
at start-up does not build the report's data classes nor import what the report needs.
"""

from __future__ import annotations

import re

SEVERITY_COLORS = {"HIGH": "#c0392b", "MEDIUM": "#e67e22", "LOW": "#f1c40f"}
SEVERITY_WEIGHT = {"HIGH": 10.0, "MEDIUM": 4.0, "LOW": 1.0}
CONFIDENCE_WEIGHT = {"HIGH": 1.0, "MEDIUM": 0.7, "LOW": 0.4}


def _fmt_time(iso: str | None) -> str:
    if not iso:
        return ""
    import datetime as _dt  # not before a time is shown (the Overview's first paint shows none)

    try:
        return _dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _duration(run: dict) -> str:
    import datetime as _dt

    from workbench.core.progress import format_duration

    try:
        a = _dt.datetime.fromisoformat(run["started"])
        b = _dt.datetime.fromisoformat(run["finished"])
    except (TypeError, ValueError, KeyError):
        return ""
    return format_duration((b - a).total_seconds())


def risk_rank(finding: dict) -> float:
    """Severity × confidence, the order in which open risks are listed."""
    return SEVERITY_WEIGHT[finding["severity"]] * CONFIDENCE_WEIGHT[finding["confidence"]]


def top_risks(findings: list[dict], n: int = 10) -> list[dict]:
    from workbench.core.findings import is_open

    ranked = sorted((f for f in findings if is_open(f)),
                    key=lambda f: (-risk_rank(f), f["plugin"], f.get("path") or "", f.get("line") or 0))
    return ranked[:n]


_RULE_TITLE = re.compile(r"^(B\d{3}) ([a-z0-9]+(?:_[a-z0-9]+)+)$")


def readable_title(title: str) -> str:
    """bandit's "B615 huggingface_unsafe_download" as words: "B615 huggingface unsafe download"."""
    m = _RULE_TITLE.match(title or "")
    return f"{m.group(1)} {m.group(2).replace('_', ' ')}" if m else (title or "")


def _where(f: dict) -> str:
    return f"{f['path']}:{f['line']}" if f.get("line") else (f.get("path") or "")


def score_trend(project, plugin, max_points: int = 12) -> list[tuple[int, float]]:
    """[(run id, pillar score as of that run)] over the plugin's last *max_points* finished runs:
    the plugin's own score function over the latest run of each target *at that time*."""
    from workbench.core.plugin_store import PluginStore

    class AsOf(PluginStore):
        def __init__(self, cutoff: int):
            super().__init__(project, plugin.id)
            self.cutoff = cutoff

        def runs(self, *, job=None, status="done"):
            return [r for r in super().runs(job=job, status=status) if r.id <= self.cutoff]

        def latest_runs(self, job=None):
            newest: dict = {}
            for r in self.runs(job=None):
                newest[(r.job, r.target)] = r
            return sorted((r for r in newest.values() if job is None or r.job == job), key=lambda r: r.id)

    if plugin.id in getattr(project, "plugin_failures", {}):
        return []
    out = []
    for run in project.runs(plugin=plugin.id, status="done")[-max_points:]:
        try:
            value = plugin.score(AsOf(run["id"]))
        except Exception:  # a plugin's scoring bug leaves a gap, not a crash
            value = None
        if value is not None:
            out.append((run["id"], float(value)))
    return out
