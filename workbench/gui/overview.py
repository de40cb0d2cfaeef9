"""The Overview tab: pillar score cards with their trend, the top open risks across plugins (a
double-click opens the plugin's tab), what has not been assessed, runs, targets and counts."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.findings import SEVERITIES
from workbench.core.plugin_store import PluginStore
from workbench.core.stored import RunRecord
from workbench.core.summary import (
    SEVERITY_COLORS,
    _duration,
    _fmt_time,
    _where,
    readable_title,
    score_trend,
    top_risks,
)
from workbench.gui.kit_charts import ChartLabel
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
        self._points: list[tuple[int, float]] = []
        self._trend_later = None  # computes the points just after the Overview's first paint

    @property
    def points(self) -> list[tuple[int, float]]:
        self.flush_trend()
        return self._points

    def defer_trend(self, compute) -> None:
        """Draw the trend from ``compute()`` at :meth:`flush_trend` (or when ``points`` is read)."""
        self._trend_later = compute

    def flush_trend(self) -> None:
        compute, self._trend_later = self._trend_later, None
        if compute is not None:
            self.set_trend(compute())

    def set_next_step(self, text: str) -> None:
        self.next_step.setText(text)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.LeftButton and self.on_click is not None:
            self.on_click()
        super().mouseReleaseEvent(event)

    def set_trend(self, points: list[tuple[int, float]]) -> None:
        """A sparkline of the score over the plugin's runs (one point per finished run)."""
        self._trend_later = None
        self._points = points
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
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor, QPainter, QPen  # drawn after the first paint: not imported before

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


class TargetStore(PluginStore):
    """A plugin's store narrowed to one target: "the latest run of every target" is that one
    run, so the plugin's own score function gives the target's score."""

    def __init__(self, project, plugin_id: str, run_id: int):
        super().__init__(project, plugin_id)
        self.run_id = run_id
        self.narrowed = False  # whether the score asked for the latest runs (else it is project-wide)

    def latest_runs(self, job: str | None = None) -> list[RunRecord]:
        self.narrowed = True
        return [r for r in super().latest_runs(job) if r.id == self.run_id]

    def latest_run(self, target: str | None = None, job: str | None = None) -> RunRecord | None:
        runs = self.latest_runs(job)
        return runs[-1] if runs and (target is None or runs[-1].target == target) else None


def target_rows(project, registry) -> list[dict]:
    """One row per (plugin, job, target): its latest finished run, the plugin's score over that run
    alone, and its open findings by severity. This is what the project's scores and counts cover."""
    ids = project.latest_run_ids()
    if not ids:
        return []
    counts = project.open_counts_by_run(ids)
    plugins = {p.id: p for p in registry.plugins}
    rows = []
    for run_id in ids:
        run = project.run_record(run_id)
        plugin = plugins.get(run.plugin)
        score = None
        if plugin is not None and run.plugin not in project.plugin_failures:
            store = TargetStore(project, plugin.id, run_id)
            try:
                score = plugin.score(store)
            except Exception:  # a plugin's scoring bug shows as "not assessed", not a crash
                score = None
            if not store.narrowed:
                score = None  # the score ignores targets: a per-target figure would be the project's
        sev = counts.get(run_id, {})
        rows.append({
            "plugin": plugin.title if plugin is not None else run.plugin,
            "target": run.target or "(no target)",
            "run": f"#{run_id} {_fmt_time(run.finished or run.started)}",
            "score": "–" if score is None else round(score),  # a number: aligned like the counts
            **{s: sev.get(s, 0) for s in SEVERITIES},
            "run_id": run_id,
        })
    rows.sort(key=lambda r: (r["plugin"], r["target"]))
    return rows


def _latest_records(project) -> list:
    """Every finding of the latest run of each target (report.latest_findings as records, read
    through the refresh's cache: the scores have read most of them already)."""
    plugin_of = {r.id: r.plugin for r in project.run_records()}
    return [f for run_id in project.latest_run_ids() for f in project.finding_records(run_id, plugin_of.get(run_id))]


