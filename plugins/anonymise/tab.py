"""The Anonymise tab: data preview, column inspector, privacy settings, run, risk before/after."""

from __future__ import annotations

import os

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableView, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from workbench.api import BarChart
from workbench.gui.api import ChartLabel, PluginTab, draw_chart

ROLES = ["direct_identifier", "quasi_identifier", "sensitive", "other"]
TRANSFORMS = ["keep", "drop", "redact", "mask", "pseudonymise", "tokenise", "surrogate", "scrub", "noise"]
INSPECTOR = ["Column", "Detected type", "Conf.", "Role", "Transform", "Hierarchy (ARX CSV)"]


BEFORE, AFTER = "#c0504d", "#2e75b6"


def risk_chart(before: dict, after: dict) -> BarChart:
    """The headline risk figures (probabilities, 0-1) before and after, side by side."""
    names = ["P(A|D)", "Prosecutor max", "Journalist max", "At risk", "Unique"]

    def figures(r):
        return [r["p_reidentification"], r["prosecutor"]["highest"], r["journalist"]["highest"],
                r["prosecutor"]["records_at_risk"], r["sample_uniqueness"]]

    return BarChart("Re-identification risk (probability)", names,
                    {"before": figures(before), "after": figures(after)}, stacked=False,
                    colors={"before": BEFORE, "after": AFTER})


def class_size_chart(before: dict, after: dict) -> BarChart:
    """Records by equivalence-class size before and after, on one axis."""
    cats = [h["sizes"] for h in before["histogram"]]
    return BarChart("Records by equivalence-class size", cats,
                    {"before": [float(h["records"]) for h in before["histogram"]],
                     "after": [float(h["records"]) for h in after["histogram"]]}, stacked=False,
                    colors={"before": BEFORE, "after": AFTER})


