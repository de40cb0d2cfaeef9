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
INSPECTOR = ["Column", "Detected type", "Conf.", "Role", "Transform", "Hierarchy (ARX CSV or auto)"]
AUTO_TEXT = "auto"


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
        self.host.writes(self.run_button)  # disabled in a read-only window
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
        # the hierarchy of the selected quasi-identifier, as the run will use it (built from the data
        # when no file is given), for review before Run
        self.hier_title = QLabel("Select a quasi-identifier to see its hierarchy.")
        self.hier_title.setWordWrap(True)
        self.hier_table = QTableWidget(0, 0)
        self.hier_table.verticalHeader().setVisible(False)
        self.hier_save = QPushButton("Save as ARX CSV…")
        self.hier_save.clicked.connect(self._save_hierarchy_dialog)
        hier = QWidget()
        hl = QVBoxLayout(hier)
        hrow = QHBoxLayout()
        hrow.addWidget(self.hier_title, 1)
        hrow.addWidget(self.hier_save)
        hl.addLayout(hrow)
        hl.addWidget(self.hier_table, 1)
        self.views = QTabWidget()
        self.views.addTab(self.view, "Data")
        self.views.addTab(risk, "Risk before / after")
        self.views.addTab(hier, "Hierarchy")
        # side inspector: columns and privacy models
        self.inspector = QTableWidget(0, len(INSPECTOR))
        self.inspector.setHorizontalHeaderLabels(INSPECTOR)
        # hierarchy paths are long: show their file name end, the whole path in the tooltip
        self.inspector.setWordWrap(False)
        self.inspector.verticalHeader().setVisible(False)
        self.inspector.horizontalHeader().setStretchLastSection(True)
        self.inspector.setTextElideMode(Qt.ElideLeft)
        self.inspector.currentCellChanged.connect(lambda row, *_: self.show_hierarchy(row))
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
        from .engine import DEFAULT_TRANSFORMS as default

        for i, d in enumerate(self.decisions):
            self.inspector.setItem(i, 0, QTableWidgetItem(d.column))
            self.inspector.setItem(i, 1, QTableWidgetItem(d.entity))
            self.inspector.setItem(i, 2, QTableWidgetItem(f"{d.confidence:.2f}"))
            role = QComboBox()
            role.addItems(ROLES)
            role.setCurrentText(d.role)
            role.currentTextChanged.connect(lambda _text, row=i: self._role_changed(row))
            self.inspector.setCellWidget(i, 3, role)
            tr = QComboBox()
            tr.addItems(TRANSFORMS)
            tr.setCurrentText(default.get(d.entity, "keep"))
            self.inspector.setCellWidget(i, 4, tr)
            found = self._guess_hierarchy(path, d.column)
            # the file name is what tells hierarchies apart; the full path is kept and shown on hover
            hier = QTableWidgetItem(os.path.basename(found) or (AUTO_TEXT if d.role == "quasi_identifier" else ""))
            hier.setData(Qt.UserRole, found)
            hier.setToolTip(found or "No ARX hierarchy beside the data: 'auto' builds one from the data "
                            "(see the Hierarchy view); or type the path of an ARX CSV")
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

    def _role_changed(self, row: int) -> None:
        """A column made a quasi-identifier without a file gets 'auto', shown as it will run."""
        item = self.inspector.item(row, 5)
        role = self.inspector.cellWidget(row, 3).currentText()
        if item is not None and role == "quasi_identifier" and not item.text().strip():
            item.setText(AUTO_TEXT)
        elif item is not None and role != "quasi_identifier" and item.text().strip() == AUTO_TEXT:
            item.setText("")
        self.show_hierarchy(row)

    def _hierarchy_of(self, row: int) -> str:
        """The ARX file of a row, or "auto" (empty cell or 'auto': built from the data)."""
        item = self.inspector.item(row, 5)
        if item is None:
            return AUTO_TEXT
        text, full = item.text().strip(), item.data(Qt.UserRole) or ""
        if not text or text == AUTO_TEXT:
            return AUTO_TEXT
        # a name the user typed over the found one wins; relative names are next to the data
        if full and text == os.path.basename(full):
            return full
        if text and not os.path.isabs(text):
            return os.path.join(os.path.dirname(os.path.abspath(self.input.text())), text)
        return text

    def choices(self) -> dict:
        """What the window shows, as the arguments of `engine.make_policy` (the CLI's function too)."""
        roles, transforms, qi, sensitive = {}, {}, {}, []
        for i, d in enumerate(self.decisions):
            role = self.inspector.cellWidget(i, 3).currentText()
            roles[d.column] = role
            transforms[d.column] = self.inspector.cellWidget(i, 4).currentText()
            if role == "quasi_identifier":
                qi[d.column] = self._hierarchy_of(i)
            elif role == "sensitive":
                sensitive.append(d.column)
        l_div, t_close = self.l_div.text().strip() or None, self.t_close.text().strip() or None
        # the l-diversity / t-closeness fields name the columns they apply to by the role
        # 'sensitive', as --sensitive does on the CLI; without a model the role is only a label
        return {"roles": roles, "transforms": transforms, "qi": qi,
                "sensitive": sensitive if (l_div or t_close) else [],
                "k": self.k.value(), "l_diversity": l_div, "t_closeness": t_close,
                "suppression": self.suppression.value(), "metric": self.metric.currentText()}

    def policy(self) -> dict:
        """The policy the run will use, exactly; raises AnonymiseError for what cannot run
        (the same refusals as the CLI: both build it with `engine.make_policy`)."""
        from .engine import DEFAULT_TRANSFORMS, Policy, make_policy

        # detection already ran on load: start from its decisions rather than detect again
        detected = Policy(columns={d.column: {"entity": d.entity, "role": d.role, "confidence": d.confidence,
                                              "transform": DEFAULT_TRANSFORMS.get(d.entity, "keep")}
                                   for d in self.decisions})
        return make_policy(self.table, base=detected, **self.choices(),
                           source=self.input.text() or "the tab").to_dict()

    # ------------------------------------------------------------ hierarchies
    def hierarchy_for(self, row: int):
        """The Hierarchy the run will use for this row's column (read, or built from the data)."""
        from .engine import Policy, resolve_hierarchies

        d = self.decisions[row]
        pol = Policy(columns={d.column: {"entity": d.entity}}, qi={d.column: self._hierarchy_of(row)})
        return resolve_hierarchies(pol, self.table)[d.column]

    def show_hierarchy(self, row: int) -> None:
        from .errors import AnonymiseError
        from .hierarchy import describe_hierarchy

        self.hier_table.clear()
        self.hier_table.setRowCount(0)
        self.hier_table.setColumnCount(0)
        if self.table is None or not 0 <= row < len(self.decisions) or \
                self.inspector.cellWidget(row, 3).currentText() != "quasi_identifier":
            self.hier_title.setText("Select a quasi-identifier to see its hierarchy.")
            return
        try:
            h = self.hierarchy_for(row)
        except AnonymiseError as exc:
            self.hier_title.setText(f"{self.decisions[row].column}: {exc}")
            return
        kind = getattr(h, "kind", None)
        self.hier_title.setText(
            f"<b>{self.decisions[row].column}</b>: {h.height} levels, {h.domain_size} values; "
            + (f"built from the data ({kind}); " if kind else f"from {h.source}; ") + describe_hierarchy(h))
        shown = h.rows[:500]  # enough to review; the file holds all
        self.hier_table.setColumnCount(h.height)
        self.hier_table.setHorizontalHeaderLabels([f"level {i}" for i in range(h.height)])
        self.hier_table.setRowCount(len(shown))
        for r, values in enumerate(shown):
            for c, v in enumerate(values):
                self.hier_table.setItem(r, c, QTableWidgetItem(v))

    def save_hierarchy(self, row: int, path: str) -> str:
        """Write the row's hierarchy as an ARX CSV and use that file from now on (to edit it)."""
        from .hierarchy import write_arx_hierarchy

        write_arx_hierarchy(path, self.hierarchy_for(row))
        item = self.inspector.item(row, 5)
        item.setData(Qt.UserRole, os.path.abspath(path))
        item.setText(os.path.basename(path))
        item.setToolTip(os.path.abspath(path))
        return path

    def _save_hierarchy_dialog(self) -> None:
        row = self.inspector.currentRow()
        if row < 0 or self.table is None:
            return
        stem = os.path.splitext(os.path.abspath(self.input.text()))[0]
        path, _ = QFileDialog.getSaveFileName(self, "Save hierarchy", f"{stem}_hierarchy_"
                                              f"{self.decisions[row].column}.csv", "ARX hierarchy (*.csv)")
        if path:
            self.save_hierarchy(row, path)

    # ------------------------------------------------------------ jobs
    def start(self):
        from workbench.api import ParamsError

        from .errors import AnonymiseError

        if self.table is None and not self.load(self.input.text()):
            return None
        try:
            spec = self.plugin.job_spec("anonymise", target=os.path.abspath(self.input.text()),
                                        output=os.path.abspath(self.output.text()), policy=self.policy())
        except AnonymiseError as exc:
            # refused before anything runs, as the CLI refuses it: the window never runs less than it shows
            self.status.setText(f"Cannot run: {exc}")
            self.host.error("Cannot run", str(exc))
            return None
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
        hier = "; ".join(f"{c} {h.get('source')}{' ' + h['kind'] if h.get('kind') else ''} ({h.get('levels')} levels)"
                         for c, h in (s.get("hierarchies") or {}).items()) or "from files"
        checks = "".join(f"<li>{'✔' if c['ok'] else '✘'} {c['name']}: {c['detail']}</li>"
                         for c in s.get("verification") or [])
        self.risk_text.setText(
            f"<b>{os.path.basename(str(s.get('input')))}</b> → {s.get('output')}<br>"
            f"Levels: {levels}; suppressed {s.get('suppressed_rows')} rows; "
            f"{s.get('metric')} {s.get('information_loss') or 0:.4f}<br>"
            f"P(A|D) {before['p_reidentification']:.4f} → <b>{after['p_reidentification']:.4f}</b>; "
            f"highest prosecutor risk {before['prosecutor']['highest']:.3f} → {after['prosecutor']['highest']:.3f}; "
            f"sample uniqueness {before['sample_uniqueness']:.3f} → {after['sample_uniqueness']:.3f}<br>"
            f"Hierarchies: {hier}"
            f"<ul>{checks}</ul>")
