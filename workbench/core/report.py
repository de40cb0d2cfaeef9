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
from workbench.core import summary as _summary

# The Overview's helpers live in summary (no data classes to build for them at start-up); the
# report uses them and they are imported from here too.
CONFIDENCE_WEIGHT = _summary.CONFIDENCE_WEIGHT
SEVERITY_COLORS = _summary.SEVERITY_COLORS
SEVERITY_WEIGHT = _summary.SEVERITY_WEIGHT
_duration = _summary._duration
_fmt_time = _summary._fmt_time
_where = _summary._where
readable_title = _summary.readable_title
risk_rank = _summary.risk_rank
score_trend = _summary.score_trend
top_risks = _summary.top_risks


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
    template: str = "full"
    project_id: str = ""
    #: one per loaded plugin, in the registry's order
    scores: list["PillarScore"] = field(default_factory=list)
    posture: float | None = None
    posture_formula: str = ""
    verdict: str = ""
    #: what the reader should know first, in plain words (cover and executive summary)
    summary: list[str] = field(default_factory=list)
    #: the filters the report was made with, in words ("" when none)
    filters: str = ""
    #: sections after the plugin sections (every finding, runs, versions, integrity)
    appendix: list[Section] = field(default_factory=list)
    #: filled by the renderer: the signature block printed on the last page
    signature: dict = field(default_factory=dict)
    #: the audit log's head when the report was made ({"id", "hash", "ts"}): a signed report carries
    #: it, so a later rollback or rewrite of the project's log shows against the report
    events_head: dict = field(default_factory=dict)
    #: what went wrong while building it (a plugin section that raised), in words; said in place too
    problems: list[str] = field(default_factory=list)


@dataclass
class PillarScore:
    plugin_id: str
    title: str
    score: float | None  # None: not assessed
    weight: float
    runs: int = 0


def severity_chart(title: str, counts: dict[str, int]) -> BarChart:
    """One bar per severity, each in its severity's colour."""
    order = list(reversed(SEVERITIES))
    # One series per severity, each only in its own column, so that each bar gets its colour.
    series = {s: [float(counts.get(s, 0)) if c == s else 0.0 for c in order] for s in order}
    return BarChart(title, order, series, colors=SEVERITY_COLORS)


# ------------------------------------------------------------------ options
TEMPLATES = ("full", "executive")
TRIAGE_LABELS = {"open": "open", "false_positive": "false positive", "accepted_risk": "accepted risk",
                 "fixed": "fixed", "suppressed": "suppressed in source"}
WEIGHTS_META_KEY = "score_weights"


@dataclass
class ReportOptions:
    """What a report shows. Filters narrow the findings listed, never the scores: a score
    describes the whole project, so filtering cannot make it look better."""

    template: str = "full"
    min_severity: str = "LOW"
    min_confidence: str = "LOW"
    plugins: list[str] = field(default_factory=list)  # empty: every plugin
    statuses: list[str] = field(default_factory=list)  # empty: every triage status

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise ValueError(f"template must be one of {TEMPLATES}, got {self.template!r}")
        self.min_severity = self.min_severity.upper()
        self.min_confidence = self.min_confidence.upper()
        for name, value in (("min_severity", self.min_severity), ("min_confidence", self.min_confidence)):
            if value not in SEVERITIES:
                raise ValueError(f"{name} must be one of {SEVERITIES}, got {value!r}")
        for status in self.statuses:
            if status not in TRIAGE_LABELS:
                raise ValueError(f"status must be one of {tuple(TRIAGE_LABELS)}, got {status!r}")

    def as_dict(self) -> dict:
        return {"template": self.template, "min_severity": self.min_severity,
                "min_confidence": self.min_confidence, "plugins": list(self.plugins),
                "statuses": list(self.statuses)}

    def describe(self) -> str:
        parts = []
        if self.min_severity != "LOW":
            parts.append(f"severity {self.min_severity} and above")
        if self.min_confidence != "LOW":
            parts.append(f"confidence {self.min_confidence} and above")
        if self.plugins:
            parts.append("plugins " + ", ".join(self.plugins))
        if self.statuses:
            parts.append("status " + ", ".join(TRIAGE_LABELS[s] for s in self.statuses))
        return "; ".join(parts)

    def keeps(self, finding: dict) -> bool:
        from workbench.core.findings import SEVERITY_RANK, finding_status

        if SEVERITY_RANK[finding["severity"]] < SEVERITY_RANK[self.min_severity]:
            return False
        if SEVERITY_RANK[finding["confidence"]] < SEVERITY_RANK[self.min_confidence]:
            return False
        if self.plugins and finding["plugin"] not in self.plugins:
            return False
        status = finding_status(finding.get("source_status"), finding.get("triage_status"))
        return not self.statuses or status in self.statuses


