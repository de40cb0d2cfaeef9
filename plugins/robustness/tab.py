"""The Robustness tab: model and data pickers, attack settings, Run / Harden / Cancel, a live chart
of robust accuracy against epsilon (one curve per attack and model version), run history to
overlay earlier runs, and the table of points of the selected runs.

The job runs in a worker process; the chart re-reads the run's points from the
project at most a few times a second while it runs (each finished point is
committed by the job), so the window stays responsive.
"""

from __future__ import annotations

import os

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QListWidgetItem, QProgressBar, QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from workbench.gui.api import Plot, PluginTab, is_dark

from . import DEMO_TARGET
from . import store as S
from .gpuinfo import GpuPanel



class DropLineEdit(QLineEdit):
    """A path field that accepts a file or folder dropped on it."""

    def __init__(self, placeholder: str, parent=None):
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event):  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = event.mimeData().urls()
        if urls:
            self.setText(urls[0].toLocalFile())


class RobustnessTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job = None
        #: settings the form does not show (limit, threads, seed...), merged into every job's params
        self.extra_params: dict = {}
        self._dirty = False
        self._live_run: int | None = None
        self.example_count = 0
        self._gpu_ticks = 0

        # --- what to attack
        self.demo = QCheckBox("Built-in demo (digits CNN)")
        self.demo.setChecked(True)
        self.model = DropLineEdit("Model file: .safetensors or state dict (drop it here)")
        self.arch = QLineEdit()
        self.arch.setPlaceholderText("Architecture: digits_cnn, tabular_mlp or FILE.py:Class")
        self.arch.setToolTip("Naming a Python file runs it: only name files you trust.")
        self.data = DropLineEdit("Data: .npz / .npy / CSV / image folder (drop it here)")
        self.target_column = QLineEdit()
        self.target_column.setPlaceholderText("CSV label column")
        self.trust = QLineEdit()
        self.trust.setPlaceholderText("Trust imports: MODULE:NAME, … (empty: weights only)")
        self.trust.setToolTip("Globals a pickled model may import and call, e.g. torch.nn.modules.linear:Linear; "
                              "torch.jit:load allows TorchScript. Each name runs with arguments the file chooses; "
                              "nothing unnamed is admitted. A refused file's message lists what it needs.")
        browse_model = QPushButton("…")
        browse_model.clicked.connect(lambda: self._browse(self.model, "Model file"))
        browse_data = QPushButton("…")
        browse_data.clicked.connect(lambda: self._browse(self.data, "Data file"))
        self.demo.toggled.connect(self._demo_toggled)

        # --- how to attack
        self.attacks = QLineEdit("fgsm,pgd")
        self.eps = QLineEdit("0.01,0.03,0.1")
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(10)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.amp = QComboBox()
        self.amp.addItems(["off", "bf16", "fp16"])
        self.method = QComboBox()
        self.method.addItems(["pgd", "fgsm", "noise"])
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(5)

        self.run_button = QPushButton("Run ▶")
        self.run_button.clicked.connect(lambda: self.start("robustness"))
        self.harden_button = QPushButton("Harden")
        self.harden_button.setToolTip("Adversarial fine-tuning, export as safetensors, and the same sweep again")
        self.harden_button.clicked.connect(lambda: self.start("harden"))
        self.host.writes(self.run_button, self.harden_button)  # disabled in a read-only window
        self.cancel_button = QPushButton("Cancel ■")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self.job and self.job.cancel())
        self.progress = QProgressBar()
        self.eta = QLabel("")
        # GPU memory and utilisation, read while a run is going (NVML opened on the first run)
        self.gpu = QLabel("GPU: shown while a run is going")
        self.gpu_panel = GpuPanel()
        # why the last run failed (a refused model file, bad data), in the tab, not only in the jobs list
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("color: #d62728")
        self.message.setVisible(False)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse_model)
        form.addRow(self.demo)
        form.addRow("Model", row)
        form.addRow("Architecture", self.arch)
        row = QHBoxLayout()
        row.addWidget(self.data, 1)
        row.addWidget(browse_data)
        row.addWidget(self.target_column)
        form.addRow("Data", row)
        form.addRow("Trust imports", self.trust)
        row = QHBoxLayout()
        for label, w in (("Attacks", self.attacks), ("ε", self.eps), ("Steps", self.steps), ("Device", self.device),
                         ("Autocast", self.amp), ("Harden with", self.method), ("Epochs", self.epochs)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        form.addRow(row)
        buttons = QHBoxLayout()
        for w in (self.run_button, self.harden_button, self.cancel_button, self.progress, self.eta):
            buttons.addWidget(w)
        form.addRow(buttons)
        form.addRow(self.gpu)
        form.addRow(self.message)

        # --- results: chart, history, table
        pg.setConfigOptions(antialias=True)
        # The kit's plot: themed, the legend below the data, at least 200 px tall, x fitted per sweep.
        self.plot = Plot("Robust accuracy vs ε", x=("ε (input units)", ""), y=("robust accuracy", ""),
                         y_range=(0, 1))
        self.plot.set_axis("bottom", "ε (input units)", "", si=False)  # epsilons read as written, not "x0.001"
        self.curves = self.plot.curves  # {name: curve}, one per attack and model version
        self.history = QListWidget()
        self.history.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.history.itemSelectionChanged.connect(self._redraw)
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(["Run", "Model", "Attack", "ε", "Robust acc.", "Success", "Mean pert."])
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(self._show_examples)
        # Gallery of the selected point: clean image, adversarial image, |perturbation| as a heat map.
        self.gallery = pg.GraphicsLayoutWidget()
        self.gallery.setMinimumHeight(170)
        self.example_views: list = []
        self.gallery.setBackground("#202124" if is_dark() else "w")
        self.gallery.addLabel("Select a row of the table to see its adversarial examples", row=0, col=0,
                              color="#9aa0a6")

        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.history)
        side.addWidget(self.table)
        side.setSizes([90, 400])  # a few runs listed; the table gets the room
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.plot)
        left.addWidget(self.gallery)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 1)
        left.setSizes([300, 180])
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(side)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        main.setSizes([900, 600])  # the table's seven columns fit beside the chart
        top = QWidget()
        top.setLayout(form)
        layout = QVBoxLayout(self)
        layout.addWidget(top)
        layout.addWidget(main, 1)

        # Redraws are coalesced: many progress messages, at most ~5 reads of the project per second.
        self.timer = QTimer(self)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self._tick)
        host.job_started.connect(self._started)
        host.job_updated.connect(self._updated)
        host.job_finished.connect(self._finished)
        self._demo_toggled(True)

    # ------------------------------------------------------------------ inputs
    def _browse(self, field: QLineEdit, title: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, title)
        if path:
            field.setText(path)

    def _demo_toggled(self, on: bool) -> None:
        for w in (self.model, self.arch, self.data, self.target_column, self.trust):
            w.setEnabled(not on)

    def params(self) -> dict:
        """The job parameters from the form (checked by the plugin's params dataclass)."""
        split = lambda text: [t.strip() for t in text.split(",") if t.strip()]  # noqa: E731
        p = {"attacks": split(self.attacks.text()), "eps": split(self.eps.text()), "steps": self.steps.value(),
             "device": None if self.device.currentText() == "auto" else self.device.currentText(),
             "amp": None if self.amp.currentText() == "off" else self.amp.currentText()}
        if self.demo.isChecked():
            p["target"] = DEMO_TARGET
        else:
            p.update(target=os.path.abspath(self.model.text()) if self.model.text() else "",
                     data=os.path.abspath(self.data.text()) if self.data.text() else None,
                     arch=self.arch.text() or None, target_column=self.target_column.text() or None,
                     trust_import=split(self.trust.text()))
        p.update(self.extra_params)
        return p

    def start(self, job: str = "robustness"):
        params = self.params()
        if job == "harden":
            params.update(method=self.method.currentText(), epochs=self.epochs.value())
        if params.get("trust_import") and not self.host.ask(
                "Trust these imports?", "The model file may import and call " + ", ".join(params["trust_import"])
                + " on this machine, with arguments it chooses. Go on only if you trust where it came from."):
            return None
        try:
            spec = self.plugin.job_spec(job, **params)
        except ValueError as exc:
            self.host.error("Cannot run", str(exc))
            return None
        self.job = self.host.start_job(spec)
        return self.job

    # -------------------------------------------------------------- job events
    def _started(self, job) -> None:
        self.job = job
        self._live_run = job.run_id
        self.cancel_button.setEnabled(True)
        self.run_button.setEnabled(False)
        self.harden_button.setEnabled(False)
        self._gpu_ticks = 0
        self._read_gpu()
        self.refresh()  # the running run appears in the history, selected
        self.timer.start()

    def _updated(self, job) -> None:
        tracker = job.tracker
        if tracker.total:
            self.progress.setRange(0, int(tracker.total))
            self.progress.setValue(int(tracker.done))
        eta = getattr(tracker, "eta", None)
        self.eta.setText(f"ETA {eta:.0f} s" if isinstance(eta, (int, float)) else "")
        self._dirty = True

    def _finished(self, job) -> None:
        self.timer.stop()
        self.cancel_button.setEnabled(False)
        self.run_button.setEnabled(True)
        self.harden_button.setEnabled(True)
        self.eta.setText(job.status)
        reason = job.result if isinstance(job.result, str) else ""
        self.message.setText(f"Run #{job.run_id} {job.status}: {reason.strip().splitlines()[-1]}"
                             if job.status != "done" and reason.strip() else "")
        self.message.setVisible(bool(self.message.text()))
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
        """{curve name: (epsilons, robust accuracies)} of the selected runs, starting at (0, clean accuracy)."""
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
                    out[name] = ([p[0] for p in pts], [p[1] for p in pts])
        return out

    def _redraw(self) -> None:
        self.plot.show_sweep(dict(sorted(self.curve_data().items())))  # the x range is this sweep's
        for name, item in self.curves.items():
            if "original" in name and "hardened" not in name:  # before hardening: dashed
                pen = pg.mkPen(item.opts["pen"])
                pen.setStyle(Qt.PenStyle.DashLine)
                pen.setWidthF(2)
                item.setPen(pen)
        self._fill_table()

    def _fill_table(self) -> None:
        rows = []
        if self.store is not None:
            for run_id in self.selected_runs():
                for p in S.points(self.store, run_id):
                    rows.append([f"#{run_id}", p["model_version"], p["attack"], p["eps_label"],
                                 f"{p['robust_accuracy']:.3f}", f"{p['success_rate']:.3f}",
                                 f"{p['mean_perturbation']:.4f}"])
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                self.table.setItem(i, j, QTableWidgetItem(v))
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()

    def _show_examples(self) -> None:
        """Up to six examples of the selected point, each as clean / adversarial / signed δ heat map."""
        self.gallery.clear()
        self.example_views = []
        rows = sorted({i.row() for i in self.table.selectedItems()})
        if not rows or self.store is None:
            self.example_count = 0
            return
        cells = [self.table.item(rows[0], j).text() for j in range(4)]
        run_id, version, attack, eps_label = int(cells[0].lstrip("#")), cells[1], cells[2], cells[3]
        shown = S.examples(self.store, run_id, version, attack, eps_label)[:6]
        cmap = pg.colormap.get("CET-D1")  # diverging: blue lowered, red raised, white untouched
        fg = "#e8eaed" if is_dark() else "#202124"
        self.gallery.setBackground("#202124" if is_dark() else "w")
        for row, title in enumerate(("clean", "adversarial", "perturbation δ")):
            self.gallery.addLabel(title, row=row + 1, col=0, color=fg, size="9pt")
        for col, ex in enumerate(shown, start=1):
            lo, hi = float(ex["x"].min()), float(ex["x"].max())
            delta = (ex["x_adv"] - ex["x"]).mean(axis=0)
            m = float(abs(delta).max()) or 1.0
            changed = ex["adv_pred"] != ex["clean_pred"]
            self.gallery.addLabel(f"#{ex['idx']}: {ex['clean_pred']} → {ex['adv_pred']}"
                                  + ("" if changed else " (held)"), row=0, col=col,
                                  color="#d62728" if changed else fg, size="9pt")
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

def _display(x):
    """(C, H, W) -> (H, W), or (H, W, 3) for colour images, for ImageItem (levels set by the caller)."""
    return x[0] if x.shape[0] == 1 else x[:3].transpose(1, 2, 0)
