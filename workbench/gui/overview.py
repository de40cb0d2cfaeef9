"""The Overview tab: pillar score cards with their trend, the top open risks across plugins (a
double-click opens the plugin's tab), what has not been assessed, runs, targets and counts."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.findings import OPEN_SQL, SEVERITIES
from workbench.core.plugin_store import PluginStore
from workbench.core.report import (
    SEVERITY_COLORS,
    BarChart,
    _duration,
    _fmt_time,
    _where,
    latest_findings,
    readable_title,
    score_trend,
    top_risks,
)
from workbench.gui.records_model import RecordsModel, fit_columns, records_view
from workbench.gui.theme import is_dark

STATUS_COLORS = {"done": "#1e8449", "failed": "#b03a2e", "interrupted": "#b9770e", "cancelled": "#7f8c8d",
                 "running": "#2e86c1", "queued": "#7f8c8d"}


def score_color(score: float | None) -> str:
    if score is None:
        return "#7f8c8d"
    return "#1e8449" if score >= 80 else "#b9770e" if score >= 50 else "#b03a2e"


class ScoreCard(QFrame):
    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        layout = QVBoxLayout(self)
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignCenter)
        self.value = QLabel("–")
        self.value.setAlignment(Qt.AlignCenter)
        title_font = self.title.font()
        title_font.setBold(True)
        self.title.setFont(title_font)
        font = self.value.font()
        font.setPointSize(font.pointSize() * 2)
        font.setBold(True)
        self.value.setFont(font)
        self.trend = QLabel()
        self.trend.setAlignment(Qt.AlignCenter)
        self.trend.setMinimumHeight(24)
        self.next_step = QLabel()
        self.next_step.setAlignment(Qt.AlignCenter)
        self.next_step.setWordWrap(True)
        self.next_step.setTextFormat(Qt.PlainText)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.trend)
        layout.addWidget(self.next_step)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Maximum)
        self.setCursor(Qt.PointingHandCursor)
        self.on_click = None  # set by the overview: opens the plugin's tab
        self.points: list[tuple[int, float]] = []

    def set_next_step(self, text: str) -> None:
        self.next_step.setText(text)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self.on_click is not None:
            self.on_click()
        super().mouseReleaseEvent(event)

    def set_trend(self, points: list[tuple[int, float]]) -> None:
        """A sparkline of the score over the plugin's runs (one point per finished run)."""
        self.points = points
        if len(points) < 2:
            self.trend.setPixmap(QPixmap())
            self.trend.setText("" if not points else "first run")
            return
        self.trend.setText("")
        self.trend.setPixmap(sparkline([v for _, v in points], 96, 24, score_color(points[-1][1])))
        self.trend.setToolTip("Score after each run: " + ", ".join(f"#{r}: {v:.0f}" for r, v in points))

    def set_score(self, score: float | None) -> None:
        self.value.setText("not assessed" if score is None else f"{score:.0f}<span style='font-size:small'> / 100</span>")
        self.value.setTextFormat(Qt.RichText)
        self.value.setStyleSheet(f"color: {score_color(score)}")
        self.setToolTip("Pillar score, 0 (worst) to 100 (best)" if score is not None
                        else "Run this plugin to get a score")


def sparkline(values: list[float], width: int, height: int, color: str) -> QPixmap:
    """A small line of 0-100 values, newest on the right."""
    ratio = 2  # drawn at twice the size so it stays sharp on high-density screens
    pix = QPixmap(width * ratio, height * ratio)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(QPen(QColor("#999"), 1))
    p.drawLine(0, pix.height() - 1, pix.width(), pix.height() - 1)
    pad = 3 * ratio
    step = (pix.width() - 2 * pad) / max(len(values) - 1, 1)
    pts = [QPointF(pad + i * step, pad + (pix.height() - 2 * pad) * (1 - max(0.0, min(100.0, v)) / 100))
           for i, v in enumerate(values)]
    p.setPen(QPen(QColor(color), 2 * ratio))
    for a, b in zip(pts, pts[1:]):
        p.drawLine(a, b)
    p.setBrush(QColor(color))
    p.drawEllipse(pts[-1], 2.5 * ratio, 2.5 * ratio)
    p.end()
    pix.setDevicePixelRatio(ratio)
    return pix