def _options(options) -> ReportOptions:
    if isinstance(options, ReportOptions):
        return options
    return ReportOptions(**(options or {}))


# ------------------------------------------------------------------ scores
def score_weights(project, plugin_ids) -> dict[str, float]:
    """The pillar weights of the overall posture: a project setting (meta ``score_weights``),
    1 for a pillar the setting does not name."""
    try:
        stored = json.loads(project.meta(WEIGHTS_META_KEY) or "{}")
    except ValueError:
        stored = {}
    out = {}
    for pid in plugin_ids:
        try:
            out[pid] = max(0.0, float(stored.get(pid, 1.0)))
        except (TypeError, ValueError):
            out[pid] = 1.0
    return out


def set_score_weights(project, weights: dict[str, float]) -> None:
    """Store the posture weights in the project (logged, so a changed weighting is visible)."""
    clean = {}
    for pid, w in weights.items():
        w = float(w)
        if not (w >= 0.0) or w == float("inf"):
            raise ValueError(f"weight of {pid!r} must be a finite number >= 0, got {w!r}")
        clean[str(pid)] = w
    current = json.loads(project.meta(WEIGHTS_META_KEY) or "{}")
    current.update(clean)
    project.set_meta(WEIGHTS_META_KEY, json.dumps(current, sort_keys=True))
    project.log_event("settings", "posture weights set: " + ", ".join(f"{k}={v:g}" for k, v in sorted(clean.items())),
                      data={"score_weights": current})


def pillar_scores(project, registry) -> list[PillarScore]:
    from workbench.core.plugin_store import PluginStore

    plugins = list(registry.plugins) if registry is not None else []
    weights = score_weights(project, [p.id for p in plugins])
    out = []
    for plugin in plugins:
        score = None
        if plugin.id not in getattr(project, "plugin_failures", {}):
            try:
                score = plugin.score(PluginStore(project, plugin.id))
            except Exception:  # a plugin's scoring bug reads "not assessed", never a made-up number
                score = None
        n_runs = len(project.runs(plugin=plugin.id, status="done"))
        if not n_runs:
            score = None
        out.append(PillarScore(plugin.id, plugin.title, None if score is None else float(score),
                               weights[plugin.id], n_runs))
    return out


def posture(scores: list[PillarScore]) -> tuple[float | None, str]:
    """Weighted mean of the assessed pillars, and the formula with the numbers filled in."""
    assessed = [s for s in scores if s.score is not None and s.weight > 0]
    if not assessed:
        return None, "posture = not assessed (no pillar has a finished run)"
    total_w = sum(s.weight for s in assessed)
    value = sum(s.weight * s.score for s in assessed) / total_w
    terms = " + ".join(f"{s.weight:g}×{s.score:.0f}" for s in assessed)
    missing = [s.title for s in scores if s.score is None]
    text = (f"posture = Σ wᵢ·sᵢ / Σ wᵢ = ({terms}) / {total_w:g} = {value:.0f}")
    if missing:
        text += "; not assessed, left out: " + ", ".join(missing)
    return value, text


def verdict(value: float | None, open_high: int) -> str:
    if value is None:
        return "Not assessed: no pillar has been run yet"
    if open_high:
        return (f"Action required: {open_high} open HIGH finding{'s' if open_high != 1 else ''} "
                f"(posture {value:.0f}/100)")
    if value >= 80:
        return f"Acceptable: posture {value:.0f}/100, no open HIGH finding"
    if value >= 50:
        return f"Needs work: posture {value:.0f}/100, no open HIGH finding"
    return f"Weak: posture {value:.0f}/100"


def latest_findings(project) -> list[dict]:
    """Every finding of the latest run of each target (all plugins), with triage joined in."""
    out = []
    for run_id in project.latest_run_ids():
        out.extend(project.findings(run_id=run_id))
    return out


