"""The Monitor tab: live graphs per group, alerts, the rules editor and the log view.

Data path: the ``monitor`` job runs in a worker process and commits a batch
to the project every ``flush_every`` seconds (1 s when started here). A 1 Hz
timer reads what is new for the run on screen (raw samples, anomaly marks,
alerts, log hits) into the plot kit's ring buffers; a 30 Hz timer hands the
curves that changed to ``setData``, never one call per point. Peak
downsampling and clip-to-view keep a day of 1 Hz samples within a frame.
The graphs are the kit's themed plots: percentages on a fixed 0-100 axis,
rates SI-scaled, every series in the legend below its plot.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPlainTextEdit, QPushButton, QSizePolicy, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QTabWidget, QTextEdit, QVBoxLayout, QWidget)

from workbench.gui.api import LiveCurves, Plot, PlotGrid, PluginTab, is_dark

# title, series patterns, y axis (quantity, unit), fixed y range
GROUPS = (
    ("CPU", ("cpu.total", "cpu.core*", "proc.*.cpu_pct"), ("busy", "%"), (0, 100)),
    ("Memory", ("mem.used_pct", "swap.used_pct"), ("used", "%"), (0, 100)),
    ("Disk", ("disk.read_Bps", "disk.write_Bps"), ("read / write", "B/s"), None),
    ("Network", ("net.*.rx_Bps", "net.*.tx_Bps"), ("received / sent", "B/s"), None),
    ("GPU", ("gpu*.util_pct", "gpu*.mem_pct", "gpu*.temp_c"), ("use % · temperature °C", ""), (0, 100)),
    ("Jobs", ("job.*",), ("value", ""), None),
)
GPU, JOBS = 4, 5
CORES = os.cpu_count() or 1
WINDOWS = (("1 min", 60), ("10 min", 600), ("1 h", 3600), ("24 h", 86400))
JOB_POLL_MS = 250          # other plugins' job metrics: a few reads a second, only what is new
STEP_X_BELOW = 1e8         # a job series whose x is below this is per step (epoch, epsilon), not a time
CAPACITY = 86400
DRAW_HZ = 30


def _group_of(series: str) -> int | None:
    for i, (_, patterns, _, _) in enumerate(GROUPS):
        if any(fnmatch.fnmatchcase(series, p) for p in patterns):
            return i
    return None


def _spin(box, low, high, value, suffix, special="", tip=""):
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setSpecialValueText(special)  # shown at the minimum
    box.setToolTip(tip)
    return box


def _editor(text: str, button_text: str, save):
    """A JSON editor under its explanation, with its Save button."""
    box, edit, button = QWidget(), QPlainTextEdit(), QPushButton(button_text)
    button.clicked.connect(save)
    label = QLabel(text)
    label.setWordWrap(True)  # a long line would make the side panel as wide as itself
    layout = QVBoxLayout(box)
    for widget in (label, edit, button):
        layout.addWidget(widget, 1 if widget is edit else 0)
    return edit, button, box


class MonitorTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job = None
        self.run_id: int | None = None
        self.marks: dict[int, tuple[list, list]] = {}
        self._marks_dirty = False
        self._since: dict[str, float] = {}
        self._alerts_seen: set[str] = set()
        self._alert_rows: list = []   # the alerts on screen, repainted when the theme changes
        self._tier_since = 0.0
        # other plugins' series: (plugin, run id, series) -> newest x read; shown as job.<plugin>#<run>.<series>
        self._job_since: dict[tuple[str, int, str], float] = {}
        self._job_discovered = 0.0
        self._job_final: set[tuple[str, int, str]] = set()   # run ended: one last read due
        self._job_done: set[tuple[str, int, str]] = set()    # read after its run ended: not polled again
        self.step_series: set[str] = set()
        # older-than-raw history from the 1 min / 1 h tiers, per series: (tier, times, means)
        self._tier_fill: dict[str, tuple[str, object, object]] = {}

        # ---- toolbar
        self.interval = _spin(QDoubleSpinBox(), 0.1, 60.0, 1.0, " s")
        self.duration = _spin(QSpinBox(), 0, 7 * 86400, 0, " s", special="until stopped")
        self.warmup_box = _spin(QSpinBox(), 3, 3600, 30, " warm-up", tip="samples per series the anomaly "
                                "detector learns from before it alerts (static bounds only until then)")
        self.raw_keep = _spin(QDoubleSpinBox(), 0.0, 24 * 365, 24.0, " h raw", special="all", tip="raw samples "
                              "older than this are deleted while recording; the 1 min and 1 h tiers stay")
        self.logs = QLineEdit()
        self.logs.setPlaceholderText("log files to follow (separated by ;)")
        self.watch = QLineEdit()
        self.watch.setPlaceholderText("model/config files or folders to watch (separated by ;)")
        self.run_button = QPushButton("Record ▶")
        self.run_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop ■")
        self.stop_button.clicked.connect(self.stop)
        self.window_box = QComboBox()
        for label, _ in WINDOWS:
            self.window_box.addItem(label)
        self.window_box.setCurrentIndex(1)
        self.window_box.currentIndexChanged.connect(self._window_changed)
        self.run_box = QComboBox()
        self.run_box.setToolTip("the recording shown: the running one, or any earlier one from the project")
        self.run_box.activated.connect(self._run_picked)
        self.score_label = QLabel("M: not assessed")
        self.score_label.setToolTip("health score M = 100·Σλ_c(1 − u_c)/Σλ_c over five concerns "
                                    "(see the Weights tab)")
        self.terms_label = QLabel("")
        self.warmup_label = QLabel("")
        self.warmup_label.setToolTip("the detector learns each series' normal level from its first samples; "
                                     "until then only static bounds (CPU above 95 %, memory up 1 GiB ...) alert")
        self.warmup = (0.0, 0.0)   # start and end (Unix time) of the warm-up of the run on screen
        self.gpu_label = QLabel("")
        record = QHBoxLayout()
        for w in (QLabel("Record every"), self.interval, QLabel("for"), self.duration, self.warmup_box,
                  self.raw_keep, self.logs, self.watch, self.run_button, self.stop_button):
            record.addWidget(w)
        view = QHBoxLayout()
        for w in (QLabel("Show"), self.run_box, QLabel("last"), self.window_box, self.score_label,
                  self.warmup_label):
            view.addWidget(w)
        for label in (self.terms_label, self.gpu_label):
            label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # long text is cut, the tooltip has it
            view.addWidget(label, 1)

        # ---- graphs: a grid of the kit's plots, two columns, none below 200 px (it scrolls instead);
        # the GPU and job plots appear only once they have something to show
        self.plots: list[Plot] = []
        self.scatters, self.warm_regions = [], []
        for title, _, y, y_range in GROUPS:
            plot = Plot(title, y=y, y_range=y_range)
            plot.set_axis("bottom", "time ago", "s", si=False)
            scatter = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(220, 40, 40, 200), pen=None, symbol="o")
            plot.plot_item.addItem(scatter)
            # the warm-up, shaded: no anomaly marks can appear there (static bounds only)
            region = pg.LinearRegionItem(values=(0, 0), movable=False, brush=pg.mkBrush(150, 150, 150, 45),
                                         pen=pg.mkPen(None))
            region.setVisible(False)
            plot.plot_item.addItem(region)
            self.plots.append(plot)
            self.scatters.append(scatter)
            self.warm_regions.append(region)
        # other plugins' per-epoch and per-epsilon curves, each against its own x (a loss per epoch
        # and an accuracy per ε on one axis would squash one of them)
        self.step_plots = {"epoch": Plot("Job curves per epoch", x=("epoch", "")),
                           "eps": Plot("Job curves per ε", x=("ε (or the job's own x)", ""))}
        self.graphs = PlotGrid((*self.plots, *self.step_plots.values()), min_width=220)
        for i, plot in enumerate(self.graphs.plots):
            plot.setVisible(i < GPU)
        self.live = LiveCurves(CAPACITY, hz=0, parent=self, data=self._series_data)
        self.buffers, self.curves = self.live.buffers, self.live.curves

        # ---- side: alerts, rules, weights, log view
        self.alerts = QTableWidget(0, 4)
        self.alerts.setHorizontalHeaderLabels(["Time", "Severity", "State", "Alert"])
        self.alerts.setToolTip("every alert of the run: rules, log rules, file changes and anomaly episodes "
                               "(one per unusual stretch of a series, resolved when it ends)")
        header = self.alerts.horizontalHeader()
        for column, mode in enumerate((QHeaderView.ResizeToContents,) * 3 + (QHeaderView.Stretch,)):
            header.setSectionResizeMode(column, mode)  # the alert text gets what the narrow side panel has left
        self.alerts.verticalHeader().hide()
        self.rules_edit, self.rules_save, rules_box = _editor(
            "Metric rules (JSON list; kinds threshold, trend, outbound):", "Save rules", self.save_rules)
        self.weights_edit, self.weights_save, weights_box = _editor(
            "Health score weights λ per concern (JSON object; availability, resources, integrity, intrusion, "
            "model_service; the default when absent):", "Save weights", self.save_weights)
        self.log_view = QTextEdit()
        self.log_view.setReadOnly(True)
        side = QTabWidget()
        for widget, title in ((self.alerts, "Alerts"), (rules_box, "Rules"), (weights_box, "Weights"),
                              (self.log_view, "Log hits")):
            side.addTab(widget, title)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.graphs)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self._split = split
        layout = QVBoxLayout(self)
        layout.addLayout(record)
        layout.addLayout(view)
        layout.addWidget(split, 1)

        self.poll_timer, self.draw_timer, self.job_timer = (QTimer(self), QTimer(self), QTimer(self))
        for timer, ms, slot in ((self.poll_timer, 1000, self.poll), (self.draw_timer, 1000 // DRAW_HZ, self.draw),
                                (self.job_timer, JOB_POLL_MS, self.poll_jobs)):
            timer.timeout.connect(slot)
            timer.start(ms)
        host.writes(self.run_button, self.rules_save, self.weights_save)  # none in a read-only window
        host.job_started.connect(self._job_started)
        host.job_finished.connect(lambda job: self.poll())

    @property
    def frames(self) -> int:
        return self.live.frames

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.PaletteChange, QEvent.ApplicationPaletteChange) and getattr(self, "_alert_rows", 0):
            self._paint_alerts(self._alert_rows)  # the theme changed: the alert colours follow

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not getattr(self, "_sized", False):  # once: the graphs get three quarters, whatever the tables ask
            self._sized = True
            self._split.setSizes([self.width() * 3 // 4, self.width() // 4])

    # ------------------------------------------------------------------ jobs
    def start(self):
        paths = lambda text: [p.strip() for p in text.split(";") if p.strip()]  # noqa: E731
        try:
            spec = self.plugin.job_spec("monitor", duration=float(self.duration.value()) or None,
                                        interval=float(self.interval.value()), flush_every=1.0,
                                        warmup=int(self.warmup_box.value()),
                                        logs=paths(self.logs.text()), watch=paths(self.watch.text()),
                                        pids=[j.pid for j in self.host.running_jobs() if j.pid],
                                        follow_jobs=True,
                                        raw_retention=self.raw_keep.value() * 3600 or None)
        except ValueError as exc:
            self.host.error("Cannot record", str(exc))
            return None
        self.job = self.host.start_job(spec)
        return self.job

    def stop(self) -> None:
        """End the recording(s) of this tab: the job sees the cancel, flushes and ends as done (scored)."""
        for job in self.host.running_jobs():   # this plugin's jobs only
            job.cancel()

    def _job_started(self, job) -> None:
        self.job = job
        self._show_run(job.run_id)
        if self.store is not None and job.run_id is not None:
            self.run_box.insertItem(0, f"#{job.run_id} {job.spec.title or 'monitor'} (running)", job.run_id)
            self.run_box.setCurrentIndex(0)

    # ------------------------------------------------------------- project
    def gpu_status(self) -> str:
        """What the GPU panel says: the GPUs found, or why there is none (never an error)."""
        if not self.gpu_label.text():
            from .gpu import GpuProbe

            probe = GpuProbe()
            status = probe.status
            probe.close()
            self.gpu_label.setText(f"GPU: {status}")  # said once, here; the GPU plot shows only with GPUs
            self.gpu_label.setToolTip(self.gpu_label.text())
            self.plots[GPU].setVisible(bool(probe.devices))
        return self.gpu_label.text()

    def refresh(self) -> None:
        self.gpu_status()
        store = self.store
        if store is None:
            self._show_run(None)
            self.rules_edit.setPlainText("")
            self.score_label.setText("M: no project")
            return
        from .job import stored_rules

        self.rules_edit.setPlainText(json.dumps(stored_rules(store), indent=2))
        from .report import _weights
        from .score import check_lambdas

        self.weights_edit.setPlainText(json.dumps(check_lambdas(_weights(store)), indent=2))
        runs = store.runs(job="monitor", status=None)
        self.run_box.clear()
        for r in reversed(runs):
            self.run_box.addItem(f"#{r['id']} {r.get('title') or 'monitor'} ({r['status']})", r["id"])
        running = [j for j in self.host.running_jobs() if getattr(j, "run_id", None)]
        if running:
            self._show_run(running[-1].run_id)
        elif self.run_id is None or all(r["id"] != self.run_id for r in runs):
            self._show_run(runs[-1]["id"] if runs else None)
        self.poll()

    def _run_picked(self, index: int) -> None:
        run_id = self.run_box.itemData(index)
        if run_id is not None:
            self._show_run(int(run_id))
            self.poll()

    def _show_run(self, run_id) -> None:
        if run_id == self.run_id:
            return
        self.run_id = run_id
        self.live.clear()   # the curves only: the anomaly scatters stay
        for plot in (self.plots[JOBS], *self.step_plots.values()):
            plot.hide()
        for scatter in self.scatters:
            scatter.setData([], [])
        for seen in (self.marks, self._since, self._job_since, self._job_final, self._job_done, self.step_series,
                     self._tier_fill, self._alerts_seen):
            seen.clear()
        self._job_discovered = self._tier_since = 0.0
        self.warmup = (0.0, 0.0)
        self.alerts.setRowCount(0)
        self._alert_rows = []
        self.log_view.clear()
        self._marks_dirty = True

    def save_rules(self) -> bool:
        from .job import save_rules

        if self.store is None:
            return False
        try:
            specs = json.loads(self.rules_edit.toPlainText())
            if not isinstance(specs, list):
                raise ValueError("the rules must be a JSON list")
            save_rules(self.store, specs)
        except (ValueError, json.JSONDecodeError) as exc:
            self.host.error("Rules not saved", str(exc))
            return False
        self.host.log_event("monitor.rules", f"metric rules saved ({len(specs)} rules)", {"rules": specs})
        return True

    def save_weights(self) -> bool:
        if self.store is None:
            return False
        from .score import check_lambdas

        try:
            weights = json.loads(self.weights_edit.toPlainText() or "{}")
            if not isinstance(weights, dict):
                raise ValueError("weights must be a JSON object of concern to λ >= 0")
            weights = check_lambdas(weights)
        except (ValueError, TypeError) as exc:
            self.host.error("Weights not saved", str(exc))
            return False
        with self.store.transaction():
            self.store.execute("DELETE FROM monitor_weights")
            self.store.executemany("INSERT INTO monitor_weights (series, weight) VALUES (?, ?)",
                                   [(k, float(v)) for k, v in weights.items()])
        self.host.changed()
        if self.run_id is not None:
            self._poll_score(self.store, self.run_id)
        return True

    # ------------------------------------------------------------- polling
    def poll(self) -> None:
        """Read what is new for the run on screen (1 Hz): samples, anomaly marks, alerts, log hits."""
        store = self.store
        if store is None:
            return
        if self.run_id is None:
            running = [j for j in self.host.running_jobs() if getattr(j, "run_id", None)]
            if running:
                self._show_run(running[-1].run_id)
            else:
                return
        run_id = self.run_id
        for series in store.metric_series(run_id):
            group = _group_of(series)
            if group is None:
                continue
            pts = store.metrics(series, run_id=run_id, since=self._since.get(series))
            if series in self._since:
                pts = [p for p in pts if p[0] > self._since[series]]
            if not pts:
                continue
            self._buffer(series, group)
            self.live.extend(series, [p[0] for p in pts], [p[1] for p in pts])   # marked for the next frame
            self._since[series] = pts[-1][0]
        marks = store.query("SELECT series, start, sum / count AS mean FROM monitor_tiers WHERE run_id=? AND "
                            "tier='1s' AND anomalies > 0 AND start >= ? ORDER BY start", (run_id, self._tier_since))
        for m in marks:
            group = _group_of(m["series"])
            if group is not None:
                xs, ys = self.marks.setdefault(group, ([], []))
                xs.append(m["start"])
                ys.append(m["mean"] / CORES if fnmatch.fnmatchcase(m["series"], "proc.*.cpu_pct") else m["mean"])
                self._marks_dirty = True
        if marks:
            self._tier_since = marks[-1]["start"] + 1
        self._fill_from_tiers(store, run_id)
        self._poll_alerts(store, run_id)
        self._poll_log(store, run_id)
        self._poll_score(store, run_id)

    def _buffer(self, series: str, group: int, step: str | None = None):
        plot = self.step_plots[step] if step else self.plots[group]
        plot.show()
        # a process's CPU % counts every core (up to N×100): shown as its share of the machine
        label = f"{series} ÷ {CORES} cores" if fnmatch.fnmatchcase(series, "proc.*.cpu_pct") else None
        return self.live.add(series, plot, symbol="o" if step else None, label=label)

    def _discover_jobs(self, store) -> None:
        """Which other plugins' series to follow: every series with samples (on the first poll, over
        the window on screen), then those of the runs now going (cheap: the runs index)."""
        now = time.time()
        going = store.query("SELECT id, plugin FROM runs WHERE status IN ('queued', 'running') AND plugin != ?",
                            (self.plugin.id,))
        if not self._job_discovered:
            sources = store.metric_sources(now - self.window_seconds())
        else:
            sources = [(r["plugin"], r["id"], s) for r in going
                       for s in store.metric_series(r["id"], plugin=r["plugin"])]
        self._job_discovered = now
        # a run that ended gets one more read (its last samples), then is not polled again
        running = {(r["plugin"], r["id"]) for r in going}
        for key in self._job_since:
            if (key[0], key[1]) not in running:
                self._job_final.add(key)
        for plugin, run_id, series in sources:
            if plugin != self.plugin.id:
                self._job_since.setdefault((plugin, int(run_id), series), float("-inf"))

    def poll_jobs(self) -> None:
        """Other plugins' job metrics (robustness accuracy per epsilon, loss per epoch, test load), read
        a few times a second into the Jobs group: only the samples newer than the last read."""
        store = self.store
        if store is None:
            return
        if time.time() - self._job_discovered >= 1.0:
            self._discover_jobs(store)
        group = len(GROUPS) - 1
        for key, last in self._job_since.items():
            if key in self._job_done:
                continue
            if key in self._job_final:
                self._job_done.add(key)
            plugin, run_id, series = key
            pts = store.metrics(series, plugin=plugin, run_id=run_id, since=None if last == float("-inf") else last)
            pts = [p for p in pts if p[0] > last and p[1] is not None]
            if not pts:
                continue
            name = f"job.{plugin}#{run_id}.{series}"
            step = None
            if name not in self.buffers and pts[0][0] < STEP_X_BELOW:
                self.step_series.add(name)
                step = "epoch" if all(float(x).is_integer() for x, _ in pts) else "eps"
            self._buffer(name, group, step)
            self.live.extend(name, [p[0] for p in pts], [p[1] for p in pts])   # marked for the next frame
            self._job_since[key] = pts[-1][0]

    def _fill_from_tiers(self, store, run_id) -> None:
        """When the window is longer than the raw samples kept, the part before the oldest raw sample
        comes from the 1 min tier (1 h beyond a day): a day is 1,440 points, never 86,400 reads."""
        window = self.window_seconds()
        tier = "1m" if window <= 86400 else "1h"
        span = 60 if tier == "1m" else 3600
        own = [s for s in self.buffers if s not in self.step_series and not s.startswith("job.")]
        raw_newest = max((self.buffers[s].last_time for s in own if len(self.buffers[s])), default=None)
        if raw_newest is None:
            # an older recording whose raw samples retention removed: its tiers are all there is
            end = store.query_one("SELECT MAX(start) AS t FROM monitor_tiers WHERE run_id=? AND tier=?",
                                  (run_id, tier))
            if end is None or end["t"] is None:
                return
            raw_newest = end["t"] + span
            for row in store.query("SELECT DISTINCT series FROM monitor_tiers WHERE run_id=? AND tier=?",
                                   (run_id, tier)):
                group = _group_of(row["series"])
                if group is not None and row["series"] not in self.buffers:
                    self._buffer(row["series"], group)
                    own.append(row["series"])
        for series in own:
            buf = self.buffers[series]
            if len(buf):
                t, _ = buf.view()
                oldest, newest = float(t[0]), float(t[-1])
            else:
                oldest = newest = raw_newest
            if newest - oldest >= window:
                self._tier_fill.pop(series, None)
                continue
            have = self._tier_fill.get(series)
            if have is not None and have[3] == (window, oldest):
                continue
            # whole buckets before the oldest raw sample only: raw and aggregate never overlap
            rows = store.query("SELECT start, sum / count AS mean FROM monitor_tiers WHERE run_id=? AND tier=? "
                               "AND series=? AND start >= ? AND start + ? <= ? ORDER BY start",
                               (run_id, tier, series, newest - window - span, span, oldest))
            import numpy as np

            self._tier_fill[series] = (tier, np.array([r["start"] for r in rows], dtype=float),
                                       np.array([r["mean"] for r in rows], dtype=float), (window, oldest))
            self.live.dirty.add(series)

    def _poll_alerts(self, store, run_id) -> None:
        rows = store.query("SELECT id, ts, severity, state, title, message FROM monitor_alerts WHERE run_id=? "
                           "ORDER BY ts DESC LIMIT 500", (run_id,))
        new = [r for r in rows if r["id"] not in self._alerts_seen]
        for r in new:
            self._alerts_seen.add(r["id"])
            if r["state"] == "firing":
                text = f"Monitor alert [{r['severity']}]: {r['title']}: {r['message']}"
                self.host.notify(text)
                self._desktop_notify(r["title"], r["message"])
        if new:
            self._paint_alerts(rows)

    def _paint_alerts(self, rows) -> None:
        self._alert_rows = rows
        self.alerts.setRowCount(len(rows))
        # firing HIGH red, MEDIUM amber: lighter shades on the dark palette
        colours = {"HIGH": (255, 110, 110), "MEDIUM": (240, 170, 60)} if is_dark() else \
            {"HIGH": (200, 30, 30), "MEDIUM": (170, 95, 0)}
        for i, r in enumerate(rows):
            when = time.strftime("%H:%M:%S", time.localtime(r["ts"]))
            for j, text in enumerate((when, r["severity"], r["state"], f"{r['title']}: {r['message']}")):
                item = QTableWidgetItem(text)
                item.setToolTip(text if j == 3 else "")
                if r["state"] == "firing" and r["severity"] in colours:
                    item.setForeground(pg.mkColor(*colours[r["severity"]]))
                self.alerts.setItem(i, j, item)

    def _desktop_notify(self, title: str, message: str) -> None:
        """A desktop notification where the platform has a tray; the status bar always has it."""
        from PySide6.QtWidgets import QSystemTrayIcon

        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if getattr(self, "_tray", None) is None:
            self._tray = QSystemTrayIcon(self.windowIcon(), self)
            self._tray.show()
        self._tray.showMessage(title, message[:300], QSystemTrayIcon.Warning, 8000)

    def _poll_log(self, store, run_id) -> None:
        hits = store.query("SELECT ts, path, rule, line FROM monitor_log_hits WHERE run_id=? ORDER BY rowid DESC "
                           "LIMIT 200", (run_id,))
        import html

        rule, mark = ("#ff7070", "#5a2424") if is_dark() else ("#c02020", "#ffe0e0")  # readable in both themes
        text = "".join(f"<div><b style='color:{rule}'>{html.escape(h['rule'])}</b> "
                       f"<span style='background:{mark}'>{html.escape(h['line'])}</span></div>"
                       for h in reversed(hits))
        if text != getattr(self, "_log_html", None):
            self._log_html = text
            self.log_view.setHtml(text)

    def _poll_score(self, store, run_id) -> None:
        from .report import run_terms
        from .score import health_score

        terms = run_terms(store, [run_id])
        m = health_score(terms)
        self.score_label.setText("M: not assessed" if m is None else f"M = {m:.1f}")
        self.terms_label.setText("M = 100·Σλ(1−u): " + "  ".join(
            f"{c} {t['lambda']:g}·(1−{t['u']:.2f})" for c, t in terms.items()))
        self.terms_label.setToolTip(self.terms_label.text())
        self._poll_warmup(store, run_id)

    def _poll_warmup(self, store, run_id) -> None:
        """The warm-up of the run on screen: a label (samples so far) and a shaded region on the graphs."""
        run = store.run(run_id) or {}
        params = run.get("params") or {}
        n, interval = int(params.get("warmup", 30)), float(params.get("interval", 1.0))
        row = store.query_one("SELECT MAX(samples) AS n FROM monitor_flushes WHERE run_id=?", (run_id,))
        done = int(row["n"] or 0) if row else 0
        first = store.query_one("SELECT MIN(start) AS t FROM monitor_tiers WHERE run_id=? AND tier='1s' "
                                "AND series='cpu.total'", (run_id,))
        t0 = first["t"] if first and first["t"] is not None else None
        if done < n:
            self.warmup_label.setText(f"warm-up {done}/{n} samples: learning the normal level, static bounds only")
            self.warmup_label.setStyleSheet("color: #a06000")
        else:
            self.warmup_label.setText(f"detector armed (warm-up: first {n} samples, {n * interval:g} s)")
            self.warmup_label.setStyleSheet("")
        if t0 is not None and (t0, t0 + n * interval) != self.warmup:
            self.warmup = (t0, t0 + n * interval)
            self._marks_dirty = True

    # ------------------------------------------------------------- drawing
    def _window_changed(self) -> None:
        self.live.dirty.update(self.buffers)
        self._marks_dirty = True
        if self.store is not None and self.run_id is not None:
            self._fill_from_tiers(self.store, self.run_id)

    def window_seconds(self) -> int:
        return WINDOWS[self.window_box.currentIndex()][1]

    def draw(self) -> None:
        """Hand the changed curves to pyqtgraph (30 Hz); x is seconds relative to the newest sample."""
        if not self.live.dirty and not self._marks_dirty:
            return
        newest = max([b.last_time for s, b in self.buffers.items() if len(b) and s not in self.step_series]
                     + [float(f[1][-1]) for f in self._tier_fill.values() if len(f[1])], default=None)
        if newest is None and not self.step_series:
            self.live.dirty.clear()
            return
        self._span = (newest or 0.0, (newest or 0.0) - self.window_seconds())
        self.live.draw()
        if self._marks_dirty and newest is not None:
            since = self._span[1]
            for group, scatter in enumerate(self.scatters):
                xs, ys = self.marks.get(group, ([], []))
                pts = [(x - newest, y) for x, y in zip(xs, ys) if x >= since]
                scatter.setData([p[0] for p in pts], [p[1] for p in pts])
            w0, w1 = self.warmup
            for region in self.warm_regions:
                region.setVisible(w1 > w0 and w1 >= since)
                if w1 > w0:
                    region.setRegion((max(w0, since) - newest, w1 - newest))
            self._marks_dirty = False

    def _series_data(self, series: str):
        """What a curve shows: per epoch / per ε the whole run against its own x; a time series the
        window on screen (tier means before the oldest raw sample), x relative to the newest sample."""
        if series in self.step_series:
            return self.buffers[series].view()
        import numpy as np

        newest, since = self._span
        t, v = self.buffers[series].view(since)
        fill = self._tier_fill.get(series)
        if fill is not None and len(fill[1]):
            keep = fill[1] >= since
            t, v = np.concatenate((fill[1][keep], t)), np.concatenate((fill[2][keep], v))
        return t - newest, v / CORES if fnmatch.fnmatchcase(series, "proc.*.cpu_pct") else v