def next_step(title: str, score: float | None, open_counts: dict[str, int], runs: list[RunRecord]) -> str:
    """What to do next for one pillar, in a few words: what a reviewer would ask first."""
    last = runs[-1] if runs else None
    if last is not None and last.status in ("failed", "interrupted"):
        return f"Last run {last.status}: see Runs, then run again"
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

        self._targets_model = RecordsModel([("plugin", "Pillar"), ("target", "Target"), ("run", "Latest run"),
                                            ("score", "Score"), ("HIGH", "Open high"), ("MEDIUM", "Open medium"),
                                            ("LOW", "Open low")])
        self._runs_model = RecordsModel(
            [("id", "#"), ("title", "Run"), ("status", "Status"), ("started", "Started"), ("took", "Took"),
             ("message", "Message")],
            formatters={"started": _fmt_time})
        # The Targets and Runs sub-tabs are hidden behind "Open findings": their views are built, and
        # filled, when shown or read (see targets_view), else just after the project's first paint
        # (targets score every target: ~15 ms of the project's first paint on the demo project).
        self._views: dict[str, QTableView] = {}
        self._stale: set[str] = set()
        for title in self._SUB_TABS.values():
            self.side.addTab(QWidget(), title)
        self.side.currentChanged.connect(lambda _index: self._fill_shown())
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
        # The chart (and the PDF renderer's import) and the trends: just after the Overview's first paint.
        self._chart_counts = None
        self._chart_later = QTimer(self)
        self._chart_later.setSingleShot(True)
        self._chart_later.setInterval(0)
        self._chart_later.timeout.connect(self._after_paint)

    #: the hidden sub-tabs, by part, in their order after "Open findings"
    _SUB_TABS = {"targets": "Targets", "runs": "Runs"}

    @property
    def targets_model(self) -> RecordsModel:
        self._fill("targets")
        return self._targets_model

    @property
    def runs_model(self) -> RecordsModel:
        self._fill("runs")
        return self._runs_model

    @property
    def targets_view(self) -> QTableView:
        return self._view("targets")

    @property
    def runs_view(self) -> QTableView:
        return self._view("runs")

    def _view(self, part: str) -> QTableView:
        """The sub-tab's table, built now in place of its placeholder if it never was."""
        view = self._views.get(part)
        if view is None:
            if part == "targets":
                view = records_view(self._targets_model, stretch_column=1)
                view.setTextElideMode(Qt.ElideMiddle)  # both ends of a long path stay readable
                view.setToolTip("The latest run of each target: the scores and counts cover all of them")
            else:
                view = records_view(self._runs_model, stretch_column=5)
            self._views[part] = view
            index = 1 + list(self._SUB_TABS).index(part)
            placeholder, current = self.side.widget(index), self.side.currentIndex()
            self.side.blockSignals(True)
            self.side.removeTab(index)
            self.side.insertTab(index, view, self._SUB_TABS[part])
            self.side.setCurrentIndex(current)
            self.side.blockSignals(False)
            placeholder.deleteLater()
        return view

    def _fill_shown(self) -> None:
        index = self.side.currentIndex()
        for part in self._SUB_TABS:
            if index == 1 + list(self._SUB_TABS).index(part):
                self._view(part)
                self._fill(part)

    def _fill(self, part: str) -> None:
        """Fill a hidden sub-tab the last refresh left stale, from the project as it is now."""
        if part not in self._stale:
            return
        self._stale.discard(part)
        project = self.project
        if project is None or project.conn is None:
            return
        if part == "runs":
            self._runs_model.set_rows([
                {"id": r.id, "title": r.title, "status": r.status, "started": r.started, "took": _duration(r),
                 "message": r.error.splitlines()[0] if r.error else (r.message or "")}
                for r in reversed(project.run_records())])
            self.runs_view.resizeColumnsToContents()  # (built now if it never was)
        else:
            with project.reading_findings_once():
                self._targets_model.set_rows(target_rows(project, self.window_.registry))
            fit_columns(self.targets_view, {1: 520})

    def _after_paint(self) -> None:
        """The chart, the score trends and the hidden sub-tabs, left by the last refresh for just
        after the paint."""
        counts, self._chart_counts = self._chart_counts, None
        project = self.project
        if project is None or project.conn is None:
            return
        if counts is not None:
            self._draw_chart(counts)
        with project.reading_findings_once():
            for card in self.cards.values():
                card.flush_trend()
            # Filled while still hidden, as before the deferral: the Target column's width is set
            # from the hidden view's size (filled on the click it came out narrower).
            self._fill("targets")
            self._fill("runs")

    def _trend(self, project, plugin) -> list[tuple[int, float]]:
        if project is not self.project or project.conn is None:
            return []  # closed or replaced since the refresh
        with project.reading_findings_once():
            return score_trend(project, plugin)

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
            self._refresh(project)
            return
        # The target's score, the pillar's score, its trend and the top risks all read the same runs'
        # findings: once each per refresh, not four times (100,000 findings take about a second).
        with project.reading_findings_once():
            self._refresh(project)

    def _refresh(self, project) -> None:
        if project is None or project.conn is None:
            self.heading.setText("No project open. File → New or File → Open (or drop a .wbproj here).")
            self._stale.clear()
            self._chart_counts = None
            self._chart_later.stop()
            self._runs_model.set_rows([])
            self.counts_model.set_rows([])
            self._targets_model.set_rows([])
            self.risks_model.set_rows([])
            self.not_assessed.setText("")
            self.chart.set_image(None)
            self.chart.clear()
            for card in self.cards.values():
                card.set_score(None)
                card.set_trend([])
            return
        self.heading.setText(f"<h2>{project.name}</h2><span>{project.path}</span>")
        runs = project.run_records()
        self._stale.update(("runs", "targets"))
        self._fill_shown()
        counts = project.finding_counts()
        titles = {p.id: p.title for p in self.window_.registry.plugins}
        rows = []
        for plugin in sorted(counts):
            row = {"plugin": titles.get(plugin, plugin), **{s: counts[plugin].get(s, 0) for s in SEVERITIES}}
            row["total"] = sum(counts[plugin].values())
            rows.append(row)
        self.counts_model.set_rows(rows)
        self._chart_counts = counts
        self._chart_later.start()
        from workbench.core.plugin_store import PluginStore

        missing = []
        for plugin in self.window_.registry.plugins:
            try:
                score = None if plugin.id in project.plugin_failures else plugin.score(PluginStore(project, plugin.id))
            except Exception:  # a plugin's scoring bug shows as "not assessed", not a crash
                score = None
            mine = [r for r in runs if r.plugin == plugin.id]
            if not any(r.done for r in mine):
                score = None  # no finished run: nothing was assessed, whatever the plugin says
            if plugin.id in self.cards:
                self.cards[plugin.id].set_score(score)
                if score is None:
                    self.cards[plugin.id].set_trend([])
                else:  # each run's score again: drawn just after the first paint (as the chart is)
                    self.cards[plugin.id].defer_trend(lambda p=plugin: self._trend(project, p))
                self.cards[plugin.id].set_next_step(next_step(plugin.title, score, counts.get(plugin.id, {}), mine))
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
                for f in top_risks(_latest_records(project), 20)]
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
        from workbench.core.report import BarChart
        from workbench.render.pdf import draw_bar_chart

        titles = {p.id: p.title for p in self.window_.registry.plugins}
        plugins = sorted(counts)
        chart = BarChart("Open findings", [titles.get(p, p) for p in plugins],
                         {s: [float(counts[p].get(s, 0)) for p in plugins] for s in reversed(SEVERITIES)},
                         colors=SEVERITY_COLORS)
        # Drawn at about the size it is shown, so its text stays readable (never scaled down 4×).
        width, height = max(self.chart.width(), 320), max(self.chart.height(), 160)
        self.chart.set_image(draw_bar_chart(chart, width, height, dark=is_dark()))
