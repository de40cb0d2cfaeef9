"""The Anonymise tab: data preview, column inspector, hierarchies to review, privacy settings, Run,
the latest run (its policy, risk before/after, output) and the findings, on the kit."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QLabel, QLineEdit,
                               QPushButton, QSizePolicy, QSpinBox, QTableView, QTableWidget, QTableWidgetItem,
                               QVBoxLayout)

from workbench.gui.api import (ArrowTableModel, ChartLabel, JobPanel, PluginTab, column, fill_table, pages,
                               plugin_findings, row, side_by_side)

from .report import class_size_chart, risk_chart, run_html

ROLES = ["direct_identifier", "quasi_identifier", "sensitive", "other"]
TRANSFORMS = ["keep", "drop", "redact", "mask", "pseudonymise", "tokenise", "surrogate", "scrub", "noise"]
INSPECTOR = ["Column", "Detected type", "Conf.", "Role", "Transform", "Hierarchy (ARX CSV or auto)"]
AUTO_TEXT = "auto"
PICK_QI = "Select a quasi-identifier in the column list to see its hierarchy."
#: a reopened project's latest dataset is read back on open up to this size (larger: Load && detect)
RESTORE_BYTES = 8 << 20


class AnonymiseTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job, self.table, self.decisions = None, None, []
        # input, output, Run/Cancel, progress and errors: the kit's panel; the policy is what the
        # inspector and the privacy models show, built at Run by the CLI's make_policy
        self.panel = JobPanel(plugin, host, "anonymise", browse="file", hide=("policy", "recipients", "roles"),
                              extra=self.run_params, target_label="Dataset:", form_columns=2)
        self.input, self.output, self.run_button = self.panel.target, self.panel.fields["output"], self.panel.run_button
        self.start = self.panel.start
        self.load_button = QPushButton("Load && detect")
        self.load_button.clicked.connect(lambda: self.load(self.input.text()))
        self.panel.top.insertWidget(3, self.load_button)
        self.panel.picked.connect(self.load)
        self.panel.started.connect(lambda job: setattr(self, "job", job))
        self.panel.finished.connect(lambda job: self.refresh())
        self.model = ArrowTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        # the latest run: what it ran and wrote, then one chart of the risk figures and one of the
        # class sizes, each with before and after side by side on one axis
        self.chart_risk, self.chart_classes = ChartLabel(), ChartLabel()
        self.risk_text = QLabel("No run yet.")
        self.risk_text.setWordWrap(True)
        self.risk_text.setTextFormat(Qt.RichText)
        self.risk_text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.risk_text.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)  # the charts take the rest
        # the hierarchy of the selected quasi-identifier as the run will use it (built from the data
        # when no file is given), for review before Run
        self.hier_title = QLabel(PICK_QI)
        self.hier_title.setWordWrap(True)
        self.hier_table = QTableWidget(0, 0)
        self.hier_save = QPushButton("Save as ARX CSV…")
        self.hier_save.clicked.connect(self._save_hierarchy_dialog)
        self.findings = plugin_findings(self)
        self.views = pages(("Data", self.view),
                           ("Latest run: risk before / after", column(self.risk_text, row(
                               self.chart_risk, self.chart_classes, stretch={0: 1, 1: 1}), stretch=1)),
                           ("Hierarchy", column(row(self.hier_title, self.hier_save, stretch=0), self.hier_table)),
                           ("Findings", self.findings))
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
        self.l_div, self.t_close = QLineEdit(), QLineEdit()
        self.l_div.setPlaceholderText("distinct:2 | entropy:2 | recursive:3:2")
        self.t_close.setPlaceholderText("equal:0.2 | hierarchical:0.2")
        models = QGroupBox("Privacy models")
        form = QFormLayout(models)
        for label, widget in (("k-anonymity, k", self.k), ("Suppression limit", self.suppression),
                              ("Quality metric", self.metric), ("l-diversity (sensitive)", self.l_div),
                              ("t-closeness (sensitive)", self.t_close)):
            form.addRow(label, widget)
        self.status = QLabel("Load a dataset to start.")
        self.status.setWordWrap(True)
        side = column("Columns", self.inspector, models, stretch=1)
        QVBoxLayout(self).addWidget(column(self.panel, side_by_side(self.views, side), self.status, stretch=1))

    # ------------------------------------------------------------ data
    def load(self, path: str) -> bool:
        from .detect import detect_table
        from .engine import DEFAULT_TRANSFORMS, hierarchy_beside
        from .errors import AnonymiseError
        from .reader import read_table

        try:
            table = read_table(path)
        except AnonymiseError as exc:
            self.panel.show_error(f"Cannot read the dataset: {exc}")
            return False
        self.table = table
        if self.input.text() != path:
            self.input.setText(path)
        self.model.set_table(table.data)
        self.decisions = detect_table(table)
        self.inspector.setRowCount(len(self.decisions))
        for i, d in enumerate(self.decisions):
            for c, text in enumerate((d.column, d.entity, f"{d.confidence:.2f}")):
                self.inspector.setItem(i, c, QTableWidgetItem(text))
            for c, choices, current in ((3, ROLES, d.role), (4, TRANSFORMS, DEFAULT_TRANSFORMS.get(d.entity, "keep"))):
                box = QComboBox()
                box.addItems(choices)
                box.setCurrentText(current)
                self.inspector.setCellWidget(i, c, box)
            self.inspector.cellWidget(i, 3).currentTextChanged.connect(lambda _text, row=i: self._role_changed(row))
            found = hierarchy_beside(path, d.column)
            # the file name is what tells hierarchies apart; the full path is kept and shown on hover
            hier = QTableWidgetItem(os.path.basename(found) or (AUTO_TEXT if d.role == "quasi_identifier" else ""))
            hier.setData(Qt.UserRole, found)
            hier.setToolTip(found or "No ARX hierarchy beside the data: 'auto' builds one from the data "
                            "(see the Hierarchy view); or type the path of an ARX CSV")
            self.inspector.setItem(i, 5, hier)
        self.inspector.resizeColumnsToContents()
        if not self.output.text():
            self.output.setText(os.path.splitext(path)[0] + "-anonymised.csv")
        self.views.setCurrentIndex(0)
        self.status.setText(f"{table.num_rows:,} rows × {len(table.columns)} columns read from {path} "
                            f"(delimiter {table.delimiter!r}, encoding {table.encoding})")
        return True

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
        if not os.path.isabs(text):
            return os.path.join(os.path.dirname(os.path.abspath(self.input.text())), text)
        return text

    def choices(self) -> dict:
        """What the window shows, as the arguments of `engine.make_policy` (the CLI's function too)."""
        roles, transforms, qi, sensitive = {}, {}, {}, []
        for i, d in enumerate(self.decisions):
            role = roles[d.column] = self.inspector.cellWidget(i, 3).currentText()
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
        from .engine import detect_policy, make_policy

        # detection already ran on load: start from its decisions rather than detect again
        return make_policy(self.table, base=detect_policy(self.table, self.decisions), **self.choices(),
                           source=self.input.text() or "the tab").to_dict()

    def run_params(self) -> dict:
        """What Run adds to the panel's form: the policy on screen, refused before anything runs as
        the CLI refuses it (the window never runs less than it shows)."""
        if self.table is None and not self.load(self.input.text()):
            raise ValueError(self.panel.error.text())
        output = self.output.text().strip()
        return {"target": os.path.abspath(self.input.text().strip()),
                "output": os.path.abspath(output) if output else "", "policy": self.policy()}

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

        fill_table(self.hier_table, [], [])
        if self.table is None or not 0 <= row < len(self.decisions) or \
                self.inspector.cellWidget(row, 3).currentText() != "quasi_identifier":
            self.hier_title.setText(PICK_QI)
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
        # enough to review; the file holds all
        fill_table(self.hier_table, [f"level {i}" for i in range(h.height)], h.rows, limit=500)

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

    # ------------------------------------------------------------ results
    def refresh(self) -> None:
        """The latest run on open and after each run: its policy, output, risk before and after."""
        self.findings.refresh()
        run = self.store.latest_run(job="anonymise") if self.store is not None else None
        s = (run or {}).get("summary") or {}
        self.risk_text.setText(run_html(run) if run else "No anonymise run in this project yet.")
        before, after = s.get("risk_before"), s.get("risk_after")
        for chart, make in ((self.chart_risk, risk_chart), (self.chart_classes, class_size_chart)):
            chart.setVisible(bool(before and after))
            if before and after:
                chart.set_chart(make(before, after))  # drawn at the pane's shape, in the theme of the moment
        if run and self.table is None and not self.input.text() and s.get("input"):
            self.restore(run)

    def restore(self, run) -> None:
        """A reopened project: the latest run's input and output, and (for a dataset small enough to
        read at once) its policy back in the inspector and the privacy models, ready to run again."""
        pol, path = (run.get("params") or {}).get("policy") or {}, str(run["summary"]["input"])
        self.input.setText(path)
        self.output.setText(str(run["summary"].get("output") or ""))
        if os.path.isfile(path) and os.path.getsize(path) <= RESTORE_BYTES and self.load(path):
            for i, d in enumerate(self.decisions):
                spec = (pol.get("columns") or {}).get(d.column) or {}
                self.inspector.cellWidget(i, 3).setCurrentText(spec.get("role", d.role))
                self.inspector.cellWidget(i, 4).setCurrentText(spec.get("transform", "keep"))
                qi = (pol.get("qi") or {}).get(d.column)
                if qi and qi != AUTO_TEXT:
                    self.inspector.item(i, 5).setData(Qt.UserRole, qi)
                    self.inspector.item(i, 5).setText(os.path.basename(qi))
            self.k.setValue(int(pol.get("k", self.k.value())))
            self.suppression.setValue(float(pol.get("suppression", self.suppression.value())))
            self.metric.setCurrentText(pol.get("metric", self.metric.currentText()))
            self.l_div.setText(next(iter((pol.get("l_diversity") or {}).values()), ""))
            self.t_close.setText(next(iter((pol.get("t_closeness") or {}).values()), ""))
            self.status.setText(f"The settings of run #{run['id']} on {path}: Run repeats it.")
        self.views.setCurrentIndex(1)