class ChartLabel(QLabel):
    """Shows a chart image scaled to fit, re-scaled when resized."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._image = None
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(240, 120)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)

    def set_image(self, image) -> None:
        self._image = image
        self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is not None:
            self.setPixmap(QPixmap.fromImage(self._image).scaled(
                self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))


class TargetStore(PluginStore):
    """A plugin's store narrowed to one target: "the latest run of every target" is that one
    run, so the plugin's own score function gives the target's score."""

    def __init__(self, project, plugin_id: str, run_id: int):
        super().__init__(project, plugin_id)
        self.run_id = run_id
        self.narrowed = False  # whether the score asked for the latest runs (else it is project-wide)

    def latest_runs(self, job: str | None = None) -> list[dict]:
        self.narrowed = True
        return [r for r in super().latest_runs(job) if r["id"] == self.run_id]

    def latest_run(self, target: str | None = None, job: str | None = None) -> dict | None:
        runs = self.latest_runs(job)
        return runs[-1] if runs and (target is None or runs[-1]["target"] == target) else None


def target_rows(project, registry) -> list[dict]:
    """One row per (plugin, job, target): its latest finished run, the plugin's score over that run
    alone, and its open findings by severity. This is what the project's scores and counts cover."""
    ids = project.latest_run_ids()
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    counts: dict[int, dict[str, int]] = {}
    for run_id, severity, n in project.conn.execute(
            f"SELECT f.run_id, f.severity, COUNT(*) FROM findings f LEFT JOIN triage t USING (fingerprint) "
            f"WHERE f.run_id IN ({marks}) AND {OPEN_SQL} GROUP BY f.run_id, f.severity", ids):
        counts.setdefault(run_id, {})[severity] = n
    plugins = {p.id: p for p in registry.plugins}
    rows = []
    for run_id in ids:
        run = project.run(run_id)
        plugin = plugins.get(run["plugin"])
        score = None
        if plugin is not None and run["plugin"] not in project.plugin_failures:
            store = TargetStore(project, plugin.id, run_id)
            try:
                score = plugin.score(store)
            except Exception:  # a plugin's scoring bug shows as "not assessed", not a crash
                score = None
            if not store.narrowed:
                score = None  # the score ignores targets: a per-target figure would be the project's
        sev = counts.get(run_id, {})
        rows.append({
            "plugin": plugin.title if plugin is not None else run["plugin"],
            "target": run.get("target") or "(no target)",
            "run": f"#{run_id} {_fmt_time(run.get('finished') or run.get('started'))}",
            "score": "–" if score is None else round(score),  # a number: aligned like the counts
            **{s: sev.get(s, 0) for s in SEVERITIES},
            "run_id": run_id,
        })
    rows.sort(key=lambda r: (r["plugin"], r["target"]))
    return rows


def next_step(title: str, score: float | None, open_counts: dict[str, int], runs: list[dict]) -> str:
    """What to do next for one pillar, in a few words: what a reviewer would ask first."""
    last = runs[-1] if runs else None
    if last is not None and last["status"] in ("failed", "interrupted"):
        return f"Last run {last['status']}: see Runs, then run again"
    if score is None:
        return f"Not assessed: open {title} and run it"
    for severity, verb in (("HIGH", "fix or triage"), ("MEDIUM", "review")):
        n = open_counts.get(severity, 0)
        if n:
            return f"{n} open {severity.lower()}: {verb} {'it' if n == 1 else 'them'}"
    if score < 80:
        return "Below 80: see the pillar's report section"
    return "Nothing open: re-run after changes"


