"""The Tests tab: run a project's tests, see results by file, coverage, history, flaky tests, fuzz and probes.

Top: the target folder, its interpreter, pytest arguments, reruns and time limit, Run / Cancel,
live progress (tests done of collected, the current test, ETA). Middle: the
runs of the target and, in pages, the results tree by file (outcome colours,
durations), coverage per file with the uncovered lines shaded in the code,
the history of pass rate and coverage, the flaky list, and the latest fuzz
and probe results. Right: the details of the selected test.
"""

from __future__ import annotations

import os
import shlex

from PySide6.QtCore import Qt
from PySide6.QtGui import (QBrush, QColor, QFontDatabase, QStandardItem, QStandardItemModel, QTextCharFormat, QTextCursor,
                           QTextFormat)
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
                               QPushButton, QSpinBox, QSplitter, QTableView, QTabWidget, QTextEdit, QTreeView,
                               QVBoxLayout, QWidget)

from workbench.gui.api import PluginTab, is_dark

OUTCOME_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "error": "#ad1457", "skipped": "#757575"}


def _item(text, *, data=None, colour=None, align_right=False) -> QStandardItem:
    item = QStandardItem("" if text is None else str(text))
    item.setEditable(False)
    if data is not None:
        item.setData(data, Qt.UserRole)
    if colour:
        item.setForeground(QBrush(QColor(colour)))
    if align_right:
        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
    return item


def _table_model(headers, rows) -> QStandardItemModel:
    model = QStandardItemModel(0, len(headers))
    model.setHorizontalHeaderLabels(headers)
    for row in rows:
        model.appendRow([_item(v) for v in row])
    return model


