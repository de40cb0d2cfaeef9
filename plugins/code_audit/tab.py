"""The Code audit tab: target and Run at the top, findings in the middle, details on the right."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextEdit,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from workbench.api import SEVERITIES, SEVERITY_COLORS, severity_chart
from workbench.gui.api import STATUSES, ChartLabel, FindingFilter, FindingsModel, PluginTab, draw_chart
from workbench_plugins.code_audit.code_view import is_secret_finding, mask_lines

TRIAGE_KEYS = {"false_positive": "F", "accepted_risk": "A", "fixed": "X", "open": "O"}
MAX_CODE_BYTES = 2_000_000


class CodeAuditTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job = None
        self.new_fingerprints: frozenset = frozenset()
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_toolbar())
        layout.addWidget(self._build_filters())
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self._build_groups())
        split.addWidget(self._build_table())
        split.addWidget(self._build_inspector())
        split.setSizes([190, 860, 430])
        layout.addWidget(split, 1)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(150)  # debounce typing in the filter boxes
        self._filter_timer.timeout.connect(self.apply_filter)
        host.job_updated.connect(self._job_updated)
        host.job_finished.connect(self._job_finished)

    # ------------------------------------------------------------- widgets
    def _build_toolbar(self) -> QWidget:
        bar = QToolBar()
        bar.addWidget(QLabel("Target "))
        self.target = QLineEdit()
        self.target.setPlaceholderText("Folder to audit (or drop a folder here)")
        self.target.setMinimumWidth(320)
        bar.addWidget(self.target)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        bar.addWidget(browse)
        self.run_button = QPushButton("Run ▶")
        self.run_button.setToolTip("Audit the folder (Ctrl+R)")
        self.run_button.setShortcut(QKeySequence("Ctrl+R"))
        self.run_button.clicked.connect(self.start_audit)
        bar.addWidget(self.run_button)
        self.cancel_button = QPushButton("Cancel ■")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_audit)
        bar.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.hide()
        bar.addWidget(self.progress)
        bar.addSeparator()
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write this run's findings as SARIF 2.1.0, JSON or CSV")
        self.export_button.clicked.connect(self._export_dialog)
        bar.addWidget(self.export_button)
        bar.addWidget(QLabel(" Run "))
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(260)
        self.run_combo.currentIndexChanged.connect(self._run_selected)
        bar.addWidget(self.run_combo)
        return bar

    def _build_filters(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.severity = QComboBox()
        self.severity.addItems([f"≥ {s.title()}" for s in SEVERITIES])
        self.confidence = QComboBox()
        self.confidence.addItems([f"≥ {s.title()}" for s in SEVERITIES])
        self.status = QComboBox()
        self.status.addItems(["Open", "All", "Suppressed in source", "False positive", "Accepted risk", "Fixed",
                              "Not open"])
        self.rule_filter = QLineEdit()
        self.rule_filter.setPlaceholderText("Rule")
        self.rule_filter.setMaximumWidth(90)
        self.path_filter = QLineEdit()
        self.path_filter.setPlaceholderText("Path contains")
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("Text contains")
        self.new_only = QCheckBox("New since previous run")
        for label, w in (("Severity", self.severity), ("Confidence", self.confidence), ("Status", self.status)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
            w.currentIndexChanged.connect(self.apply_filter)
        for w in (self.rule_filter, self.path_filter, self.text_filter):
            w.setClearButtonEnabled(True)
            row.addWidget(w)
            w.textChanged.connect(lambda *_: self._filter_timer.start())
        self.new_only.toggled.connect(self.apply_filter)
        row.addWidget(self.new_only)
        self.count_label = QLabel()
        row.addWidget(self.count_label)
        return box

    def _build_groups(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        self.group_by = QComboBox()
        self.group_by.addItems(["Group by rule", "Group by file"])
        self.group_by.currentIndexChanged.connect(self._refresh_groups)
        layout.addWidget(self.group_by)
        self.groups = QListWidget()
        self.groups.currentItemChanged.connect(lambda *_: self.apply_filter(keep_groups=True))
        layout.addWidget(self.groups, 3)
        self.chart = ChartLabel()
        self.chart.setMinimumHeight(150)
        layout.addWidget(self.chart, 2)
        return box

    def _build_table(self) -> QWidget:
        self.model = FindingsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        for column, width in enumerate((70, 80, 150, 0, 170, 44, 90)):
            if width:
                header.resizeSection(column, width)
        header.setSectionResizeMode(3, QHeaderView.Stretch)
        self.table.setAlternatingRowColors(True)
        self.table.setTextElideMode(Qt.ElideMiddle)  # keep both ends of long paths visible
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        for status, key in TRIAGE_KEYS.items():
            sc = QShortcut(QKeySequence(key), self.table)
            sc.setContext(Qt.WidgetShortcut)
            sc.activated.connect(lambda s=status: self.triage_selected_interactive(s))
        return self.table

    def _build_inspector(self) -> QWidget:
        tabs = QTabWidget()
        details = QWidget()
        layout = QVBoxLayout(details)
        self.detail = QTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setMaximumHeight(170)
        layout.addWidget(self.detail)
        self.code = QPlainTextEdit()
        self.code.setReadOnly(True)
        self.code.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.code.setFont(QFont("DejaVu Sans Mono", 9))
        layout.addWidget(self.code, 1)
        buttons = QHBoxLayout()
        for status, label in (("false_positive", "False positive (F)"), ("accepted_risk", "Accept risk… (A)"),
                              ("fixed", "Fixed (X)"), ("open", "Reopen (O)")):
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, s=status: self.triage_selected_interactive(s))
            buttons.addWidget(b)
        layout.addLayout(buttons)
        tabs.addTab(details, "Details")
        self.skipped = QTableWidget(0, 3)
        self.skipped.setHorizontalHeaderLabels(["File", "Scanner", "Reason"])
        self.skipped.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        self.skipped.setEditTriggers(QAbstractItemView.NoEditTriggers)
        tabs.addTab(self.skipped, "Skipped files")
        self.inspector_tabs = tabs
        return tabs

    # -------------------------------------------------------------- project
    def refresh(self) -> None:
        self._reload_runs()

    def _audit_runs(self) -> list[dict]:
        return self.store.runs(job="audit") if self.store is not None else []

    def _reload_runs(self, select_run: int | None = None) -> None:
        runs = self._audit_runs()
        current = select_run or self.run_combo.currentData()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for r in reversed(runs):
            s = r.get("summary") or {}
            self.run_combo.addItem(f"#{r['id']} {os.path.basename(r['target'] or '')} "
                                   f"({(r['finished'] or '')[:16].replace('T', ' ')}, {s.get('files', '?')} files)",
                                   r["id"])
        index = max(0, self.run_combo.findData(current)) if current else 0
        self.run_combo.setCurrentIndex(index)
        self.run_combo.blockSignals(False)
        if runs and not self.target.text():
            self.target.setText(runs[-1]["target"] or "")
        self._run_selected()

    def current_run_id(self) -> int | None:
        return self.run_combo.currentData()

    def _run_selected(self, *_) -> None:
        run_id = self.current_run_id()
        if self.store is None:
            self.model.load(None, None)
            self.new_fingerprints = frozenset()
            self._fill_skipped([])
            self._refresh_groups()
            self._selection_changed()
            return
        self.model.load(self.store, run_id)
        self.new_fingerprints = frozenset()
        if run_id:
            from workbench_plugins.code_audit import store as tables
            from workbench_plugins.code_audit.engine import diff_runs

            self.new_fingerprints = frozenset(diff_runs(self.store, run_id)["new"])
            self._fill_skipped([(d["path"], d["scanner"], d["reason"])
                                for d in tables.skipped_files(self.store, run_id)])
        else:
            self._fill_skipped([])
        self.apply_filter()
        self._selection_changed()  # the details pane follows the new run, not the previous one

    def _fill_skipped(self, rows) -> None:
        self.skipped.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, value in enumerate(row[:3]):
                self.skipped.setItem(i, j, QTableWidgetItem(str(value)))
        self.inspector_tabs.setTabText(1, f"Skipped files ({len(rows)})")

    # -------------------------------------------------------------- filters
    def current_filter(self, keep_group: bool = True) -> FindingFilter:
        status_choice = self.status.currentIndex()
        statuses = {0: {"open"}, 1: set(STATUSES), 2: {"suppressed"}, 3: {"false_positive"},
                    4: {"accepted_risk"}, 5: {"fixed"}, 6: set(STATUSES) - {"open"}}[status_choice]
        group = None
        item = self.groups.currentItem() if keep_group else None
        if item is not None and item.data(Qt.UserRole) is not None:
            group = ("rule" if self.group_by.currentIndex() == 0 else "path", item.data(Qt.UserRole))
        return FindingFilter(
            min_severity=SEVERITIES[self.severity.currentIndex()],
            min_confidence=SEVERITIES[self.confidence.currentIndex()],
            statuses=frozenset(statuses),
            rule=self.rule_filter.text().strip(),
            path=self.path_filter.text().strip(),
            text=self.text_filter.text().strip(),
            only_fingerprints=self.new_fingerprints if self.new_only.isChecked() else None,
            group=group,
        )

    def apply_filter(self, *_, keep_groups: bool = False) -> None:
        self.model.set_filter(self.current_filter())
        total = len(self.model.rows)
        self.count_label.setText(f"{len(self.model.view):,} of {total:,} findings")
        if not keep_groups:
            self._refresh_groups()
        self._draw_chart()

    def _refresh_groups(self, *_) -> None:
        by = "rule" if self.group_by.currentIndex() == 0 else "path"
        selected = self.groups.currentItem().data(Qt.UserRole) if self.groups.currentItem() else None
        self.groups.blockSignals(True)
        self.groups.clear()
        groups = self.model.groups(by, self.current_filter(keep_group=False))
        all_item = QListWidgetItem(f"All ({sum(n for _, n in groups):,})")
        all_item.setData(Qt.UserRole, None)
        self.groups.addItem(all_item)
        for value, n in groups:
            item = QListWidgetItem(f"{value or '(no file)'} ({n:,})")
            item.setData(Qt.UserRole, value)
            self.groups.addItem(item)
            if value == selected:
                self.groups.setCurrentItem(item)
        self.groups.blockSignals(False)

    def _draw_chart(self) -> None:
        counts = {s: 0 for s in SEVERITIES}
        for i in self.model.view:
            counts[self.model.rows[i][1]] += 1
        self.chart.set_image(draw_chart(severity_chart("Shown findings by severity", counts), 900, 520))

    # -------------------------------------------------------------- details
    def selected_records(self) -> list[dict]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.record(r) for r in rows]

    def _selection_changed(self, *_) -> None:
        records = self.selected_records()
        if not records:
            self.detail.clear()
            self.code.clear()
            return
        rec = records[0]
        if len(records) > 1:
            self.detail.setPlainText(f"{len(records)} findings selected. Triage applies to all of them.")
        else:
            cwe = f"CWE-{rec['cwe']}" if rec["cwe"] else "no CWE"
            self.detail.setHtml(
                f"<b>{rec['rule']}</b> · {rec['severity']} severity · {rec['confidence']} confidence · {cwe}<br>"
                f"<b>{_esc(rec['title'])}</b><br>{_esc(rec['message'])}<br>"
                f"<span style='color:gray'>{_esc(rec['path'] or '')}:{rec['line'] or ''} · status "
                f"{rec['status'].replace('_', ' ')} · fingerprint {rec['fingerprint'][:12]}</span>")
        self.show_code(rec)

    def show_code(self, rec: dict) -> None:
        run = self.store.run(self.current_run_id()) if self.current_run_id() else None
        root = (run or {}).get("target") or self.target.text()
        text = None
        if rec["path"] and root:
            path = Path(root) / rec["path"]
            try:
                if path.is_file() and path.stat().st_size <= MAX_CODE_BYTES:
                    text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = None
        if text is None:
            evidence = self.store.query_one("SELECT evidence FROM findings WHERE id=?", (rec["id"],))
            self.code.setPlainText(f"(source not available)\n{evidence['evidence'] if evidence else ''}")
            return
        line = rec["line"] or 1
        end = self.store.query_one("SELECT end_line FROM findings WHERE id=?", (rec["id"],))
        end_line = max(line, (end["end_line"] if end and end["end_line"] else line))
        text = self._mask_secrets(text, rec)
        self.code.setPlainText(text)
        selections = []
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(SEVERITY_COLORS.get(rec["severity"], "#f1c40f")).lighter(150))
        fmt.setProperty(QTextFormat.FullWidthSelection, True)
        doc = self.code.document()
        for n in range(line, end_line + 1):
            block = doc.findBlockByNumber(n - 1)
            if not block.isValid():
                break
            sel = QTextEdit.ExtraSelection()
            sel.cursor = QTextCursor(block)
            sel.format = fmt
            selections.append(sel)
        self.code.setExtraSelections(selections)
        cursor = QTextCursor(doc.findBlockByNumber(max(0, line - 1)))
        self.code.setTextCursor(cursor)
        self.code.centerCursor()

    def _mask_secrets(self, text: str, rec: dict) -> str:
        """Mask every line of this file that holds a credential finding of this run, not only the selected one."""
        rows = self.store.execute(
            "SELECT rule, cwe, line, end_line FROM findings WHERE run_id=? AND path=?",
            (self.current_run_id(), rec["path"])).fetchall()
        for rule, cwe, first, last in rows:
            if first and is_secret_finding({"rule": rule, "cwe": cwe}):
                text = mask_lines(text, first, last or first)
        return text

    # --------------------------------------------------------------- triage
    def triage_selected(self, status: str, justification: str = "") -> int:
        records = self.selected_records()
        if not records or self.store is None:
            return 0
        fps = sorted({r["fingerprint"] for r in records})
        n = self.store.set_triage(fps, status, justification)
        selected_rows = [i.row() for i in self.table.selectionModel().selectedRows()]
        self.model.load(self.store, self.current_run_id())
        self.apply_filter()
        if selected_rows and self.model.view:
            self.table.selectRow(min(min(selected_rows), len(self.model.view) - 1))
        self.host.changed()
        return n

    def triage_selected_interactive(self, status: str) -> None:
        justification = ""
        if status == "accepted_risk":
            justification, ok = QInputDialog.getText(self, "Accept risk", "Why is this risk acceptable?")
            if not ok or not justification.strip():
                return
        elif status == "false_positive":
            justification, ok = QInputDialog.getText(self, "False positive", "Why (optional):")
            if not ok:
                return
        self.triage_selected(status, justification)

    # --------------------------------------------------------------- export
    EXPORT_FILTERS = {"SARIF 2.1.0 (*.sarif)": ".sarif", "JSON (*.json)": ".json", "CSV (*.csv)": ".csv"}

    def export_findings(self, path: str) -> None:
        """Write the selected run's findings; the format follows the file's suffix."""
        from workbench_plugins.code_audit import sarif

        run_id = self.current_run_id()
        if run_id is None:
            raise ValueError("no audit run to export yet")
        writer = {".json": sarif.write_json, ".csv": sarif.write_csv}.get(Path(path).suffix.lower(),
                                                                           sarif.write_sarif)
        writer(self.store, run_id, path)
        self.host.log_event("export", f"findings of run {run_id} exported to {Path(path).name}")

    def _export_dialog(self) -> None:
        if self.store is None or self.current_run_id() is None:
            return
        default = str(self.store.path.with_name(f"{self.store.path.stem}-audit.sarif"))
        path, chosen = QFileDialog.getSaveFileName(self, "Export findings", default, ";;".join(self.EXPORT_FILTERS))
        if not path:
            return
        if not Path(path).suffix:
            path += self.EXPORT_FILTERS.get(chosen, ".sarif")
        try:
            self.export_findings(path)
        except (OSError, ValueError) as exc:
            self.host.error("Export failed", f"{path}: {exc}")
            return
        self.host.notify(f"Wrote {path}")

    # ----------------------------------------------------------------- jobs
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to audit", self.target.text() or str(Path.home()))
        if folder:
            self.target.setText(folder)

    def start_audit(self):
        target = self.target.text().strip()
        if not target or not os.path.isdir(target):
            self.host.notify(f"{target or 'No folder'}: not a folder to audit")
            return None
        if self.job is not None and not self.job.finished:
            return self.job
        self.job = self.host.start_job(self.plugin.job_spec("audit", target=target))
        if self.job is not None:
            self.run_button.setEnabled(False)
            self.cancel_button.setEnabled(True)
            self.progress.setRange(0, 0)
            self.progress.show()
        return self.job

    def cancel_audit(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)

    def _job_updated(self, job) -> None:
        if job is not self.job:
            return
        t = job.tracker
        if t.total:
            self.progress.setRange(0, int(t.total))
            self.progress.setValue(int(t.done))
            self.progress.setFormat("%v/%m files")

    def _job_finished(self, job) -> None:
        if job is not self.job:
            return
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()
        if job.status == "done":
            self._reload_runs(select_run=job.run_id)

    # ---------------------------------------------------------- drag & drop
    def dragEnterEvent(self, event) -> None:
        if any(os.path.isdir(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if os.path.isdir(url.toLocalFile()):
                self.target.setText(url.toLocalFile())
                event.acceptProposedAction()
                return


def _esc(text) -> str:
    import html

    return html.escape("" if text is None else str(text))