class OverviewTab(QWidget):
    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window_ = window
        self.project = None
        layout = QVBoxLayout(self)
        self.heading = QLabel("No project open. File → New or File → Open (or drop a .wbproj here).")
        self.heading.setTextFormat(Qt.RichText)
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.scores_box = QHBoxLayout()
        layout.addLayout(self.scores_box)
        self.cards: dict[str, ScoreCard] = {}
        for plugin in window.registry.plugins:
            card = ScoreCard(plugin.title)
            card.on_click = lambda pid=plugin.id: self.window_.show_plugin_tab(pid)
            self.cards[plugin.id] = card
            self.scores_box.addWidget(card, 1)

        self.not_assessed = QLabel()
        self.not_assessed.setWordWrap(True)
        layout.addWidget(self.not_assessed)

        # The dashboard: the risks to act on take the most room; the chart beside them; runs and
        # targets one click away instead of four stacked tables of two rows each.
        split = QSplitter(Qt.Horizontal)
        risks_box = QWidget()
        kl = QVBoxLayout(risks_box)
        kl.setContentsMargins(0, 0, 0, 0)
        risks_label = QLabel("<b>Top open risks</b> (all pillars, highest severity × confidence first; "
                             "double-click to open the pillar's tab)")
        risks_label.setWordWrap(True)
        kl.addWidget(risks_label)
        self.risks_model = RecordsModel([("severity", "Severity"), ("confidence", "Confidence"),
                                         ("pillar", "Pillar"), ("title", "Finding"), ("where", "Where")])
        self.risks_view = records_view(self.risks_model, stretch_column=3)
        self.risks_view.doubleClicked.connect(self._open_risk)
        kl.addWidget(self.risks_view, 1)
        split.addWidget(risks_box)

        self.side = QTabWidget()
        self.side.setDocumentMode(True)
        findings_box = QWidget()
        grid = QVBoxLayout(findings_box)
        grid.setContentsMargins(0, 4, 0, 0)
        self.chart = ChartLabel()
        grid.addWidget(self.chart, 3)
        self.counts_model = RecordsModel([("plugin", "Pillar"), ("HIGH", "High"), ("MEDIUM", "Medium"),
                                          ("LOW", "Low"), ("total", "Total")])
        self.counts_view = records_view(self.counts_model, stretch_column=0)
        grid.addWidget(self.counts_view, 2)
        self.side.addTab(findings_box, "Open findings")

        self.targets_model = RecordsModel([("plugin", "Pillar"), ("target", "Target"), ("run", "Latest run"),
                                           ("score", "Score"), ("HIGH", "Open high"), ("MEDIUM", "Open medium"),
                                           ("LOW", "Open low")])
        self.targets_view = records_view(self.targets_model, stretch_column=1)
        self.targets_view.setTextElideMode(Qt.ElideMiddle)  # both ends of a long path stay readable
        self.targets_view.setToolTip("The latest run of each target: the scores and counts cover all of them")
        self.side.addTab(self.targets_view, "Targets")

        self.runs_model = RecordsModel(
            [("id", "#"), ("title", "Run"), ("status", "Status"), ("started", "Started"), ("took", "Took"),
             ("message", "Message")],
            formatters={"started": _fmt_time})
        self.runs_view = records_view(self.runs_model, stretch_column=5)
        self.side.addTab(self.runs_view, "Runs")
        split.addWidget(self.side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([700, 460])
        self.chart.setMinimumSize(240, 160)
        layout.addWidget(split, 1)
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(150)
        self._redraw.timeout.connect(self._redraw_chart)

    def set_project(self, project) -> None:
        self.project = project
        self.refresh()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._redraw.start()  # once the resizing settles: the chart's text stays at its size

    def _redraw_chart(self) -> None:
        if self.project is not None and self.project.conn is not None:
            self._draw_chart(self.project.finding_counts())

    def refresh(self) -> None:
        project = self.project
        if project is None or project.conn is None:
            self.heading.setText("No project open. File → New or File → Open (or drop a .wbproj here).")
            self.runs_model.set_rows([])
            self.counts_model.set_rows([])
            self.targets_model.set_rows([])
            self.risks_model.set_rows([])
            self.not_assessed.setText("")
            self.chart.set_image(None)
            self.chart.clear()
            for card in self.cards.values():
                card.set_score(None)
                card.set_trend([])
            return
        self.heading.setText(f"<h2>{project.name}</h2><span>{project.path}</span>")
        runs = project.runs()
        for r in runs:
            r["took"] = _duration(r)
            r["message"] = r.get("error", "").splitlines()[0] if r.get("error") else (r.get("message") or "")
        self.runs_model.set_rows(list(reversed(runs)))
        self.runs_view.resizeColumnsToContents()
        self.targets_model.set_rows(target_rows(project, self.window_.registry))
        fit_columns(self.targets_view, {1: 520})
        counts = project.finding_counts()
        titles = {p.id: p.title for p in self.window_.registry.plugins}
        rows = []
        for plugin in sorted(counts):
            row = {"plugin": titles.get(plugin, plugin), **{s: counts[plugin].get(s, 0) for s in SEVERITIES}}
            row["total"] = sum(counts[plugin].values())
            rows.append(row)
        self.counts_model.set_rows(rows)
        self._draw_chart(counts)
        from workbench.core.plugin_store import PluginStore

        missing = []
        for plugin in self.window_.registry.plugins:
            try:
                score = None if plugin.id in project.plugin_failures else plugin.score(PluginStore(project, plugin.id))
            except Exception:  # a plugin's scoring bug shows as "not assessed", not a crash
                score = None
            if not project.runs(plugin=plugin.id, status="done"):
                score = None  # no finished run: nothing was assessed, whatever the plugin says
            if plugin.id in self.cards:
                self.cards[plugin.id].set_score(score)
                self.cards[plugin.id].set_trend(score_trend(project, plugin) if score is not None else [])
                self.cards[plugin.id].set_next_step(next_step(plugin.title, score, counts.get(plugin.id, {}),
                                                              project.runs(plugin=plugin.id)))
            if score is None:
                missing.append(plugin.title)
        self.not_assessed.setText("<b>Not assessed yet:</b> " + ", ".join(missing) if missing
                                  else "Every pillar has been assessed.")
        self._fill_risks(project)

    def _fill_risks(self, project) -> None:
        titles = {p.id: p.title for p in self.window_.registry.plugins}
        rows = [{"severity": f["severity"], "confidence": f["confidence"],
                 "pillar": titles.get(f["plugin"], f["plugin"]), "plugin_id": f["plugin"],
                 "title": readable_title(f["title"]), "where": _where(f)}
                for f in top_risks(latest_findings(project), 20)]
        self.risks_model.set_rows(rows)
        fit_columns(self.risks_view, {3: 420, 4: 320})

    def _open_risk(self, index) -> None:
        if index.isValid():
            self.window_.show_plugin_tab(self.risks_model._rows[index.row()]["plugin_id"])

    def _draw_chart(self, counts) -> None:
        if not counts:
            self.chart.set_image(None)
            self.chart.setText("No findings yet.")
            return
        from workbench.render.pdf import draw_bar_chart

        titles = {p.id: p.title for p in self.window_.registry.plugins}
        plugins = sorted(counts)
        chart = BarChart("Open findings", [titles.get(p, p) for p in plugins],
                         {s: [float(counts[p].get(s, 0)) for p in plugins] for s in reversed(SEVERITIES)},
                         colors=SEVERITY_COLORS)
        # Drawn at about the size it is shown, so its text stays readable (never scaled down 4×).
        width, height = max(self.chart.width(), 320), max(self.chart.height(), 160)
        self.chart.set_image(draw_bar_chart(chart, width, height, dark=is_dark()))