class ArrowTableModel(QAbstractTableModel):
    """Rows straight from pyarrow columns: nothing is copied per row, so millions stay fast."""

    def __init__(self, table=None, parent=None):
        super().__init__(parent)
        self._table = table
        self._cols = [c.combine_chunks() for c in table.columns] if table is not None else []

    def set_table(self, table) -> None:
        self.beginResetModel()
        self._table = table
        self._cols = [c.combine_chunks() for c in table.columns] if table is not None else []
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() or self._table is None else self._table.num_rows

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() or self._table is None else self._table.num_columns

    def data(self, index, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and index.isValid():
            return self._cols[index.column()][index.row()].as_py()
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role != Qt.DisplayRole or self._table is None:
            return None
        return self._table.column_names[section] if orientation == Qt.Horizontal else str(section + 1)


class AnonymiseTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job = None
        self.table = None
        self.decisions = []
        # what to work on, and Run
        self.input = QLineEdit()
        self.input.setPlaceholderText("Dataset (CSV, TSV, Parquet, JSON Lines)")
        browse = QPushButton("Open…")
        browse.clicked.connect(self._browse)
        self.output = QLineEdit()
        self.output.setPlaceholderText("Output .csv")
        self.load_button = QPushButton("Load && detect")
        self.load_button.clicked.connect(lambda: self.load(self.input.text()))
        self.run_button = QPushButton("Run ▶")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel ■")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self.job and self.job.cancel())
        self.progress = QProgressBar()
        top = QHBoxLayout()
        for w in (self.input, browse, self.load_button, self.output, self.run_button, self.cancel_button,
                  self.progress):
            top.addWidget(w)
        # main view: data and risk
        self.model = ArrowTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.status = QLabel("Load a dataset to start.")
        self.status.setWordWrap(True)
        # one chart of the risk figures and one of the class sizes, each with before and after side by side
        # on the same axis, so the change is read off directly
        self.chart_risk, self.chart_classes = ChartLabel(), ChartLabel()
        self.risk_text = QLabel("No run yet.")
        self.risk_text.setWordWrap(True)
        self.risk_text.setTextFormat(Qt.RichText)
        risk = QWidget()
        rl = QVBoxLayout(risk)
        charts = QHBoxLayout()
        charts.addWidget(self.chart_risk)
        charts.addWidget(self.chart_classes)
        rl.addWidget(self.risk_text)
        rl.addLayout(charts, 1)
        self.views = QTabWidget()
        self.views.addTab(self.view, "Data")
        self.views.addTab(risk, "Risk before / after")
        # side inspector: columns and privacy models
        self.inspector = QTableWidget(0, len(INSPECTOR))
        self.inspector.setHorizontalHeaderLabels(INSPECTOR)
        # hierarchy paths are long: show their file name end, the whole path in the tooltip
        self.inspector.setWordWrap(False)
        self.inspector.verticalHeader().setVisible(False)
        self.inspector.horizontalHeader().setStretchLastSection(True)
        self.inspector.setTextElideMode(Qt.ElideLeft)
        self.k = QSpinBox()
        self.k.setRange(1, 1_000_000)
        self.k.setValue(5)
        self.suppression = QDoubleSpinBox()
        self.suppression.setRange(0.0, 1.0)
        self.suppression.setSingleStep(0.01)
        self.suppression.setDecimals(3)
        self.suppression.setValue(0.04)
        self.metric = QComboBox()
        self.metric.addItems(["loss", "discernibility", "aecs", "entropy"])
        self.l_div = QLineEdit()
        self.l_div.setPlaceholderText("distinct:2 | entropy:2 | recursive:3:2")
        self.t_close = QLineEdit()
        self.t_close.setPlaceholderText("equal:0.2 | hierarchical:0.2")
        form_box = QGroupBox("Privacy models")
        form = QFormLayout(form_box)
        form.addRow("k-anonymity, k", self.k)
        form.addRow("Suppression limit", self.suppression)
        form.addRow("Quality metric", self.metric)
        form.addRow("l-diversity (sensitive)", self.l_div)
        form.addRow("t-closeness (sensitive)", self.t_close)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.addWidget(QLabel("Columns"))
        sl.addWidget(self.inspector, 1)
        sl.addWidget(form_box)
        split = QSplitter()
        split.addWidget(self.views)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 740])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        host.job_updated.connect(self._updated)
        host.job_finished.connect(self._finished)

    # ------------------------------------------------------------ data
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dataset", "", "Data (*.csv *.tsv *.txt *.parquet *.jsonl)")
        if path:
            self.input.setText(path)
            self.load(path)

    def load(self, path: str) -> bool:
        from .detect import detect_table
        from .errors import AnonymiseError
        from .reader import read_table

        try:
            table = read_table(path)
        except AnonymiseError as exc:
            self.host.error("Cannot read the dataset", str(exc))
            return False
        self.table = table
        if self.input.text() != path:
            self.input.setText(path)
        self.model.set_table(table.data)
        self.decisions = detect_table(table)
        self.inspector.setRowCount(len(self.decisions))
        default = {"person_name": "surrogate", "email": "pseudonymise", "phone": "mask", "iban": "tokenise",
                   "credit_card": "mask", "national_id": "pseudonymise", "ip_address": "pseudonymise",
                   "mac_address": "pseudonymise", "url": "redact", "free_text_pii": "scrub"}
        for i, d in enumerate(self.decisions):
            self.inspector.setItem(i, 0, QTableWidgetItem(d.column))
            self.inspector.setItem(i, 1, QTableWidgetItem(d.entity))
            self.inspector.setItem(i, 2, QTableWidgetItem(f"{d.confidence:.2f}"))
            role = QComboBox()
            role.addItems(ROLES)
            role.setCurrentText(d.role)
            self.inspector.setCellWidget(i, 3, role)
            tr = QComboBox()
            tr.addItems(TRANSFORMS)
            tr.setCurrentText(default.get(d.entity, "keep"))
            self.inspector.setCellWidget(i, 4, tr)
            found = self._guess_hierarchy(path, d.column)
            # the file name is what tells hierarchies apart; the full path is kept and shown on hover
            hier = QTableWidgetItem(os.path.basename(found))
            hier.setData(Qt.UserRole, found)
            hier.setToolTip(found or "No ARX hierarchy found beside the data: type the path of one")
            self.inspector.setItem(i, 5, hier)
        self.inspector.resizeColumnsToContents()
        if not self.output.text():
            base, _ = os.path.splitext(path)
            self.output.setText(base + "-anonymised.csv")
        self.status.setText(f"{table.num_rows:,} rows × {len(table.columns)} columns read from {path} "
                            f"(delimiter {table.delimiter!r}, encoding {table.encoding})")
        return True

    @staticmethod
    def _guess_hierarchy(path: str, column: str) -> str:
        """ARX's naming: <dataset>_hierarchy_<column>.csv next to the data."""
        folder = os.path.dirname(os.path.abspath(path))
        stem = os.path.splitext(os.path.basename(path))[0]
        cand = os.path.join(folder, f"{stem}_hierarchy_{column}.csv")
        return cand if os.path.exists(cand) else ""

    def _hierarchy_of(self, row: int) -> str:
        item = self.inspector.item(row, 5)
        if item is None:
            return ""
        text, full = item.text().strip(), item.data(Qt.UserRole) or ""
        # a name the user typed over the found one wins; relative names are next to the data
        if full and text == os.path.basename(full):
            return full
        if text and not os.path.isabs(text):
            return os.path.join(os.path.dirname(os.path.abspath(self.input.text())), text)
        return text

    def policy(self) -> dict:
        cols, qi, sensitive = {}, {}, []
        for i, d in enumerate(self.decisions):
            role = self.inspector.cellWidget(i, 3).currentText()
            transform = self.inspector.cellWidget(i, 4).currentText()
            hier = self._hierarchy_of(i)
            cols[d.column] = {"entity": d.entity, "role": role, "confidence": d.confidence, "transform": transform}
            if role == "quasi_identifier" and hier:
                qi[d.column] = hier
                cols[d.column]["transform"] = "keep"
            if role == "sensitive":
                sensitive.append(d.column)
        pol = {"columns": cols, "qi": qi, "sensitive": sensitive, "k": self.k.value() if qi else 1,
               "suppression": self.suppression.value(), "metric": self.metric.currentText()}
        if self.l_div.text().strip() and sensitive:
            pol["l_diversity"] = {c: self.l_div.text().strip() for c in sensitive}
        if self.t_close.text().strip() and sensitive:
            pol["t_closeness"] = {c: self.t_close.text().strip() for c in sensitive}
        return pol

    # ------------------------------------------------------------ jobs
    def start(self):
        from workbench.api import ParamsError

        if self.table is None and not self.load(self.input.text()):
            return None
        try:
            spec = self.plugin.job_spec("anonymise", target=os.path.abspath(self.input.text()),
                                        output=os.path.abspath(self.output.text()), policy=self.policy())
        except ParamsError as exc:
            self.host.error("Cannot run", str(exc))
            return None
        self.job = self.host.start_job(spec)
        if self.job is not None:
            self.run_button.setEnabled(False)
            self.cancel_button.setEnabled(True)
        return self.job

    def _updated(self, job) -> None:
        if job.tracker.total:
            self.progress.setRange(0, int(job.tracker.total))
            self.progress.setValue(int(job.tracker.done))

    def _finished(self, job) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if job.status != "done":
            self.status.setText(f"Run {job.status}: {job.result or job.message or ''}")
        self.refresh()

    # ------------------------------------------------------------ results
    def refresh(self) -> None:
        run = self.store.latest_run(job="anonymise") if self.store is not None else None
        s = (run or {}).get("summary") or {}
        before, after = s.get("risk_before"), s.get("risk_after")
        if not run or not before or not after:
            self.risk_text.setText("No run with quasi-identifiers yet.")
            return
        self.chart_risk.set_image(draw_chart(risk_chart(before, after), 640, 360))
        self.chart_classes.set_image(draw_chart(class_size_chart(before, after), 640, 360))
        levels = ", ".join(f"{k}={v}" for k, v in (s.get("levels") or {}).items())
        checks = "".join(f"<li>{'✔' if c['ok'] else '✘'} {c['name']}: {c['detail']}</li>"
                         for c in s.get("verification") or [])
        self.risk_text.setText(
            f"<b>{os.path.basename(str(s.get('input')))}</b> → {s.get('output')}<br>"
            f"Levels: {levels}; suppressed {s.get('suppressed_rows')} rows; "
            f"{s.get('metric')} {s.get('information_loss') or 0:.4f}<br>"
            f"P(A|D) {before['p_reidentification']:.4f} → <b>{after['p_reidentification']:.4f}</b>; "
            f"highest prosecutor risk {before['prosecutor']['highest']:.3f} → {after['prosecutor']['highest']:.3f}; "
            f"sample uniqueness {before['sample_uniqueness']:.3f} → {after['sample_uniqueness']:.3f}"
            f"<ul>{checks}</ul>")
