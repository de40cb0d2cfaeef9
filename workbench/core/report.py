"""The report as data: plugins return sections, the GUI layer renders them to PDF.

Nothing here knows about Qt. A section is a heading and a list of blocks
(paragraphs, tables, key/value lists, bar charts).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Union

from workbench.core.findings import SEVERITIES


@dataclass
class Paragraph:
    text: str
    style: str = "normal"  # normal | note | warning


@dataclass
class Table:
    columns: list[str]
    rows: list[list]
    caption: str = ""
    #: rows beyond this are summarised as "… and N more" (a report stays readable)
    max_rows: int = 200
    #: relative column widths in percent (None: let the layout decide)
    widths: list[int] | None = None


@dataclass
class KeyValues:
    items: list[tuple[str, str]]


@dataclass
class BarChart:
    title: str
    categories: list[str]
    series: dict[str, list[float]]
    stacked: bool = True
    #: colours by series name; the renderer picks defaults for the others
    colors: dict[str, str] = field(default_factory=dict)


@dataclass
class LineChart:
    """Curves over a shared numeric x axis (robust accuracy against epsilon, a metric over time)."""

    title: str
    x_label: str
    y_label: str
    #: {curve name: [(x, y), ...]}
    series: dict[str, list[tuple[float, float]]]
    colors: dict[str, str] = field(default_factory=dict)
    y_range: tuple[float, float] | None = None


Block = Union[Paragraph, Table, KeyValues, BarChart, LineChart]


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)
    plugin: str | None = None


@dataclass
class Report:
    title: str
    project_name: str
    project_path: str
    generated: str
    state_sha256: str
    versions: dict[str, str]
    sections: list[Section] = field(default_factory=list)
    #: (intact?, what the hash-chain check says, the newest entry's hash)
    audit_log: tuple[bool, str, str] = (True, "", "")


SEVERITY_COLORS = {"HIGH": "#c0392b", "MEDIUM": "#e67e22", "LOW": "#f1c40f"}


def severity_chart(title: str, counts: dict[str, int]) -> BarChart:
    """One bar per severity, each in its severity's colour."""
    order = list(reversed(SEVERITIES))
    # One series per severity, each only in its own column, so that each bar gets its colour.
    series = {s: [float(counts.get(s, 0)) if c == s else 0.0 for c in order] for s in order}
    return BarChart(title, order, series, colors=SEVERITY_COLORS)


def _fmt_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return _dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _duration(run: dict) -> str:
    from workbench.core.progress import format_duration

    try:
        a = _dt.datetime.fromisoformat(run["started"])
        b = _dt.datetime.fromisoformat(run["finished"])
    except (TypeError, ValueError, KeyError):
        return ""
    return format_duration((b - a).total_seconds())


def core_sections(project) -> list[Section]:
    """The core's own sections: the runs, and open findings by plugin and severity."""
    runs = project.runs()
    run_rows = []
    for r in runs:
        params = json.dumps(r["params"], sort_keys=True)
        run_rows.append([r["id"], r["title"] or f"{r['plugin']}.{r['job']}", r["status"],
                         _fmt_time(r["started"] or r["created"]), _duration(r),
                         params if len(params) <= 90 else params[:87] + "…"])
    runs_section = Section("Runs", plugin=None, blocks=[
        Paragraph(f"{len(runs)} run(s) recorded in this project, with their parameters as given."),
        Table(["#", "Run", "Status", "Started", "Took", "Parameters"], run_rows),
    ])
    counts = project.finding_counts()
    plugins = sorted(counts)
    if plugins:
        rows = [[p] + [counts[p].get(s, 0) for s in reversed(SEVERITIES)] + [sum(counts[p].values())]
                for p in plugins]
        chart = BarChart("Open findings by plugin and severity", plugins,
                         {s: [float(counts[p].get(s, 0)) for p in plugins] for s in reversed(SEVERITIES)},
                         colors=SEVERITY_COLORS)
        findings_blocks = [
            Paragraph("Open findings of the latest run of each target: findings suppressed in the source "
                      "or triaged as false positive, accepted risk or fixed are not counted."),
            Table(["Plugin", "High", "Medium", "Low", "Total"], rows),
            chart,
        ]
    else:
        findings_blocks = [Paragraph("No findings recorded yet.", style="note")]
    return [runs_section, Section("Findings by plugin and severity", findings_blocks)]


def build_report(project, registry=None, options: dict | None = None) -> Report:
    """Collect the core's and every loaded plugin's sections into one report."""
    from workbench.core.versions import versions

    from workbench.core.plugin_store import PluginStore

    sections = core_sections(project)
    if registry is not None:
        for plugin in registry.plugins:
            if plugin.id in getattr(project, "plugin_failures", {}):
                sections.append(Section(plugin.title, [Paragraph(
                    f"This plugin cannot use this project: {project.plugin_failures[plugin.id]}", style="warning")],
                    plugin=plugin.id))
                continue
            try:
                sections.extend(plugin.report_sections(PluginStore(project, plugin.id), options or {}) or [])
            except Exception as exc:  # one plugin's bug must not cost the whole report
                sections.append(Section(plugin.title, [Paragraph(
                    f"This plugin failed to produce its section: {type(exc).__name__}: {exc}", style="warning")],
                    plugin=plugin.id))
    chain = project.verify_events()
    return Report(
        audit_log=(chain.ok, chain.message, chain.head or ""),
        title="AI Security Workbench — assessment summary",
        project_name=project.name,
        project_path=str(project.path),
        generated=_dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        state_sha256=project.state_sha256(),
        versions=versions(),
        sections=sections,
    )