# ------------------------------------------------------------------ sections
def readable_value(value) -> str:
    """A parameter value as a person reads it: lists joined, dicts as key: value, no JSON braces."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable_value(v)}" for k, v in value.items())
    return str(value)


def readable_params(params) -> str:
    """One "name: value" line per parameter that was set; the unset ones named on one line."""
    if not isinstance(params, dict):
        return readable_value(params)
    unset = [k for k, v in params.items() if v is None or v == "" or v == [] or v == {}]
    lines = [f"{k}: {readable_value(v)}" for k, v in params.items() if k not in unset]
    if unset:
        lines.append("defaults: " + ", ".join(unset))
    return "\n".join(lines)


def _evidence_text(evidence: dict) -> str:
    """The stored (already masked) evidence: the code snippet or detail, never a raw value."""
    if isinstance(evidence, str):  # stored before evidence was checked to be a dict: shown, not dropped
        return evidence.strip()
    if not isinstance(evidence, dict):
        return ""
    for key in ("snippet", "code", "masked", "detail"):
        value = evidence.get(key)
        if value:
            return str(value).strip()
    return ""


def runs_section(project) -> Section:
    runs = project.runs()
    blocks = [Paragraph(f"{len(runs)} run(s) recorded in this project. Each run's parameters are listed "
                        f"as given, one per line.")]
    rows = []
    for r in runs:
        lines = readable_params(r.get("params") or {})
        rows.append([r["id"], r["title"] or f"{r['plugin']}.{r['job']}", r["status"],
                     _fmt_time(r["started"] or r["created"]), _duration(r), lines or "—"])
    blocks.append(Table(["#", "Run", "Status", "Started", "Took", "Parameters"], rows,
                        max_rows=len(rows) or 1, widths=[4, 20, 9, 17, 7, 43]))
    return Section("Runs and their parameters", blocks)


def counts_section(project) -> Section:
    counts = project.finding_counts()
    plugins = sorted(counts)
    if plugins:
        rows = [[p] + [counts[p].get(s, 0) for s in reversed(SEVERITIES)] + [sum(counts[p].values())]
                for p in plugins]
        chart = BarChart("Open findings by plugin and severity", plugins,
                         {s: [float(counts[p].get(s, 0)) for p in plugins] for s in reversed(SEVERITIES)},
                         colors=SEVERITY_COLORS)
        blocks = [
            Paragraph("Open findings of the latest run of each target: findings suppressed in the source "
                      "or triaged as false positive, accepted risk or fixed are not counted."),
            Table(["Plugin", "High", "Medium", "Low", "Total"], rows),
            chart,
        ]
    else:
        blocks = [Paragraph("No findings recorded yet.", style="note")]
    return Section("Findings by plugin and severity", blocks)


def core_sections(project) -> list[Section]:
    """The core's own sections (kept for callers of the first report API)."""
    return [runs_section(project), counts_section(project)]


def findings_section(findings: list[dict], options: ReportOptions, titles: dict[str, str]) -> Section:
    """Every finding kept by the filters, with full message, masked evidence, CWE and triage."""
    from workbench.core.findings import SEVERITY_RANK, finding_status

    kept = [f for f in findings if options.keeps(f)]
    kept.sort(key=lambda f: (-SEVERITY_RANK[f["severity"]], -SEVERITY_RANK[f["confidence"]], f["plugin"],
                             f.get("path") or "", f.get("line") or 0))
    intro = (f"{len(kept)} finding(s) of the latest run of each target"
             + (f" ({options.describe()})" if options.describe() else "")
             + ". Evidence is shown as stored: secrets are masked before they are saved.")
    rows = []
    for f in kept:
        status = finding_status(f.get("source_status"), f.get("triage_status"))
        status_text = TRIAGE_LABELS.get(status, status)
        if f.get("triage_justification"):
            status_text += f": {f['triage_justification']}"
        detail = f["message"] or ""
        evidence = _evidence_text(f.get("evidence") or {})
        if evidence:
            detail += f"\nEvidence: {evidence}"
        rows.append([f["severity"], f["confidence"],
                     f"{titles.get(f['plugin'], f['plugin'])}\n{f['rule']}" + (f"\nCWE-{f['cwe']}" if f.get("cwe") else ""),
                     f"{readable_title(f['title'])}\n{_where(f)}", detail, status_text])
    blocks: list = [Paragraph(intro)]
    if rows:
        blocks.append(Table(["Severity", "Confidence", "Source", "Finding", "Detail and remediation", "Status"],
                            rows, max_rows=len(rows), widths=[11, 11, 13, 19, 31, 15]))
    return Section("All findings", blocks)


