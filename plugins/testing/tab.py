"""The Tests tab: run a project's tests, see results by file, coverage, history, flaky tests, fuzz and probes.

Top: the kit's JobPanel for a test run (the project folder, its interpreter, pytest arguments,
reruns and time limit, Run / Cancel, progress with the current test and ETA). Middle: the runs of
the project and, in pages, the results tree by file (outcome colours, durations), coverage per
file with the uncovered lines shaded in a numbered code view, the history of pass rate and
coverage, the flaky list, audit findings no test ran, fuzz and probes (each its own JobPanel), and
the plugin's findings to triage. Right: the details of the selected test.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit, QTreeView, QVBoxLayout

from workbench.gui.api import (CodeView, JobPanel, Plot, PluginTab, column, is_dark, item, pages, plugin_findings,
                               row, side_by_side, table_model, table_view)

OUTCOME_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "error": "#ad1457", "skipped": "#757575"}
#: the same, light enough to read on the dark theme's background
DARK_OUTCOME_COLOURS = {"passed": "#81c784", "failed": "#ef9a9a", "error": "#f48fb1", "skipped": "#bdbdbd"}


class TestingTab(PluginTab):
    __test__ = False

    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self._fuzz_trusted, self._run_row = False, None
        self.panel = JobPanel(plugin, host, "test", hide=("junit_out",), pick={"python": "file"}, form_columns=2,
                              extra=self._run_params, target_label="Project folder:")
        self.panel.picked.connect(self._guess_python)
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
        self.coverage = table_view(self.coverage_model)
        self.coverage.clicked.connect(self._show_file)
        self.code = CodeView()
        self.history = Plot("Pass rate and coverage of this project's runs", x=("run", ""),
                            y=("pass rate, coverage", "%"), y_range=(0, 100))
        self.flaky, self.untested, self.fuzz, self.probes = table_view(), table_view(), table_view(), table_view()
        self.untested_note = QLabel("")
        self.untested_note.setWordWrap(True)
        # fuzzing imports the entry point from the project folder above, with its interpreter
        self.fuzz_panel = JobPanel(plugin, host, "fuzz", browse=None, run_text="Fuzz ▶", extra=self._fuzz_params,
                                   hide=("path", "python", "trusted"), target_label="Entry point:",
                                   choices={"input": ("text", "tabular", "image", "json")})
        self.fuzz_panel.target.setPlaceholderText("pkg.module:callable (imported from the project folder)")
        self.probe_panel = JobPanel(plugin, host, "probe", browse=None, run_text="Probe ▶", pick={"pack": "file"},
                                    target_label="Endpoint URL:",
                                    hide=("model", "temperature", "seed", "allowed_hosts"))
        self.probe_panel.target.setPlaceholderText("http://127.0.0.1:8080/v1 (loopback only)")
        self.findings = plugin_findings(self)
        self.pages = pages(("Results", self.results), ("Coverage", side_by_side(self.coverage, self.code,
                                                                                 sizes=(2, 3))),
                           ("History", self.history), ("Flaky", self.flaky),
                           ("Untested findings", column(self.untested_note, self.untested)),
                           ("Fuzz", column(self.fuzz_panel, self.fuzz)),
                           ("Probes", column(self.probe_panel, self.probes)), ("Findings", self.findings))
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.NoWrap)  # tracebacks keep their columns
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.details.setMinimumWidth(360)  # pytest's output needs width: a failure pane, not a margin
        self.details.setPlaceholderText("Select a test to see its failure message")
        middle = column(row("Run:", self.runs, stretch=1), self.summary, self.pages)
        # a test's failure beside the results only: the other pages (code, findings) need the width
        self.pages.currentChanged.connect(lambda i: self.details.setVisible(self.pages.widget(i) is self.results))
        QVBoxLayout(self).addWidget(column(self.panel, side_by_side(middle, self.details), stretch=1))
        host.job_finished.connect(lambda job: self.refresh())

    # ------------------------------------------------------------------ running
    def _guess_python(self, folder: str) -> None:
        """A project folder picked: its own virtual environment's interpreter, if it has one."""
        for venv in (".venv", "venv"):
            candidate = os.path.join(folder, venv, "bin", "python")
            if not self.panel.fields["python"].text() and os.path.exists(candidate):
                self.panel.fields["python"].setText(candidate)

    def _run_params(self) -> dict:
        if not self.panel.fields["python"].text().strip():
            raise ValueError("Choose the project's own Python interpreter too: the workbench never runs a "
                             "project's tests with its own.")
        return {"target": os.path.abspath(self.panel.target.text().strip())}

    def _fuzz_params(self) -> dict | None:
        """Fuzz an entry point of the project; the first time, say that this runs its code and ask."""
        folder = self.panel.target.text().strip()
        if not folder:
            raise ValueError("Choose the project folder at the top first: the entry point is imported from it.")
        if not self._fuzz_trusted:
            if not self.host.ask("Fuzz: this runs the project's code",
                                 f"Fuzzing imports {self.fuzz_panel.target.text().strip()} from {folder} and calls "
                                 "it with "
                                 "thousands of hostile inputs on this machine, in a worker process with time and "
                                 "memory limits. Only do this with code you trust. Go on?"):
                return None
            self._fuzz_trusted = True
        python = self.panel.fields["python"].text().strip() or None
        return {"path": os.path.abspath(folder), "python": python, "trusted": True}

    # ------------------------------------------------------------------ showing
    def refresh(self) -> None:
        from workbench_plugins.testing import store as tables

        self.runs.blockSignals(True)
        self.runs.clear()
        for r in tables.run_list(self.store) if self.store is not None else []:
            cov = "" if r["coverage_percent"] is None else f", coverage {r['coverage_percent']:.1f} %"
            self.runs.addItem(f"#{r['run_id']} {os.path.basename(r['target'])} ({r['kind']}, {r['status']}: "
                              f"{r['passed']}/{r['tests']} passed{cov})", r["run_id"])
        self.runs.blockSignals(False)
        self._show_run()
        fuzz, probes = ([], []) if self.store is None else (tables.all_fuzz(self.store), tables.all_probes(self.store))
        self.fuzz.setModel(table_model(["Entry", "Kind", "Error", "Where", "Minimal input", "Seen", "Run"], fuzz))
        self.probes.setModel(table_model(["Probe", "Category", "Severity", "Hits", "Answered", "Errors", "Hit rate",
                                          "Run"], probes))
        self.findings.refresh()

    def current_run_id(self) -> int | None:
        return self.runs.currentData()

    def _show_run(self) -> None:
        from workbench_plugins.testing import store as tables

        for view in (self.results_model, self.coverage_model, self.code, self.details):
            view.clear()
        run_id = self.current_run_id()
        row = self._run_row = None if self.store is None or run_id is None else tables.run_row(self.store, run_id)
        self._show_history()
        self._show_flaky()
        self._show_untested()
        if row is None:
            self.summary.setText("No test run in this project yet." if self.store is not None else "")
            return
        target, python = self.panel.target, self.panel.fields["python"]
        if row["kind"] == "pytest" and not target.text().strip() and not python.text().strip():
            # A reopened project: Run again on what was last run, with its own interpreter.
            target.setText(row["target"])
            python.setText(row["python"] or "")
        own = tables.group_coverage(self.store, run_id)
        groups = ", ".join(f"{g} {c['percent']:.1f} %" for g, c in sorted(own.items()))
        self.summary.setText(f"{row['target']} · {row['tests']} tests: {row['passed']} passed, {row['failed']} "
                             f"failed, {row['errors']} errors, {row['skipped']} skipped, {row['flaky']} flaky"
                             + (f" · coverage per group: {groups}" if groups else "")
                             + (f" · {row['message']}" if row.get("message") else ""))
        self.results_model.setHorizontalHeaderLabels(["Test", "Outcome", "Duration (s)"])
        colours, by_file = DARK_OUTCOME_COLOURS if is_dark() else OUTCOME_COLOURS, {}
        for c in tables.cases(self.store, run_id):
            by_file.setdefault(c["file"] or "(no file)", []).append(c)
        for file, cases in sorted(by_file.items()):
            worst = max(cases, key=lambda c: ("passed", "skipped", "failed", "error").index(c["outcome"]))["outcome"]
            parent = item(file, colour=colours[worst])
            failing = sum(1 for c in cases if c["outcome"] in ("failed", "error"))
            for c in cases:
                name = c["id"].split("::", 1)[1] if "::" in c["id"] else c["id"]
                outcome = c["outcome"] + (" (flaky)" if c["flaky"] else "")
                parent.appendRow([item(name, data=c), item(outcome, colour=colours[c["outcome"]]),
                                  item(f"{c['duration'] or 0:.3f}", align_right=True)])
            self.results_model.appendRow([parent, item(f"{failing} failing" if failing else "ok",
                                                       colour=colours[worst]),
                                          item(f"{sum(c['duration'] or 0 for c in cases):.3f}", align_right=True)])
        self.results.expandAll()
        self.results.resizeColumnToContents(0)
        # the durations are right-aligned in the last (stretched) column: its title above them, not far left
        self.results_model.horizontalHeaderItem(2).setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.coverage_model.setHorizontalHeaderLabels(["File", "Coverage %", "Lines", "Branches", "Missing"])
        for f in tables.coverage_files(self.store, run_id):
            self.coverage_model.appendRow([
                item(f["path"], data=f), item(f"{f['percent']:.1f}", align_right=True),
                item(f"{f['covered_lines']}/{f['statements']}", align_right=True),
                item(f"{f['covered_branches']}/{f['branches']}", align_right=True),
                item(", ".join(str(a) if a == b else f"{a}-{b}" for a, b in f["missing_ranges"]))])
        self.coverage.resizeColumnsToContents()

    def _show_case(self, index) -> None:
        case = self.results_model.itemFromIndex(index.siblingAtColumn(0)).data(Qt.UserRole)
        if not case:
            return
        reruns = f"\nreruns: {', '.join(case['reruns'])}" if case["reruns"] else ""
        self.details.setPlainText(f"{case['id']}\n{case['outcome']} in {case['duration'] or 0:.3f} s{reruns}\n\n"
                                  f"{case['message'] or ''}")

    def _show_file(self, index) -> None:
        """The file's source, numbered, with its uncovered lines shaded."""
        f = self.coverage_model.itemFromIndex(index.siblingAtColumn(0)).data(Qt.UserRole)
        if not f or not self._run_row:
            return
        path = f["path"] if os.path.isabs(f["path"]) else os.path.join(self._run_row["target"], f["path"])
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                self.code.set_code(fh.read())
        except OSError as exc:
            self.code.set_code(f"{path}: cannot be read ({exc.strerror or exc})")
            return
        shaded = []
        for first, last in reversed(f["missing_ranges"]):  # the view ends on the first uncovered line
            self.code.flag_lines(first, last, "HIGH")
            shaded += self.code.extraSelections()
        self.code.setExtraSelections(shaded)
        self.shaded_lines = sum(last - first + 1 for first, last in f["missing_ranges"])

    def _show_history(self) -> None:
        """Pass rate and coverage of every run of the selected run's target, oldest first."""
        from workbench_plugins.testing.store import target_history

        n, series = target_history(self.store, self._run_row["target"]) if self._run_row else (0, {})
        self.history.show_sweep({name: ([x for x, _ in points], [y for _, y in points])
                                 for name, points in series.items() if points})
        # runs are whole numbers: no 0.6, 0.8… ticks while they fit
        self.history.plot_item.getAxis("bottom").setTickSpacing(*((1, 1) if n <= 15 else ()))
        self.history.set_x_range(0.5, max(1, n) + 0.5)

    def _show_flaky(self) -> None:
        """Tests of the selected run's target that passed and failed on the same code, with their flip rate."""
        from workbench_plugins.testing import store as tables

        history = tables.flip_rates(self.store, self._run_row["target"]) if self._run_row else {}
        rows = [[test_id, f"{h['flip_rate']:.0%}", h["flips"], h["observations"]]
                for test_id, h in sorted(history.items(), key=lambda kv: -kv[1]["flip_rate"]) if h["flaky"]]
        self.flaky.setModel(table_model(["Test", "Flip rate", "Flips", "Observations (runs + reruns)"], rows))

    def _show_untested(self) -> None:
        """Code-audit findings of the selected run's target on lines its latest test run did not execute."""
        from workbench_plugins.testing.untested import untested_for_target

        rows, note, row = [], "", self._run_row
        if row is not None and row["kind"] != "pytest":
            note = "Imported runs: untested lines are shown for test runs of a project folder."
        elif row is not None:
            result = untested_for_target(self.store, row["target"])
            note = ("No code audit of this target yet: run one in the Code audit tab to see its findings on lines "
                    "no test executes." if not result["audited"] else
                    f"{len(result['findings'])} of {result['audited']} findings of the latest code audit of this "
                    "target sit on lines that the latest test run did not execute.")
            rows = [[f["severity"], f"{f['path']}:{f['line']}", f["rule"], f["title"], f["triage"]]
                    for f in result["findings"]]
        self.untested_note.setText(note)
        self.untested_rows = rows
        self.untested.setModel(table_model(["Severity", "Where", "Rule", "Finding", "Triage"], rows))
        self.untested.resizeColumnsToContents()
