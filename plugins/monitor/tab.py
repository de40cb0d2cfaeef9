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

import json
import time

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHeaderView, QLabel, QLineEdit, QPlainTextEdit,
                               QPushButton, QSizePolicy, QSpinBox, QTableWidget, QTextEdit, QVBoxLayout)

from workbench.gui.api import (LiveCurves, Plot, PlotGrid, PluginTab, column, fill_table, is_dark, pages, row,
                               side_by_side)

from . import view
from .view import CORES, GPU, GROUPS, JOBS, STEP_X_BELOW, WINDOWS, is_process_cpu
from .view import group_of as _group_of

JOB_POLL_MS = 250          # other plugins' job metrics: a few reads a second, only what is new
CAPACITY = 86400
DRAW_HZ = 30
ALERT_HEADERS = ("Time", "Severity", "State", "Alert")


def _spin(box, low, high, value, suffix, special="", tip=""):
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setSpecialValueText(special)  # shown at the minimum
    box.setToolTip(tip)
    return box


def _editor(text: str, button_text: str, save):
    """A JSON editor under its explanation, with its Save button."""
    edit, button, label = QPlainTextEdit(), QPushButton(button_text), QLabel(text)
    button.clicked.connect(save)
    label.setWordWrap(True)  # a long line would make the side panel as wide as itself
    return edit, button, column(label, edit, button, stretch=1)


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
        # (window and oldest raw time it was read for, times, means)
        self._tier_fill: dict[str, tuple[tuple, object, object]] = {}

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
        for label in (self.terms_label, self.gpu_label):
            label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # long text is cut, the tooltip has it
        record = row("Record every", self.interval, "for", self.duration, self.warmup_box, self.raw_keep, self.logs,
                     self.watch, self.run_button, self.stop_button)
        shown = row("Show", self.run_box, "last", self.window_box, self.score_label, self.warmup_label,
                    self.terms_label, self.gpu_label, stretch={6: 1, 7: 1})

        # ---- graphs: a grid of the kit's plots, two columns, none below 200 px (it scrolls instead);
        # the GPU and job plots appear only once they have something to show
        self.plots: list[Plot] = []
        self.scatters, self.warm_regions = [], []
        for title, _, y, y_range in GROUPS:
            plot = Plot(title, y=y, y_range=y_range)
            plot.set_axis("bottom", "time ago", "s", si=False)
            if y[1] == "B/s":
                plot.nonnegative_y(1000)  # an idle link read "-400 mB/s" to "400 mB/s": 0 to 1 kB/s now
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
        self.alerts = QTableWidget()
        fill_table(self.alerts, ALERT_HEADERS, [])
        self.alerts.setToolTip("every alert of the run: rules, log rules, file changes and anomaly episodes "
                               "(one per unusual stretch of a series, resolved when it ends)")
        header = self.alerts.horizontalHeader()
        for i, mode in enumerate((QHeaderView.ResizeToContents,) * 3 + (QHeaderView.Stretch,)):
            header.setSectionResizeMode(i, mode)  # the alert text gets what the narrow side panel has left
        self.rules_edit, self.rules_save, rules_box = _editor(
            "Metric rules (JSON list; kinds threshold, trend, outbound):", "Save rules", self.save_rules)
        self.weights_edit, self.weights_save, weights_box = _editor(
            "Health score weights λ per concern (JSON object; availability, resources, integrity, intrusion, "
            "model_service; the default when absent):", "Save weights", self.save_weights)
        self.log_view = QTextEdit()
        self.log_view.setReadOnly(True)
        side = pages(("Alerts", self.alerts), ("Rules", rules_box), ("Weights", weights_box),
                     ("Log hits", self.log_view))
        # the graphs get three quarters, whatever the tables ask
        QVBoxLayout(self).addWidget(column(record, shown, side_by_side(self.graphs, side, sizes=(3, 1))))

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

    # ------------------------------------------------------------------ jobs
    def start(self):
        params = view.recording_params(interval=self.interval.value(), duration=self.duration.value(),
                                       warmup=self.warmup_box.value(), raw_keep_hours=self.raw_keep.value(),
                                       logs=self.logs.text(), watch=self.watch.text(),
                                       pids=[j.pid for j in self.host.running_jobs() if j.pid])
        try:
            spec = self.plugin.job_spec("monitor", **params)
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
            # said once, here; the GPU plot shows only with GPUs. Without one the reason (a long
            # "no GPU: NVML could not start (...)") is the tooltip: in the row it was cut mid-word.
            self.gpu_label.setText(f"GPU: {status}" if probe.devices else "GPU: none")
            self.gpu_label.setToolTip(f"GPU: {status}")
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
        from .store import stored_rules

        self.rules_edit.setPlainText(json.dumps(stored_rules(store), indent=2))
        from .score import _weights, check_lambdas

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
        self.run_box.setCurrentIndex(max(0, self.run_box.findData(self.run_id)))  # the run on screen, named
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
        from .store import save_rules

        if self.store is None:
            return False
        try:
            specs = view.parse_rules(self.rules_edit.toPlainText())
            save_rules(self.store, specs)
        except (ValueError, json.JSONDecodeError) as exc:
            self.host.error("Rules not saved", str(exc))
            return False
        self.host.log_event("monitor.rules", f"metric rules saved ({len(specs)} rules)", {"rules": specs})
        return True

    def save_weights(self) -> bool:
        if self.store is None:
            return False
        try:
            view.save_weights(self.store, view.parse_weights(self.weights_edit.toPlainText()))
        except (ValueError, TypeError) as exc:
            self.host.error("Weights not saved", str(exc))
            return False
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
        marks, self._tier_since = view.new_marks(store, run_id, self._tier_since)
        for group, start, y in marks:
            xs, ys = self.marks.setdefault(group, ([], []))
            xs.append(start)
            ys.append(y)
            self._marks_dirty = True
        self._fill_from_tiers(store, run_id)
        self._poll_alerts(store, run_id)
        self._poll_log(store, run_id)
        self._poll_score(store, run_id)

    def _buffer(self, series: str, group: int, step: str | None = None):
        plot = self.step_plots[step] if step else self.plots[group]
        plot.show()
        # a process's CPU % counts every core (up to N×100): shown as its share of the machine
        label = f"{series} ÷ {CORES} cores" if is_process_cpu(series) else None
        return self.live.add(series, plot, symbol="o" if step else None, label=label)

    def _discover_jobs(self, store) -> None:
        """Which other plugins' series to follow: every series with samples (on the first poll, over
        the window on screen), then those of the runs now going (cheap: the runs index)."""
        now = time.time()
        going = [r for r in store.active_runs(every_plugin=True) if r["plugin"] != self.plugin.id]
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
        own = [s for s in self.buffers if s not in self.step_series and not s.startswith("job.")]
        raw_newest = max((self.buffers[s].last_time for s in own if len(self.buffers[s])), default=None)
        if raw_newest is None:
            # an older recording whose raw samples retention removed: its tiers are all there is
            raw_newest, series_kept = view.tier_series(store, run_id, window)
            if raw_newest is None:
                return
            for series in series_kept:
                group = _group_of(series)
                if group is not None and series not in self.buffers:
                    self._buffer(series, group)
                    own.append(series)
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
            if have is not None and have[0] == (window, oldest):
                continue
            means = view.tier_means(store, run_id, series, window, newest, oldest)
            self._tier_fill[series] = ((window, oldest), *means)
            self.live.dirty.add(series)

    def _poll_alerts(self, store, run_id) -> None:
        rows = view.alerts(store, run_id)
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
        fill_table(self.alerts, ALERT_HEADERS, [view.alert_cells(r) for r in rows])
        for i, r in enumerate(rows):
            self.alerts.item(i, 3).setToolTip(self.alerts.item(i, 3).text())
            colour = view.alert_colour(r, is_dark())   # firing HIGH red, MEDIUM amber
            for j in range(len(ALERT_HEADERS)) if colour else ():
                self.alerts.item(i, j).setForeground(pg.mkColor(colour))

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
        text = view.log_html(view.log_hits(store, run_id), is_dark())
        if text != getattr(self, "_log_html", None):
            self._log_html = text
            self.log_view.setHtml(text)

    def _poll_score(self, store, run_id) -> None:
        from .score import health_score, run_terms, terms_text

        terms = run_terms(store, [run_id])
        m = health_score(terms)
        self.score_label.setText("M: not assessed" if m is None else f"M = {m:.1f}")
        self.terms_label.setText("M = 100·Σλ(1−u): " + terms_text(terms))
        self.terms_label.setToolTip(self.terms_label.text())
        self._poll_warmup(store, run_id)

    def _poll_warmup(self, store, run_id) -> None:
        """The warm-up of the run on screen: a label (samples so far) and a shaded region on the graphs."""
        done, n, interval, t0 = view.warmup_state(store, run_id)
        text, learning = view.warmup_text(done, n, interval)
        self.warmup_label.setText(text)
        self.warmup_label.setStyleSheet(("color: #e0a040" if is_dark() else "color: #a06000") if learning else "")
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
        if newest is not None:   # x is relative to the newest sample: marks move with every new sample
            since = self._span[1]
            for group, scatter in enumerate(self.scatters):
                xs, ys = self.marks.get(group, ([], []))
                pts = [(x - newest, y) for x, y in zip(xs, ys) if x >= since]
                scatter.setData([p[0] for p in pts], [p[1] for p in pts])
            w0, w1 = self.warmup
            for region in self.warm_regions:
                region.setVisible(w1 > w0 and w1 >= since)
                if w1 > w0:
                    region.setRegion((max(w0, since) - newest, min(w1, newest) - newest))  # never in the future
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
        return t - newest, v / CORES if is_process_cpu(series) else v