def _summary_lines(scores, value, formula, findings, project) -> list[str]:
    from workbench.core.findings import is_open

    open_f = [f for f in findings if is_open(f)]
    by_sev = {s: sum(1 for f in open_f if f["severity"] == s) for s in SEVERITIES}
    assessed = [s for s in scores if s.score is not None]
    lines = []
    if assessed:
        lines.append(f"{len(assessed)} of {len(scores)} pillars were assessed: "
                     + ", ".join(f"{s.title} {s.score:.0f}/100" for s in assessed) + ".")
    not_assessed = [s.title for s in scores if s.score is None]
    if not_assessed:
        lines.append("Not assessed (no finished run, so no score is given): " + ", ".join(not_assessed) + ".")
    lines.append(f"{len(open_f)} finding(s) are open over the latest run of each target: "
                 f"{by_sev['HIGH']} high, {by_sev['MEDIUM']} medium, {by_sev['LOW']} low; "
                 f"{len(findings) - len(open_f)} more are suppressed in the source or triaged.")
    targets = len(project.latest_run_ids())
    lines.append(f"The scores and counts cover {targets} target(s), the latest finished run of each, "
                 f"not only the newest run.")
    return lines


def scope_section(project, scores, options: ReportOptions) -> Section:
    runs = project.runs()
    latest = set(project.latest_run_ids())
    rows = []
    for r in runs:
        if r["id"] in latest:
            rows.append([next((s.title for s in scores if s.plugin_id == r["plugin"]), r["plugin"]),
                         r.get("target") or "(no target)", f"#{r['id']}",
                         _fmt_time(r.get("finished") or r.get("started"))])
    blocks: list = [Paragraph("In scope: the targets below, each as of its latest finished run. Earlier runs "
                              "of the same target are kept in the project and listed in the appendix.")]
    if rows:
        blocks.append(Table(["Pillar", "Target", "Run", "Finished"], rows, max_rows=len(rows),
                            widths=[18, 50, 7, 25]))
    excluded = [f"{s.title}: not assessed (no finished run)" for s in scores if s.score is None]
    failed = [r for r in runs if r["status"] in ("failed", "interrupted", "cancelled")]
    excluded += [f"run #{r['id']} {r['title'] or r['job']}: {r['status']}, its results are not counted"
                 for r in failed]
    if options.describe():
        excluded.append(f"findings listed are filtered ({options.describe()}); scores are not")
    blocks.append(Paragraph("Exclusions: " + ("; ".join(excluded) if excluded else "none") + "."))
    return Section("Scope and exclusions", blocks)


#: The Method line of a pillar whose plugin does not describe its method (``Plugin.method``).
GENERIC_METHOD = "Assessed by the plugin of the same name."


def method_section(scores, plugins=()) -> Section:
    """What each pillar did, in its plugin's own words (``Plugin.method``), with its score and weight."""
    methods = {p.id: (getattr(p, "method", "") or "").strip() for p in plugins}
    blocks = [Paragraph("Each pillar is assessed by its own tool, offline, on this workstation; every run, "
                        "its parameters and its results are kept in the project file, whose audit log is "
                        "hash-chained. Each pillar gives a score from 0 (worst) to 100 (best):")]
    rows = []
    for s in scores:
        rows.append([s.title, methods.get(s.plugin_id) or GENERIC_METHOD,
                     "not assessed" if s.score is None else f"{s.score:.0f}/100", f"{s.weight:g}"])
    if rows:
        blocks.append(Table(["Pillar", "What was done", "Score", "Weight"], rows, widths=[18, 62, 12, 8]))
    blocks.append(Paragraph("A finding's risk is its severity weight (high 10, medium 4, low 1) times its "
                            "confidence weight (high 1.0, medium 0.7, low 0.4); the top risks are listed in that "
                            "order. The overall posture is the weighted mean of the assessed pillars' scores; the "
                            "weights are a setting of the project.", style="note"))
    return Section("Method", blocks)