class TestingTab(PluginTab):
    __test__ = False

    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job = None
        self.target = QLineEdit()
        self.target.setPlaceholderText("Project folder whose tests to run")
        browse = QPushButton("…")
        browse.clicked.connect(self._pick_target)
        self.python = QLineEdit()
        self.python.setPlaceholderText("Its interpreter (e.g. .venv/bin/python)")
        browse_py = QPushButton("…")
        browse_py.clicked.connect(self._pick_python)
        self.pytest_args = QLineEdit()
        self.pytest_args.setPlaceholderText("pytest arguments, e.g. -k 'not slow'")
        self.rerun = QSpinBox()
        self.rerun.setRange(0, 20)
        self.rerun.setPrefix("reruns ")
        self.timeout = QSpinBox()
        self.timeout.setRange(0, 24 * 3600)
        self.timeout.setSuffix(" s")
        self.timeout.setSpecialValueText("no time limit")
        self.run_button = QPushButton("Run ▶")
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button = QPushButton("Cancel ■")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self.job and self.job.cancel())
        self.progress = QProgressBar()
        self.progress_label = QLabel("")
        top = QHBoxLayout()
        for button in (browse, browse_py):
            button.setMaximumWidth(button.fontMetrics().horizontalAdvance("…") + 24)
        # Each input has a label (a placeholder is gone once something is typed).
        for w, stretch in ((QLabel("Project"), 0), (self.target, 3), (browse, 0), (QLabel("Python"), 0),
                           (self.python, 2), (browse_py, 0), (QLabel("pytest"), 0), (self.pytest_args, 2),
                           (self.rerun, 0), (QLabel("Limit"), 0), (self.timeout, 0), (self.run_button, 0),
                           (self.cancel_button, 0)):
            top.addWidget(w, stretch)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.progress_label, 3)

        self.runs = QComboBox()
        self.runs.currentIndexChanged.connect(lambda _: self._show_run())
        self.summary = QLabel("")
        self.summary.setWordWrap(True)

        self.results_model = QStandardItemModel()
        self.results = QTreeView()
        self.results.setModel(self.results_model)
        self.results.setUniformRowHeights(True)
        self.results.clicked.connect(self._show_case)

        self.coverage_model = QStandardItemModel()
        self.coverage = QTableView()
        self.coverage.setModel(self.coverage_model)
        self.coverage.setSortingEnabled(True)
        self.coverage.clicked.connect(self._show_file)
        self.code = QPlainTextEdit()
        self.code.setReadOnly(True)
        self.code.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.code.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        cov_split = QSplitter(Qt.Horizontal)
        cov_split.addWidget(self.coverage)
        cov_split.addWidget(self.code)

        self.history = _history_widget()
        self.flaky = QTableView()
        self.untested = QTableView()
        self.untested_note = QLabel("")
        self.untested_note.setWordWrap(True)
        self.fuzz = QTableView()
        self.fuzz_entry = QLineEdit()
        self.fuzz_entry.setPlaceholderText("pkg.module:callable (imported from the project folder)")
        self.fuzz_kind = QComboBox()
        self.fuzz_kind.addItems(["text", "tabular", "image", "json"])
        self.fuzz_button = QPushButton("Fuzz ▶")
        self.fuzz_button.clicked.connect(self.start_fuzz)
        self._fuzz_trusted = False
        self.probes = QTableView()
        self.probe_url = QLineEdit()
        self.probe_url.setPlaceholderText("http://127.0.0.1:8080/v1 (loopback only)")
        self.probe_pack = QLineEdit()
        self.probe_pack.setPlaceholderText("probe pack YAML (empty: the shipped pack)")
        self.probe_key = QLineEdit()
        self.probe_key.setPlaceholderText("API key name (keyring; optional)")
        self.probe_key.setToolTip("The name of the endpoint's key in this project's keyring "
                                  "(workbench secret set PROJECT NAME --stdin); only the name is stored.")
        self.probe_runs = QSpinBox()
        self.probe_runs.setRange(1, 1000)
        self.probe_runs.setValue(5)
        self.probe_runs.setPrefix("runs ")
        self.probe_button = QPushButton("Probe ▶")
        self.probe_button.clicked.connect(self.start_probe)
        self.host.writes(self.run_button, self.fuzz_button, self.probe_button)  # none in a read-only window
        self.pages = QTabWidget()
        self.pages.addTab(self.results, "Results")
        self.pages.addTab(cov_split, "Coverage")
        self.pages.addTab(self.history, "History")
        self.pages.addTab(self.flaky, "Flaky")
        untested_page = QWidget()
        untested_layout = QVBoxLayout(untested_page)
        untested_layout.setContentsMargins(0, 0, 0, 0)
        untested_layout.addWidget(self.untested_note)
        untested_layout.addWidget(self.untested, 1)
        self.pages.addTab(untested_page, "Untested findings")
        self.pages.addTab(_with_bar(self.fuzz, self.fuzz_entry, self.fuzz_kind, self.fuzz_button), "Fuzz")
        self.pages.addTab(_with_bar(self.probes, self.probe_url, self.probe_pack, self.probe_key, self.probe_runs,
                                    self.probe_button), "Probes")

        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.NoWrap)  # tracebacks keep their columns
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.details.setMinimumWidth(360)
        self.details.setPlaceholderText("Select a test to see its failure message")
        middle = QWidget()
        mid_layout = QVBoxLayout(middle)
        mid_layout.setContentsMargins(0, 0, 0, 0)
        runs_row = QHBoxLayout()
        runs_row.addWidget(QLabel("Run:"))
        runs_row.addWidget(self.runs, 1)
        mid_layout.addLayout(runs_row)
        mid_layout.addWidget(self.summary)
        mid_layout.addWidget(self.pages, 1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(middle)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 480])  # pytest's output needs width: a failure pane, not a margin

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(progress_row)
        layout.addWidget(split, 1)
        host.job_updated.connect(self._job_updated)
        host.job_finished.connect(self._job_finished)

    # ------------------------------------------------------------------ running
    def _pick_target(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Project folder", self.target.text())
        if folder:
            self.target.setText(folder)
            if not self.python.text():
                for venv in (".venv", "venv"):
                    candidate = os.path.join(folder, venv, "bin", "python")
                    if os.path.exists(candidate):
                        self.python.setText(candidate)
                        break

    def _pick_python(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The project's Python interpreter", self.python.text())
        if path:
            self.python.setText(path)

    def start_run(self):
        if not self.target.text().strip() or not self.python.text().strip():
            self.host.error("Tests", "Choose the project folder and its own Python interpreter first: the "
                                     "workbench never runs a project's tests with its own.")
            return None
        try:
            pytest_args = shlex.split(self.pytest_args.text())
        except ValueError as exc:
            self.host.error("Tests", f"pytest arguments {self.pytest_args.text()!r}: {exc}")
            return None
        try:
            spec = self.plugin.job_spec("test", target=os.path.abspath(self.target.text().strip()),
                                        python=self.python.text().strip(), rerun=self.rerun.value(),
                                        timeout=float(self.timeout.value()) if self.timeout.value() else None,
                                        pytest_args=pytest_args)
        except ValueError as exc:
            self.host.error("Tests", str(exc))
            return None
        self.job = self.host.start_job(spec)
        if self.job is not None:
            self.run_button.setEnabled(False)
            self.cancel_button.setEnabled(True)
            self.progress.setRange(0, 0)
            self.progress_label.setText("starting…")
        return self.job

    def start_fuzz(self):
        """Fuzz an entry point of the project; the first time, say that this runs its code and ask."""
        entry = self.fuzz_entry.text().strip()
        folder = self.target.text().strip()
        if not entry or not folder:
            self.host.error("Fuzz", "Choose the project folder above and name the entry point as "
                                    "package.module:callable.")
            return None
        if not self._fuzz_trusted:
            if not self.host.ask("Fuzz: this runs the project's code",
                                 f"Fuzzing imports {entry} from {folder} and calls it with thousands of hostile "
                                 "inputs on this machine, in a worker process with time and memory limits. "
                                 "Only do this with code you trust. Go on?"):
                return None
            self._fuzz_trusted = True
        try:
            spec = self.plugin.job_spec("fuzz", target=entry, input=self.fuzz_kind.currentText(),
                                        path=os.path.abspath(folder), python=self.python.text().strip() or None,
                                        trusted=True)
        except ValueError as exc:
            self.host.error("Fuzz", str(exc))
            return None
        return self.host.start_job(spec)

    def start_probe(self):
        url = self.probe_url.text().strip()
        if not url:
            self.host.error("Probes", "Give the endpoint's URL, e.g. http://127.0.0.1:8080/v1")
            return None
        try:
            spec = self.plugin.job_spec("probe", target=url, pack=self.probe_pack.text().strip() or None,
                                        runs=self.probe_runs.value(), key_name=self.probe_key.text().strip() or None)
        except ValueError as exc:
            self.host.error("Probes", str(exc))
            return None
        return self.host.start_job(spec)

    def _job_updated(self, job) -> None:
        tracker = job.tracker
        if tracker.total:
            self.progress.setRange(0, int(tracker.total))
            self.progress.setValue(int(tracker.done))
        eta = getattr(tracker, "eta", None)
        unit = {"test": "tests", "fuzz": "calls", "probe": "requests", "import": "cases"}.get(job.spec.job, "")
        text = f"{int(tracker.done)} of {int(tracker.total or 0)} {unit}"
        message = getattr(job, "message", "") or ""
        if message:
            text += f" · {message}"
        if eta:
            text += f" · ETA {int(eta) // 60}:{int(eta) % 60:02d}"
        self.progress_label.setText(text)

    def _job_finished(self, job) -> None:
        if job is not self.job and job.status != "done":
            self.host.notify(f"{job.spec.title}: {job.status}: {job.result}")
        if job is self.job:
            self.run_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if job.status == "done" else 0)
            self.progress_label.setText(job.status if job.status == "done" else f"{job.status}: {job.result}")
        self.refresh()

    # ------------------------------------------------------------------ showing
    def refresh(self) -> None:
        self.runs.blockSignals(True)
        self.runs.clear()
        if self.store is not None:
            rows = self.store.query("SELECT r.run_id, r.kind, r.target, r.status, r.tests, r.passed, "
                                    "r.coverage_percent FROM testing_runs r ORDER BY r.run_id DESC")
            for r in rows:
                cov = "" if r["coverage_percent"] is None else f", coverage {r['coverage_percent']:.1f} %"
                self.runs.addItem(f"#{r['run_id']} {os.path.basename(r['target'])} ({r['kind']}, {r['status']}: "
                                  f"{r['passed']}/{r['tests']} passed{cov})", r["run_id"])
        self.runs.blockSignals(False)
        self._show_run()
        self._show_fuzz_and_probes()

    def current_run_id(self) -> int | None:
        return self.runs.currentData()

    def _show_run(self) -> None:
        from workbench_plugins.testing import store as tables

        self._run_row = None
        self.history.clear()
        self.results_model.clear()
        self.coverage_model.clear()
        self.code.clear()
        self.details.clear()
        run_id = self.current_run_id()
        if self.store is None or run_id is None:
            self.summary.setText("No test run in this project yet." if self.store is not None else "")
            self._show_flaky()
            self._show_untested()
            return
        row = tables.run_row(self.store, run_id)
        self._run_row = row
        if row["kind"] == "pytest" and not self.target.text().strip() and not self.python.text().strip():
            # A reopened project: Run again on what was last run, with its own interpreter.
            self.target.setText(row["target"])
            self.python.setText(row["python"] or "")
        self._show_history()
        self._show_flaky()
        self._show_untested()
        self.summary.setText(f"{row['target']} · {row['tests']} tests: {row['passed']} passed, {row['failed']} "
                             f"failed, {row['errors']} errors, {row['skipped']} skipped, {row['flaky']} flaky"
                             + self._group_coverage_text(run_id)
                             + (f" · {row['message']}" if row.get("message") else ""))
        self.results_model.setHorizontalHeaderLabels(["Test", "Outcome", "Duration (s)"])
        by_file: dict[str, list[dict]] = {}
        for c in tables.cases(self.store, run_id):
            by_file.setdefault(c["file"] or "(no file)", []).append(c)
        for file, cases in sorted(by_file.items()):
            worst = max(cases, key=lambda c: ("passed", "skipped", "failed", "error").index(c["outcome"]))["outcome"]
            parent = _item(file, colour=OUTCOME_COLOURS[worst])
            failing = sum(1 for c in cases if c["outcome"] in ("failed", "error"))
            for c in cases:
                name = c["id"].split("::", 1)[1] if "::" in c["id"] else c["id"]
                outcome = c["outcome"] + (" (flaky)" if c["flaky"] else "")
                parent.appendRow([_item(name, data=c), _item(outcome, colour=OUTCOME_COLOURS[c["outcome"]]),
                                  _item(f"{c['duration'] or 0:.3f}", align_right=True)])
            self.results_model.appendRow([parent, _item(f"{failing} failing" if failing else "ok",
                                                        colour=OUTCOME_COLOURS[worst]),
                                          _item(f"{sum(c['duration'] or 0 for c in cases):.3f}", align_right=True)])
        self.results.expandAll()
        self.results.resizeColumnToContents(0)
        self.coverage_model.setHorizontalHeaderLabels(["File", "Coverage %", "Lines", "Branches", "Missing"])
        for f in tables.coverage_files(self.store, run_id):
            self.coverage_model.appendRow([
                _item(f["path"], data=f), _item(f"{f['percent']:.1f}", align_right=True),
                _item(f"{f['covered_lines']}/{f['statements']}", align_right=True),
                _item(f"{f['covered_branches']}/{f['branches']}", align_right=True),
                _item(", ".join(str(a) if a == b else f"{a}-{b}" for a, b in f["missing_ranges"]))])
        self.coverage.resizeColumnsToContents()

    def _group_coverage_text(self, run_id: int) -> str:
        from workbench_plugins.testing import store as tables

        own = tables.group_coverage(self.store, run_id)
        if not own:
            return ""
        return " · coverage per group: " + ", ".join(f"{g} {c['percent']:.1f} %" for g, c in sorted(own.items()))

    def _show_case(self, index) -> None:
        case = self.results_model.itemFromIndex(index.siblingAtColumn(0)).data(Qt.UserRole)
        if not case:
            return
        reruns = f"\nreruns: {', '.join(case['reruns'])}" if case["reruns"] else ""
        self.details.setPlainText(f"{case['id']}\n{case['outcome']} in {case['duration'] or 0:.3f} s{reruns}\n\n"
                                  f"{case['message'] or ''}")

    def _show_file(self, index) -> None:
        """The file's source with its uncovered lines shaded."""
        f = self.coverage_model.itemFromIndex(index.siblingAtColumn(0)).data(Qt.UserRole)
        row = getattr(self, "_run_row", None)
        if not f or not row:
            return
        path = f["path"] if os.path.isabs(f["path"]) else os.path.join(row["target"], f["path"])
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            self.code.setPlainText(f"{path}: cannot be read ({exc.strerror or exc})")
            return
        self.code.setPlainText(text)
        shade = QColor("#5c2b2b" if is_dark() else "#ffd9d9")
        selections = []
        doc = self.code.document()
        for first, last in f["missing_ranges"]:
            for line in range(first, last + 1):
                block = doc.findBlockByNumber(line - 1)
                if not block.isValid():
                    continue
                sel = QTextEdit.ExtraSelection()
                fmt = QTextCharFormat()
                fmt.setBackground(shade)
                fmt.setProperty(QTextFormat.FullWidthSelection, True)
                sel.format = fmt
                sel.cursor = QTextCursor(block)
                selections.append(sel)
        self.code.setExtraSelections(selections)
        self.shaded_lines = sum(last - first + 1 for first, last in f["missing_ranges"])

    def _show_history(self) -> None:
        """Pass rate and coverage of every run of the selected run's target, oldest first."""
        self.history.clear()
        row = getattr(self, "_run_row", None)
        if self.store is None or row is None:
            return
        runs = self.store.query("SELECT passed, failed, errors, coverage_percent FROM testing_runs WHERE target=? "
                                "ORDER BY run_id", (row["target"],))
        rates = [(i, 100.0 * r["passed"] / (r["passed"] + r["failed"] + r["errors"]))
                 for i, r in enumerate(runs, 1) if r["passed"] + r["failed"] + r["errors"]]
        coverage = [(i, r["coverage_percent"]) for i, r in enumerate(runs, 1) if r["coverage_percent"] is not None]
        axis = self.history.getAxis("bottom")
        if len(runs) <= 15:
            axis.setTickSpacing(1, 1)  # runs are whole numbers: no 0.6, 0.8… ticks
        else:
            axis.setTickSpacing()
        self.history.setXRange(0.5, max(1, len(runs)) + 0.5)
        for name, points, colour in (("pass rate", rates, "#2e7d32"), ("coverage", coverage, "#1565c0")):
            if points:
                self.history.plot([x for x, _ in points], [y for _, y in points], pen=colour, symbol="o",
                                  symbolBrush=colour, name=name)

    def _show_flaky(self) -> None:
        """Tests of the selected run's target that passed and failed on the same code, with their flip rate."""
        from workbench_plugins.testing import store as tables

        rows = []
        row = getattr(self, "_run_row", None)
        if self.store is not None and row is not None:
            history = tables.flip_rates(self.store, row["target"])
            for test_id, h in sorted(history.items(), key=lambda kv: -kv[1]["flip_rate"]):
                if h["flaky"]:
                    rows.append([test_id, f"{h['flip_rate']:.0%}", h["flips"], h["observations"]])
        self.flaky.setModel(_table_model(["Test", "Flip rate", "Flips", "Observations (runs + reruns)"], rows))

    def _show_untested(self) -> None:
        """Code-audit findings of the selected run's target on lines its latest test run did not execute."""
        from workbench_plugins.testing.untested import untested_for_target

        rows, note = [], ""
        row = getattr(self, "_run_row", None)
        if self.store is not None and row is not None:
            if row["kind"] != "pytest":
                note = "Imported runs: untested lines are shown for test runs of a project folder."
            else:
                result = untested_for_target(self.store, row["target"])
                if not result["audited"]:
                    note = "No code audit of this target yet: run one in the Code audit tab to see its " \
                           "findings on lines no test executes."
                else:
                    note = (f"{len(result['findings'])} of {result['audited']} findings of the latest code audit of "
                            "this target sit on lines that the latest test run did not execute.")
                for f in result["findings"]:
                    rows.append([f["severity"], f"{f['path']}:{f['line']}", f["rule"], f["title"], f["triage"]])
        self.untested_note.setText(note)
        self.untested_rows = rows
        self.untested.setModel(_table_model(["Severity", "Where", "Rule", "Finding", "Triage"], rows))
        self.untested.resizeColumnsToContents()

    def _show_fuzz_and_probes(self) -> None:
        fuzz_rows, probe_rows = [], []
        if self.store is not None:
            for r in self.store.query("SELECT entry, kind, error_type, location, minimal_input, occurrences, run_id "
                                      "FROM testing_fuzz ORDER BY run_id DESC"):
                fuzz_rows.append([r["entry"], r["kind"], r["error_type"], r["location"], r["minimal_input"][:200],
                                  r["occurrences"], r["run_id"]])
            for r in self.store.query("SELECT probe_id, category, severity, hits, answered, errors, hit_rate, run_id "
                                      "FROM testing_probes ORDER BY run_id DESC, rowid"):
                rate = "n/a" if r["hit_rate"] is None else f"{r['hit_rate']:.0%}"
                probe_rows.append([r["probe_id"], r["category"], r["severity"], r["hits"], r["answered"],
                                   r["errors"], rate, r["run_id"]])
        self.fuzz.setModel(_table_model(["Entry", "Kind", "Error", "Where", "Minimal input", "Seen", "Run"],
                                        fuzz_rows))
        self.probes.setModel(_table_model(["Probe", "Category", "Severity", "Hits", "Answered", "Errors",
                                           "Hit rate", "Run"], probe_rows))


def _with_bar(view, *controls) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    bar = QHBoxLayout()
    for w in controls:
        bar.addWidget(w, 2 if isinstance(w, QLineEdit) else 0)
    layout.addLayout(bar)
    layout.addWidget(view, 1)
    return page


def _history_widget():
    import pyqtgraph as pg

    plot = pg.PlotWidget(background="#202124" if is_dark() else "w")
    plot.setLabel("bottom", "run")
    plot.setLabel("left", "%")
    plot.addLegend()
    plot.setYRange(0, 100)
    return plot
