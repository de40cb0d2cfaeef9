"""The Overview tab: pillar scores, runs, and open findings per plugin and severity."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.findings import OPEN_SQL, SEVERITIES
from workbench.core.plugin_store import PluginStore
from workbench.core.report import SEVERITY_COLORS, BarChart, _duration, _fmt_time
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
        font = self.value.font()
        font.setPointSize(font.pointSize() * 2)
        font.setBold(True)
        self.value.setFont(font)
        layout.addWidget(self.title)
        layout.addWidget(self.value)

    def set_score(self, score: float | None) -> None:
        self.value.setText("not assessed" if score is None else f"{score:.0f}<span style='font-size:small'> / 100</span>")
        self.value.setTextFormat(Qt.RichText)
        self.value.setStyleSheet(f"color: {score_color(score)}")
        self.setToolTip("Pillar score, 0 (worst) to 100 (best)" if score is not None
                        else "Run this plugin to get a score")


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
            self.cards[plugin.id] = card
            self.scores_box.addWidget(card)
        self.scores_box.addStretch(1)

        split = QSplitter(Qt.Vertical)
        self.runs_model = RecordsModel(
            [("id", "#"), ("title", "Run"), ("status", "Status"), ("started", "Started"), ("took", "Took"),
             ("message", "Message")],
            formatters={"started": _fmt_time})
        self.runs_view = records_view(self.runs_model, stretch_column=5)
        runs_box = QWidget()
        rl = QVBoxLayout(runs_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("<b>Runs</b>"))
        rl.addWidget(self.runs_view)
        split.addWidget(runs_box)

        targets_box = QWidget()
        tl = QVBoxLayout(targets_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(QLabel("<b>Targets</b> (the latest run of each: the scores and counts cover all of them)"))
        self.targets_model = RecordsModel([("plugin", "Plugin"), ("target", "Target"), ("run", "Latest run"),
                                           ("score", "Score"), ("HIGH", "Open high"), ("MEDIUM", "Open medium"),
                                           ("LOW", "Open low")])
        self.targets_view = records_view(self.targets_model, stretch_column=1)
        self.targets_view.setTextElideMode(Qt.ElideMiddle)  # both ends of a long path stay readable
        tl.addWidget(self.targets_view)
        split.addWidget(targets_box)

        findings_box = QWidget()
        grid = QGridLayout(findings_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("<b>Open findings by plugin and severity</b> (latest run of each target)"), 0, 0, 1, 2)
        self.counts_model = RecordsModel([("plugin", "Plugin"), ("HIGH", "High"), ("MEDIUM", "Medium"),
                                          ("LOW", "Low"), ("total", "Total")])
        self.counts_view = QTableView()
        self.counts_view.setModel(self.counts_model)
        self.counts_view.verticalHeader().hide()
        grid.addWidget(self.counts_view, 1, 0)
        self.chart = ChartLabel()
        grid.addWidget(self.chart, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        split.addWidget(findings_box)
        split.setSizes([200, 160, 220])
        layout.addWidget(split, 1)

    def set_project(self, project) -> None:
        self.project = project
        self.refresh()

    def refresh(self) -> None:
        project = self.project
        if project is None or project.conn is None:
            self.heading.setText("No project open. File → New or File → Open (or drop a .wbproj here).")
            self.runs_model.set_rows([])
            self.counts_model.set_rows([])
            self.targets_model.set_rows([])
            self.chart.set_image(None)
            self.chart.clear()
            for card in self.cards.values():
                card.set_score(None)
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
        rows = []
        for plugin in sorted(counts):
            row = {"plugin": plugin, **{s: counts[plugin].get(s, 0) for s in SEVERITIES}}
            row["total"] = sum(counts[plugin].values())
            rows.append(row)
        self.counts_model.set_rows(rows)
        self._draw_chart(counts)
        from workbench.core.plugin_store import PluginStore

        for plugin in self.window_.registry.plugins:
            try:
                score = None if plugin.id in project.plugin_failures else plugin.score(PluginStore(project, plugin.id))
            except Exception:  # a plugin's scoring bug shows as "not assessed", not a crash
                score = None
            if plugin.id in self.cards:
                self.cards[plugin.id].set_score(score)

    def _draw_chart(self, counts) -> None:
        if not counts:
            self.chart.set_image(None)
            self.chart.setText("No findings yet.")
            return
        from workbench.render.pdf import draw_bar_chart

        plugins = sorted(counts)
        chart = BarChart("Open findings", plugins,
                         {s: [float(counts[p].get(s, 0)) for p in plugins] for s in reversed(SEVERITIES)},
                         colors=SEVERITY_COLORS)
        self.chart.set_image(draw_bar_chart(chart, 900, 380, dark=is_dark()))
