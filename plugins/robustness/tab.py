"""The Robustness tab: the kit's JobPanel (model and data, attacks, Run / Harden / Cancel, progress),
a live chart of robust accuracy against epsilon (one curve per attack and model version) on the
kit's Plot, run history to overlay earlier runs, the table of points of the selected runs and the
adversarial examples of the point chosen.

The job runs in a worker process; the chart re-reads the run's points from the
project at most a few times a second while it runs (each finished point is
committed by the job), so the window stays responsive.
"""

from __future__ import annotations

import os

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QLabel, QListWidget, QListWidgetItem, QPushButton, QSpinBox,
                               QSplitter, QTableWidget, QVBoxLayout)

from workbench.gui.api import JobPanel, Plot, PluginTab, fill_table, is_dark, side_by_side

from . import store as S
from .gpuinfo import GpuPanel
from .params import DEMO_TARGET

#: what the demo needs no choice of: hidden while the built-in demo is the target
MODEL_FIELDS = ("data", "arch", "target_column", "trust_import")
SHOWN = MODEL_FIELDS + ("attacks", "eps", "steps", "device", "amp")


class RobustnessTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        #: settings the form does not show (limit, threads, seed...), merged into every job's params
        self.extra_params: dict = {}
        self._dirty = False
        self._live_run: int | None = None
        self.example_count = 0
        self._gpu_ticks = 0
        hidden = tuple(f for f in plugin.jobs["robustness"].params.__dataclass_fields__ if f not in SHOWN)
        self.panel = JobPanel(plugin, host, "robustness", browse="file", hide=hidden, pick={"data": "file"},
                              extra=self._extra, choices={"device": (None, "cpu", "cuda", "mps"),
                                                          "amp": (None, "bf16", "fp16")})
        self.job = None
        self.fields, self.run_button, self.cancel_button = self.panel.fields, self.panel.run_button, \
            self.panel.cancel_button
        self.fields["arch"].setPlaceholderText("digits_cnn, tabular_mlp or FILE.py:Class (naming a file runs it: "
                                               "only files you trust)")
        self.fields["trust_import"].setToolTip(
            "Globals a pickled model may import and call, e.g. torch.nn.modules.linear:Linear; torch.jit:load "
            "allows TorchScript. Each name runs with arguments the file chooses; nothing unnamed is admitted. "
            "A refused file's message lists what it needs.")
        self.demo = QCheckBox("Built-in demo (digits CNN)")
        self.demo.toggled.connect(self._demo_toggled)
        self.panel.form.insertRow(0, self.demo)
        self.harden_button = QPushButton("Harden")
        self.harden_button.setToolTip("Adversarial fine-tuning, export as safetensors, and the same sweep again")
        self.harden_button.clicked.connect(lambda: self.start("harden"))
        self.method = QComboBox()
        self.method.addItems(["pgd", "fgsm", "noise"])
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(5)
        for w in (self.harden_button, QLabel("with"), self.method, QLabel("epochs"), self.epochs):
            self.panel.top.addWidget(w)
        self.host.writes(self.harden_button)  # disabled in a read-only window
        self.panel.started.connect(lambda job: self.harden_button.setEnabled(False))
        self.panel.finished.connect(lambda job: self.harden_button.setEnabled(True))
        # GPU memory and utilisation, read while a run is going (NVML opened on the first run)
        self.gpu = QLabel("GPU: shown while a run is going")
        self.gpu_panel = GpuPanel()
        self.message = self.panel.error  # why the last run failed (a refused model file, bad data), in place

        # --- results: chart, history, table, examples
        pg.setConfigOptions(antialias=True)
        # The kit's plot: themed, the legend below the data, at least 200 px tall, x fitted per sweep.
        self.plot = Plot("Robust accuracy vs ε", x=("ε (input units)", ""), y=("robust accuracy", "%"),
                         y_range=(0, 100))
        self.plot.set_axis("bottom", "ε (input units)", "", si=False)  # epsilons read as written, not "x0.001"
        self.curves = self.plot.curves  # {name: curve}, one per attack and model version
        self.history = QListWidget()
        self.history.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.history.itemSelectionChanged.connect(self._redraw)
        self.table = QTableWidget(0, 7)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)  # no blank strip right of the columns
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(self._show_examples)
        # Gallery of the selected point: clean image, adversarial image, |perturbation| as a heat map.
        self.gallery = pg.GraphicsLayoutWidget()
        self.gallery.setMinimumHeight(170)
        self.example_views: list = []
        self._show_examples()
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.plot)
        left.addWidget(self.gallery)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 1)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.history)
        side.addWidget(self.table)
        side.setSizes([90, 400])  # a few runs listed; the table gets the room
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(self.gpu)
        layout.addWidget(side_by_side(left, side, sizes=(3, 2)), 1)  # the table's seven columns fit beside the chart

        # Redraws are coalesced: many progress messages, at most ~5 reads of the project per second.
        self.timer = QTimer(self)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self._tick)
        host.job_started.connect(self._started)
        host.job_updated.connect(lambda job: setattr(self, "_dirty", True))
        host.job_finished.connect(self._finished)
        self.demo.setChecked(True)

    # ------------------------------------------------------------------ inputs
    def _demo_toggled(self, on: bool) -> None:
        self.panel.target.setText(DEMO_TARGET if on else "")
        self.panel.target.setEnabled(not on)
        self.panel.browse_button.setEnabled(not on)
        for name in MODEL_FIELDS:
            self.panel.set_row_visible(name, not on)

    def _extra(self) -> dict | None:
        """What the form leaves to the tab: paths made absolute, the demo's inputs cleared, the
        question before a pickle may import anything; None when the user declines."""
        p = self.panel.values()
        if self.demo.isChecked():
            extra = {"target": DEMO_TARGET, "data": None, "arch": None, "target_column": None, "trust_import": []}
        else:
            extra = {"target": os.path.abspath(p["target"]),
                     "data": os.path.abspath(p["data"]) if p["data"] else None}
            if p["trust_import"] and not self.host.ask(
                    "Trust these imports?", "The model file may import and call " + ", ".join(p["trust_import"])
                    + " on this machine, with arguments it chooses. Go on only if you trust where it came from."):
                return None
        return {**extra, **self.extra_params}

    def params(self) -> dict:
        """The job parameters from the form (checked by the plugin's params dataclass)."""
        return {**self.panel.values(), **(self._extra() or {})}

    def start(self, job: str = "robustness"):
        more = {"method": self.method.currentText(), "epochs": self.epochs.value()} if job == "harden" else {}
        self.job = self.panel.start(job, **more)
        return self.job

    # -------------------------------------------------------------- job events
    def _started(self, job) -> None:
        self.job = job
        self._live_run = job.run_id
        self._gpu_ticks = 0
        self._read_gpu()
        self.refresh()  # the running run appears in the history, selected
        self.timer.start()

    def _finished(self, job) -> None:
        self.timer.stop()
        self._read_gpu()  # the last reading stays on screen, marked as such
        self.gpu.setText(self.gpu.text() + "  (last reading, run " + job.status + ")")
        self._live_run = None
        self.refresh()

    def _read_gpu(self) -> None:
        try:
            self.gpu.setText(self.gpu_panel.text(getattr(self.job, "pid", None)))
        except Exception as exc:  # noqa: BLE001 - a broken driver must not break the tab
            self.gpu.setText(f"GPU: reading failed ({exc})")

    def _tick(self) -> None:
        self._gpu_ticks += 1
        if self._gpu_ticks % 5 == 0:  # once a second is enough for a gauge
            self._read_gpu()
        if self._dirty:
            self._dirty = False
            self._redraw()

    # ---------------------------------------------------------------- display
    def refresh(self) -> None:
        self.history.blockSignals(True)
        self.history.clear()
        if self.store is not None:
            runs = [r for r in self.store.runs(status=None) if r["job"] in ("robustness", "harden")]
            for run in reversed(runs):
                status = "running" if run["id"] == self._live_run and run["status"] == "queued" else run["status"]
                item = QListWidgetItem(f"#{run['id']} {run.get('title') or run['job']} — {status}")
                item.setData(Qt.ItemDataRole.UserRole, run["id"])
                self.history.addItem(item)
            if self.history.count():
                self.history.item(0).setSelected(True)
        self.history.blockSignals(False)
        self._redraw()

    def selected_runs(self) -> list[int]:
        ids = [i.data(Qt.ItemDataRole.UserRole) for i in self.history.selectedItems()]
        if self._live_run is not None and self._live_run not in ids:
            ids.insert(0, self._live_run)
        return ids

    def curve_data(self) -> dict[str, tuple[list[float], list[float]]]:
        """{curve name: (epsilons, robust accuracies in %)} of the selected runs, starting at (0, clean accuracy)."""
        out = {}
        if self.store is None:
            return out
        ids = self.selected_runs()
        for run_id in ids:
            for version, entry in S.curves(self.store, run_id).items():
                for attack, curve in entry["curves"].items():
                    pts = sorted(curve.items())
                    if entry["clean"] is not None:
                        pts = [(0.0, entry["clean"])] + pts
                    name = f"{attack} ({version})" + (f" #{run_id}" if len(ids) > 1 else "")
                    out[name] = ([p[0] for p in pts], [100 * p[1] for p in pts])
        return out

    def _redraw(self) -> None:
        self.plot.show_sweep(dict(sorted(self.curve_data().items())))  # the x range is this sweep's
        for name, item in self.curves.items():
            if "original" in name and "hardened" not in name:  # before hardening: dashed
                pen = pg.mkPen(item.opts["pen"])
                pen.setStyle(Qt.PenStyle.DashLine)
                pen.setWidthF(2)
                item.setPen(pen)
        # accuracy and success in percent, as the chart's axis reads
        rows = [[f"#{run_id}", p["model_version"], p["attack"], p["eps_label"], f"{100 * p['robust_accuracy']:.1f}",
                 f"{100 * p['success_rate']:.1f}", f"{p['mean_perturbation']:.4f}"]
                for run_id in (self.selected_runs() if self.store is not None else ())
                for p in S.points(self.store, run_id)]
        self.table.setSortingEnabled(False)
        fill_table(self.table, ["Run", "Model", "Attack", "ε", "Acc. %", "Success %", "Mean pert."], rows)
        # short titles keep the seven columns beside the chart at 1280 px; the tooltips say them whole
        for column, tip in ((4, "robust accuracy under the attack, %"), (5, "attack success rate, %"),
                            (6, "mean perturbation size, in input units")):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()

    def _show_examples(self) -> None:
        """Up to six examples of the selected point, each as clean / adversarial / signed δ heat map."""
        self.gallery.clear()
        self.example_views = []
        # The palette's colours, re-read on every theme change (changeEvent): not frozen at first build.
        palette = self.palette()
        text, base = palette.color(QPalette.Text), palette.color(QPalette.Base)
        fg = text.name()
        hint = "#{:02x}{:02x}{:02x}".format(*((a + b) // 2 for a, b in zip(text.getRgb()[:3], base.getRgb()[:3])))
        self.gallery.setBackground(base)
        rows = sorted({i.row() for i in self.table.selectedItems()})
        if not rows or self.store is None:
            self.example_count = 0
            self.gallery.addLabel("Select a row of the table to see its adversarial examples", row=0, col=0,
                                  color=hint)  # half-way between text and background: a hint, readable in both themes
            return
        cells = [self.table.item(rows[0], j).text() for j in range(4)]
        run_id, version, attack, eps_label = int(cells[0].lstrip("#")), cells[1], cells[2], cells[3]
        shown = S.examples(self.store, run_id, version, attack, eps_label)[:6]
        cmap = pg.colormap.get("CET-D1")  # diverging: blue lowered, red raised, white untouched
        for row, title in enumerate(("clean", "adversarial", "perturbation δ")):
            self.gallery.addLabel(title, row=row + 1, col=0, color=fg, size="9pt")
        for col, ex in enumerate(shown, start=1):
            lo, hi = float(ex["x"].min()), float(ex["x"].max())
            delta = (ex["x_adv"] - ex["x"]).mean(axis=0)
            m = float(abs(delta).max()) or 1.0
            changed = ex["adv_pred"] != ex["clean_pred"]
            self.gallery.addLabel(f"#{ex['idx']}: {ex['clean_pred']} → {ex['adv_pred']}"
                                  + ("" if changed else " (held)"), row=0, col=col,
                                  color=("#ff7070" if is_dark() else "#c02020") if changed else fg, size="9pt")
            for row, (img, levels, lut) in enumerate((
                    (_display(ex["x"]), (lo, hi), None),
                    (_display(ex["x_adv"]), (lo, hi), None),
                    (delta, (-m, m), cmap.getLookupTable())), start=1):
                view = self.gallery.addViewBox(row=row, col=col, lockAspect=True, invertY=True)
                item = pg.ImageItem(img.T if img.ndim == 2 else img.transpose(1, 0, 2), levels=levels)
                if lut is not None:
                    item.setLookupTable(lut)
                view.addItem(item)
                view.setMouseEnabled(False, False)
                view.setToolTip(f"max |δ| {m:.3f}" if lut is not None else f"sample #{ex['idx']}")
                self.example_views.append(view)
        self.gallery.addLabel(f"{attack}, ε {eps_label}, {version} model (run #{run_id}); heat map: "
                              "blue lowered, red raised", row=4, col=0, colspan=len(shown) + 1, color=fg, size="8pt")
        self.example_count = len(shown)


    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        # the gallery is a graphics scene: the theme reaches it only through a rebuild in the new colours
        if event.type() == QEvent.PaletteChange and hasattr(self, "gallery"):
            self._show_examples()


def _display(x):
    """(C, H, W) -> (H, W), or (H, W, 3) for colour images, for ImageItem (levels set by the caller)."""
    return x[0] if x.shape[0] == 1 else x[:3].transpose(1, 2, 0)
