"""The Code audit tab: target and Run at the top, findings in the middle, details on the right."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QKeySequence,
    QPalette,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
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
from workbench.gui.api import (
    STATUSES,
    ChartLabel,
    FindingFilter,
    FindingsModel,
    CodeView,
    JustificationDialog,
    PluginTab,
    draw_chart,
)
from workbench_plugins.code_audit.code_view import is_secret_finding, mask_lines, untested_fingerprints

TRIAGE_KEYS = {"false_positive": "F", "accepted_risk": "A", "fixed": "X", "open": "O"}
MAX_CODE_BYTES = 2_000_000
#: findings table columns sized to their contents, at most this wide (px); Title (3) takes the rest
COLUMN_MAXIMA = {0: 90, 1: 100, 2: 130, 4: 220, 5: 60}
#: ... but Rule (2) and File (4) give way (elided in the middle) so that Title keeps this share
TITLE_SHARE = 0.25
SHRINKABLE_MIN = 90
#: WCAG AA for normal text: the flagged line stays readable in both themes
MIN_CONTRAST = 4.5


def relative_luminance(color: QColor) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def flagged_line_colors(severity: str, palette: QPalette) -> tuple[QColor, QColor]:
    """(background, text) of a flagged line: the severity's colour blended into the editor's
    background, as strongly as the palette's text colour stays readable on it (>= MIN_CONTRAST)."""
    base, text = palette.color(QPalette.Base), palette.color(QPalette.Text)
    tint = QColor(SEVERITY_COLORS.get(severity, "#f1c40f"))
    for strength in (0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.0):
        mixed = QColor.fromRgbF(*(b + (t - b) * strength for b, t in
                                  zip((base.redF(), base.greenF(), base.blueF()),
                                      (tint.redF(), tint.greenF(), tint.blueF()))))
        if contrast_ratio(mixed, text) >= MIN_CONTRAST:
            return mixed, text
    return base, text


class CodeAuditTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.job = None
        self.new_fingerprints: frozenset = frozenset()
        self.untested_fingerprints: frozenset = frozenset()
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_toolbar())
        layout.addWidget(self._build_filters())
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self._build_groups())
        split.addWidget(self._build_table())
        split.addWidget(self._build_inspector())
        # The findings table gets the width: the groups list and the inspector are side panes.
        split.setSizes([160, 820, 340])
        split.setStretchFactor(1, 1)
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
        self.host.writes(self.run_button)
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
        self.untested_only = QCheckBox("Untested")
        self.untested_only.setToolTip("Only findings on lines that the latest test run of this target did not execute "
                                      "(needs a run of the Tests plugin)")
        self.untested_only.toggled.connect(self.apply_filter)
        row.addWidget(self.untested_only)
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
        self.chart.setMinimumSize(120, 150)
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
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(3, QHeaderView.Stretch)
        header.setMinimumSectionSize(36)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)  # one line per row: elide by character, not after the first word
        self.table.setTextElideMode(Qt.ElideMiddle)  # keep both ends of long paths visible
        self.table.setItemDelegateForColumn(3, _ElideRight(self.table))  # a title reads from its start
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
        self.detail.setPlaceholderText("Select a finding to see what it is, where, why, and its triage. "
                                       "Keys: F false positive, A accept the risk, X fixed, O reopen.")
        layout.addWidget(self.detail)
        self.code = CodeView()  # numbered lines: the flagged one is found at a glance
        layout.addWidget(self.code, 1)
        buttons = QGridLayout()  # two by two: the inspector stays narrow, the table gets the width
        self.triage_buttons: dict[str, QPushButton] = {}
        for i, (status, label) in enumerate((("false_positive", "False positive (F)"),
                                             ("accepted_risk", "Accept risk… (A)"),
                                             ("fixed", "Fixed (X)"), ("open", "Reopen (O)"))):
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, s=status: self.triage_selected_interactive(s))
            buttons.addWidget(b, i // 2, i % 2)
            self.triage_buttons[status] = b
        self.host.writes(*self.triage_buttons.values())  # no triage in a read-only window
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
        self._update_writable()
        self._reload_runs()

    @property
    def readonly(self) -> bool:
        return self.store is not None and self.store.readonly

    def _update_writable(self) -> None:
        """A read-only project can be looked at, filtered and exported, not audited or triaged."""
        why = "The project is open read-only" if self.readonly else ""
        running = self.job is not None and not self.job.finished
        self.run_button.setEnabled(not self.readonly and not running)
        self.run_button.setToolTip(why or "Audit the folder (Ctrl+R)")
        for b in self.triage_buttons.values():
            b.setEnabled(not self.readonly)
            b.setToolTip(why)

    def _audit_runs(self) -> list[dict]:
        # the dependency audit's runs too: its findings are triaged here like the others
        return [r for r in self.store.runs() if r["job"] in ("audit", "deps")] if self.store is not None else []

    def _reload_runs(self, select_run: int | None = None) -> None:
        runs = self._audit_runs()
        current = select_run or self.run_combo.currentData()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for r in reversed(runs):
            s = r.get("summary") or {}
            self.run_combo.addItem(f"#{r['id']} {os.path.basename(r['target'] or '')} "
                                   f"({(r['finished'] or '')[:16].replace('T', ' ')}, "
                                   + (f"{s.get('packages', '?')} packages" if r["job"] == "deps"
                                      else f"{s.get('files', '?')} files") + ")",
                                   r["id"])
        index = max(0, self.run_combo.findData(current)) if current else 0
        self.run_combo.setCurrentIndex(index)
        self.run_combo.blockSignals(False)
        if runs and not self.target.text():
            self.target.setText(runs[-1]["target"] or "")
        self._run_selected()

    def _only_fingerprints(self) -> frozenset | None:
        chosen = None
        for box, fingerprints in ((self.new_only, self.new_fingerprints),
                                  (self.untested_only, self.untested_fingerprints)):
            if box.isChecked():
                chosen = fingerprints if chosen is None else chosen & fingerprints
        return chosen

    def current_run_id(self) -> int | None:
        return self.run_combo.currentData()

    def _run_selected(self, *_) -> None:
        run_id = self.current_run_id()
        keep = self._selected_fingerprints()
        if self.store is None:
            self.model.load(None, None)
            self.new_fingerprints = frozenset()
            self._fill_skipped([])
            self._refresh_groups()
            self._selection_changed()
            return
        self.model.load(self.store, run_id)
        self.new_fingerprints = self.untested_fingerprints = frozenset()
        if run_id:
            from workbench_plugins.code_audit import store as tables
            from workbench_plugins.code_audit.engine import diff_runs

            self.new_fingerprints = frozenset(diff_runs(self.store, run_id)["new"])
            self.untested_fingerprints = untested_fingerprints(self.store, run_id)
            self._fill_skipped([(d["path"], d["scanner"], d["reason"])
                                for d in tables.skipped_files(self.store, run_id)])
        else:
            self._fill_skipped([])
        self.apply_filter(reselect=keep)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Columns as wide as their contents and header (up to COLUMN_MAXIMA); Status always fits its
        longest word; Title stretches over the rest, and Rule and File give way when it would get
        less than TITLE_SHARE of the table."""
        header = self.table.horizontalHeader()
        fm = header.fontMetrics()
        pad = 3 * fm.averageCharWidth() + 6
        widths = {}
        for column, cap in COLUMN_MAXIMA.items():
            label = self.model.headerData(column, Qt.Horizontal)
            widths[column] = min(max(self.table.sizeHintForColumn(column), fm.horizontalAdvance(label) + pad), cap)
        longest = max(fm.horizontalAdvance(s.replace("_", " ")) for s in STATUSES + ("Status",))
        widths[6] = longest + pad
        room = self.table.viewport().width() or self.table.width()
        deficit = int(TITLE_SHARE * room) - (room - sum(widths.values()))
        for column in (2, 4):  # Rule first (its start says most), then File (elided in the middle)
            if deficit <= 0:
                break
            give = min(deficit, max(0, widths[column] - SHRINKABLE_MIN))
            widths[column] -= give
            deficit -= give
        for column, width in widths.items():
            header.resizeSection(column, width)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.model.rowCount():
            QTimer.singleShot(0, self.fit_columns)  # the table's width is known once laid out

    def _selected_fingerprints(self) -> list[str]:
        if not self.model.view:
            return []
        return [self.model.record(i.row())["fingerprint"] for i in self.table.selectionModel().selectedRows()]

    def _reselect(self, fingerprints: list[str]) -> None:
        """Select the rows of these fingerprints in what the table shows now (a model reset drops
        the selection); the details pane then shows this run's record of them, or nothing."""
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        selection.clearSelection()
        if fingerprints and self.model.view:
            wanted = set(fingerprints)
            rows = self.model.rows
            at = list(self.model.record(0)).index("fingerprint")  # its place in a row tuple
            chosen = QItemSelection()
            first = None
            for view_row, i in enumerate(self.model.view):
                if rows[i][at] in wanted:
                    chosen.select(self.model.index(view_row, 0),
                                  self.model.index(view_row, self.model.columnCount() - 1))
                    first = view_row if first is None else first
            if first is not None:
                selection.select(chosen, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
                selection.setCurrentIndex(self.model.index(first, 0), QItemSelectionModel.NoUpdate)
                self.table.scrollTo(self.model.index(first, 0))
        selection.blockSignals(False)
        self._selection_changed()

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
            only_fingerprints=self._only_fingerprints(),
            group=group,
        )

    def apply_filter(self, *_, keep_groups: bool = False, reselect: list[str] | None = None) -> None:
        keep = self._selected_fingerprints() if reselect is None else reselect
        self.model.set_filter(self.current_filter())
        total = len(self.model.rows)
        self.count_label.setText(f"{len(self.model.view):,} of {total:,} findings")
        if not keep_groups:
            self._refresh_groups()
        self._draw_chart()
        self._reselect(keep)

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
                f"{rec['status'].replace('_', ' ')} · fingerprint {rec['fingerprint'][:12]}</span>"
                + self._fix_html(rec)
                + ("<br><b style='color:#c0392b'>Untested:</b> no test of the latest test run executed this line."
                   if rec["fingerprint"] in self.untested_fingerprints else ""))
        self.show_code(rec)

    def _fix_html(self, rec: dict) -> str:
        """The remedy a dependency or provenance finding carries (evidence "fix"), in bold."""
        import json

        row = self.store.query_one("SELECT evidence FROM findings WHERE id=?", (rec["id"],)) if self.store else None
        try:
            evidence = json.loads(row["evidence"]) if row and row["evidence"] else {}
        except (TypeError, ValueError):
            return ""
        fix = evidence.get("fix") if isinstance(evidence, dict) else None
        return f"<br><b>Fix:</b> {_esc(fix)}" if fix else ""

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
        background, foreground = flagged_line_colors(rec["severity"], self.code.palette())
        fmt.setBackground(background)
        fmt.setForeground(foreground)
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
        if self.readonly:
            self.host.notify("The project is open read-only: triage is off")
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

    def justification_dialog(self, status: str, count: int) -> JustificationDialog:
        what = f"{count} finding{'s' if count != 1 else ''}"
        if status == "accepted_risk":
            return JustificationDialog("Accept risk", f"Why is the risk of {what} acceptable? This goes into the "
                                       "audit log and the report (required).", required=True, parent=self)
        return JustificationDialog("False positive", f"Why {'are' if count != 1 else 'is'} {what} not a real "
                                   "problem? (optional)", required=False, parent=self)

    def triage_selected_interactive(self, status: str) -> None:
        if self.readonly:
            self.host.notify("The project is open read-only: triage is off")
            return
        justification = ""
        if status in ("accepted_risk", "false_positive"):
            records = self.selected_records()
            if not records:
                return
            dialog = self.justification_dialog(status, len(records))
            if dialog.exec() != QDialog.Accepted:
                return
            justification = dialog.justification()
            if status == "accepted_risk" and not justification:
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
        if not self.readonly:  # a read-only view cannot add to the audit log
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
        if self.readonly:
            self.host.notify("The project is open read-only: nothing can be run in it")
            return None
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
        self.run_button.setEnabled(not self.readonly)
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


class _ElideRight(QStyledItemDelegate):
    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.ElideRight


def _esc(text) -> str:
    import html

    return html.escape("" if text is None else str(text))