def build_report(project, registry=None, options=None, *, chain=None) -> Report:
    """Collect the scores, the core's and every loaded plugin's sections into one report."""
    import getpass
    import platform

    from workbench.core.findings import is_open
    from workbench.core.plugin_store import PluginStore
    from workbench.core.versions import versions

    opts = _options(options)
    plugins = list(registry.plugins) if registry is not None else []
    titles = {p.id: p.title for p in plugins}
    scores = pillar_scores(project, registry)
    value, formula = posture(scores)
    findings = latest_findings(project)
    open_high = sum(1 for f in findings if is_open(f) and f["severity"] == "HIGH")
    summary = _summary_lines(scores, value, formula, findings, project)
    # what a score means, said by its plugin on the cover beside it (robustness: the protocol R is measured under)
    for plugin, s in zip(plugins, scores):
        detail = getattr(plugin, "score_detail", None)
        if s.score is not None and callable(detail):
            try:
                summary.append(f"{s.title} {s.score:.0f}/100 — {detail(PluginStore(project, plugin.id))}")
            except Exception:  # a plugin's bug must not cost the report; the score stands without its detail
                pass

    top = top_risks(findings, 10)
    top_rows = [[f["severity"], f["confidence"], titles.get(f["plugin"], f["plugin"]),
                 f"{readable_title(f['title'])}\n{_where(f)}", f["message"]] for f in top]
    exec_blocks: list = [Paragraph(line) for line in summary]
    exec_blocks.append(Paragraph("Top open risks (severity × confidence)", style="heading"))
    if top_rows:
        exec_blocks.append(Table(["Severity", "Confidence", "Pillar", "Finding", "What to do"], top_rows,
                                 max_rows=len(top_rows), widths=[11, 11, 13, 25, 40]))
    else:
        exec_blocks.append(Paragraph("No open finding.", style="note"))
    sections = [Section("Executive summary", exec_blocks), scope_section(project, scores, opts),
                method_section(scores, plugins)]

    appendix: list[Section] = []
    problems: list[str] = []
    if opts.template == "full":
        sections.append(counts_section(project))
        for plugin in plugins:
            if opts.plugins and plugin.id not in opts.plugins:
                continue
            if plugin.id in getattr(project, "plugin_failures", {}):
                sections.append(Section(plugin.title, [Paragraph(
                    f"This plugin cannot use this project: {project.plugin_failures[plugin.id]}", style="warning")],
                    plugin=plugin.id))
                continue
            try:
                sections.extend(plugin.report_sections(PluginStore(project, plugin.id), opts.as_dict()) or [])
            except Exception as exc:  # one plugin's bug must not cost the whole report: said in place
                problems.append(f"plugin {plugin.id}: its report section failed ({type(exc).__name__}: {exc})")
                sections.append(Section(plugin.title, [Paragraph(
                    f"This plugin failed to produce its section: {type(exc).__name__}: {exc}", style="warning")],
                    plugin=plugin.id))
        sections.append(findings_section(findings, opts, titles))
        appendix.append(runs_section(project))
    machine = [("Host", platform.node() or "unknown"), ("User", getpass.getuser()),
               ("System", platform.platform()), ("Processor", platform.machine() or "unknown")]
    appendix.append(Section("Tools and machine", [KeyValues(list(versions().items()) + [
        (f"plugin {p.title}", p.version) for p in plugins]), KeyValues(machine)]))

    chain = chain if chain is not None else project.verify_events()
    head = project.conn.execute("SELECT id, hash, ts FROM events ORDER BY id DESC LIMIT 1").fetchone()
    return Report(
        events_head={"id": head[0], "hash": head[1], "ts": head[2]} if head else {},
        problems=problems,
        audit_log=(chain.ok, chain.message, chain.head or ""),
        title="AI Security Workbench — assessment summary",
        project_name=project.name,
        project_path=str(project.path),
        generated=_dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        state_sha256=project.state_sha256(),
        versions=versions(),
        sections=sections,
        template=opts.template,
        project_id=project.project_id,
        scores=scores,
        posture=value,
        posture_formula=formula,
        verdict=verdict(value, open_high),
        summary=summary,
        filters=opts.describe(),
        appendix=appendix,
    )


def content_sha256(report: Report) -> str:
    """SHA-256 of the report's content (everything but the signature block), canonical JSON:
    what the signature covers, independent of how the PDF or HTML lays it out."""
    import hashlib
    from dataclasses import asdict

    data = asdict(report)
    data.pop("signature", None)
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
