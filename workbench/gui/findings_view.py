"""One findings view for every pillar: filter, group, sort, details, triage, export.

:class:`FindingsView` knows nothing of any plugin: it is handed a loader (findings as the
store returns them: dicts with ``plugin``, ``rule``, ``severity``, ``confidence``, ``title``,
``message``, ``path``, ``line``, ``fingerprint``, ``evidence``, ``source_status``,
``triage_status``) and a triage function. The window's Findings tab uses it over the latest run
of every target of every plugin, so a third-party plugin's findings are triaged like the
built-in ones; a plugin tab may embed one for its own findings.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from typing import Callable

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHeaderView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.core.findings import SEVERITY_RANK, finding_status
from workbench.gui.code_view import CodeView
from workbench.gui.findings_model import IndexedFindingsModel

#: (key, header) of the table's columns
VIEW_COLUMNS = [("severity", "Severity"), ("confidence", "Confidence"), ("pillar", "Pillar"), ("rule", "Rule"),
                ("title", "Finding"), ("where", "Where"), ("status", "Status")]
FINDING_COLUMN, PILLAR_COLUMN, STATUS_COLUMN = 4, 2, 6
#: widest a column is sized to its contents (px): long rule ids and paths are elided in the middle
COLUMN_MAX = {0: 80, 1: 90, 2: 110, 3: 260, 5: 240}
#: ... but Rule and Where give way (down to SHRINKABLE_MIN px) so that the finding keeps this share
TITLE_SHARE, SHRINKABLE_MIN = 0.3, {3: 90, 5: 90}
STATUS_CHOICES = [("Open", {"open"}), ("All", None), ("False positive", {"false_positive"}),
                  ("Accepted risk", {"accepted_risk"}), ("Fixed", {"fixed"}), ("Suppressed in source", {"suppressed"}),
                  ("Not open", {"suppressed", "false_positive", "accepted_risk", "fixed"})]
#: triage status -> (button text, shortcut key)
TRIAGE_ACTIONS = {"false_positive": ("False positive", "F"), "accepted_risk": ("Accept risk…", "A"),
                  "fixed": ("Fixed", "X"), "open": ("Reopen", "O")}
GROUPS = [("No groups", None), ("By rule", "rule"), ("By file", "path"), ("By pillar", "pillar")]
CSV_FIELDS = ["pillar", "severity", "confidence", "rule", "title", "path", "line", "status", "fingerprint",
              "message"]


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def where(finding: dict) -> str:
    path, line = finding.get("path") or "", finding.get("line")
    return f"{path}:{line}" if path and line else path


class FindingsTableModel(IndexedFindingsModel):
    """Findings as the store returns them (dicts), any plugin's."""

    columns = VIEW_COLUMNS

    def set_rows(self, rows: list[dict], accepts: Callable[[dict], bool]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.view = [i for i, r in enumerate(rows) if accepts(r)]
        self._sort_view()
        self.endResetModel()

    def record(self, row: int) -> dict:
        return self.rows[self.view[row]]

    def visible(self) -> list[dict]:
        return [self.rows[i] for i in self.view]

    def _value(self, row: dict, key: str):
        return row.get(key)

    def _tooltip(self, row: dict, key: str):
        if key == "title":
            return row.get("message")
        return str(row.get(key)) if key in ("where", "rule") else None

    # (rows, column, rank of every row): made once per load and column, so that each filter's
    # re-sort compares integers (equal keys share a rank: the sort stays stable as before)
    _sort_keys: tuple = (None, None, [])

    def _sort_view(self) -> None:
        column, order = self._sort
        key_name = VIEW_COLUMNS[column][0]
        rows = self.rows
        if self._sort_keys[0] is not rows or self._sort_keys[1] != key_name:
            if key_name in ("severity", "confidence"):
                def key(r):
                    return (SEVERITY_RANK.get(r[key_name], 0), SEVERITY_RANK.get(r["confidence"], 0),
                            r.get("path") or "", r.get("line") or 0)
            elif key_name == "where":
                def key(r):
                    return (r.get("path") or "", r.get("line") or 0)
            else:
                def key(r):
                    return (str(r.get(key_name) or ""), r.get("line") or 0)
            keys = list(map(key, rows))
            ranks, rank, last = [0] * len(rows), -1, object()
            for i in sorted(range(len(rows)), key=keys.__getitem__):
                if keys[i] != last:
                    rank, last = rank + 1, keys[i]
                ranks[i] = rank
            self._sort_keys = (rows, key_name, ranks)
        self.view.sort(key=self._sort_keys[2].__getitem__, reverse=order == Qt.DescendingOrder)


class _ElideRight(QStyledItemDelegate):
    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.ElideRight


class _WordElide(QStyledItemDelegate):
    """A rule id too wide for its column is cut after a whole part ("SECRET-base64-high…"), never
    mid-word; the tooltip has it whole."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        text, fm, room = option.text, option.fontMetrics, option.rect.width() - 10
        if fm.horizontalAdvance(text) > room:
            fits = [i for i, c in enumerate(text) if c in "-_./:" and fm.horizontalAdvance(text[:i] + "…") <= room]
            if fits:
                option.text = text[:fits[-1]] + "…"


class JustificationDialog(QDialog):
    """Several lines of why, for the audit log; OK stays off until there is text when required."""

    def __init__(self, title: str, prompt: str, required: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(520, 240)
        layout = QVBoxLayout(self)
        label = QLabel(prompt)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.text = QPlainTextEdit()
        self.text.setTabChangesFocus(True)  # Tab moves on to the buttons, as in a form
        layout.addWidget(self.text, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.required = required
        self.text.textChanged.connect(self._update_ok)
        self._update_ok()

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.Ok)

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(not self.required or bool(self.justification()))

    def justification(self) -> str:
        return self.text.toPlainText().strip()


class FindingsView(QWidget):
    """Filter, group, sort, inspect, triage and export findings of any plugin.

    *load()* returns the findings to show; *triage(findings, status, justification)* stores a
    decision (raising ValueError for a refused one); *titles* maps plugin ids to pillar names;
    *ask_justification(title, prompt, required)* returns the text or None (cancelled), a dialog
    by default (tests and scripts may pass their own).

    A plugin tab embedding one for its own findings may pass *source(finding)* returning
    ``(text, first_line)`` of the code to show (masked as it must be) or None: a numbered code view
    under the details then shows it with the flagged lines highlighted; *notes(finding)* returns
    HTML added to the details; ``pillar=False`` hides the pillar filter and column; ``chart=True``
    draws the shown findings by severity under the groups; :meth:`add_toggle`,
    :meth:`add_export` and :meth:`add_side_tab` add a filter, an export format and a side pane.
    """

    def __init__(self, load: Callable[[], list[dict]], triage: Callable[[list[dict], str, str], None],
                 titles: dict[str, str] | None = None, ask_justification=None, parent=None, *,
                 source: Callable[[dict], tuple[str, int] | None] | None = None,
                 notes: Callable[[dict], str] | None = None, pillar: bool = True, chart: bool = False,
                 scope: str = "the latest run of every target"):
        super().__init__(parent)
        self._load, self._triage = load, triage
        self.titles = dict(titles or {})
        self.ask_justification = ask_justification or self._dialog_justification
        self.source, self.notes, self.scope, self.show_pillar = source, notes, scope, pillar
        self.toggles: list[tuple[QCheckBox, Callable[[dict], bool]]] = []
        self.exports: dict[str, Callable[[str], object]] = {}
        self.all_rows: list[dict] = []
        self.read_only = False
        self.model = FindingsTableModel(self)
        self._debounce = QTimer(self, singleShot=True, interval=150)  # typing re-filters once it pauses
        self._debounce.timeout.connect(lambda: self.apply_filter(regroup=True))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._build_filters())
        split = QSplitter(Qt.Horizontal)
        left = QSplitter(Qt.Vertical)
        self.groups = QListWidget()
        self.groups.setMinimumWidth(110)
        self.groups.currentRowChanged.connect(lambda *_: self.apply_filter())
        left.addWidget(self.groups)
        self.chart = None
        if chart:
            from workbench.gui.kit_charts import ChartLabel

            # A tab of the side pane, not under the groups list: the chart's text scales with its
            # size, and the list's 160 px column shrank it to 4 px text.
            self.chart = ChartLabel()
            self.chart.setMinimumSize(240, 180)
        split.addWidget(left)
        self._left = left
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.DescendingOrder)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(FINDING_COLUMN, QHeaderView.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(36)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setResizeContentsPrecision(200)  # columns fit to 200 rows' text, not a thousand
        self.table.setTextElideMode(Qt.ElideMiddle)  # both ends of a long path stay visible
        self.table.setItemDelegateForColumn(FINDING_COLUMN, _ElideRight(self.table))  # a title reads from its start
        self.table.setItemDelegateForColumn(3, _WordElide(self.table))
        self.table.setColumnHidden(PILLAR_COLUMN, not pillar)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.show_details())
        split.addWidget(self.table)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.code = None
        if source is not None:  # numbered lines: the flagged one is found at a glance
            self.code = CodeView()
            self.code.setPlaceholderText("The code of the selected finding shows here, its lines flagged.")
            upright = QSplitter(Qt.Vertical)  # details above the code, the border between them movable
            upright.addWidget(self.details)
            upright.addWidget(self.code)
            upright.setSizes([260, 340])
            sl.addWidget(upright, 1)
        else:
            sl.addWidget(self.details, 1)
        buttons = QGridLayout()  # two by two: the details pane stays narrow enough for the table
        self.triage_buttons: dict[str, QPushButton] = {}
        for n, (status, (text, key)) in enumerate(TRIAGE_ACTIONS.items()):
            button = QPushButton(f"{text} ({key})")
            button.setToolTip(f"Triage the selected findings as {status.replace('_', ' ')} (key {key})")
            button.clicked.connect(lambda _=False, s=status: self.triage_selected(s))
            buttons.addWidget(button, n // 2, n % 2)
            self.triage_buttons[status] = button
            # on the table only: two views in one window must not fight over the key
            QShortcut(QKeySequence(key), self.table, activated=lambda s=status: self.triage_selected(s),
                      context=Qt.WidgetShortcut)
        sl.addLayout(buttons)
        self.side = QTabWidget()  # Details, and any pane a plugin adds (the bar shows from two)
        self.side.setTabBarAutoHide(True)
        self.side.addTab(side, "Details")
        if self.chart is not None:
            self.side.addTab(self.chart, "Chart")
        split.addWidget(self.side)
        split.setSizes([160, 820, 340])
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        self.count = QLabel()
        layout.addWidget(self.count)
        self.show_details()

    # ------------------------------------------------------------- widgets
    def _build_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.pillar = QComboBox()
        self.pillar.setToolTip("Pillar (plugin)")
        self.severity = QComboBox()
        self.severity.addItems(["≥ Low", "≥ Medium", "≥ High"])
        self.status = QComboBox()
        self.status.addItems([name for name, _ in STATUS_CHOICES])
        self.group_by = QComboBox()
        self.group_by.addItems([name for name, _ in GROUPS])
        self.text = QLineEdit()
        self.text.setPlaceholderText("Find in rule, title, message or path")
        self.text.setClearButtonEnabled(True)
        self.confidence = QComboBox()
        self.confidence.addItems(["≥ Low", "≥ Medium", "≥ High"])
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the findings shown (after filters) as CSV")
        self.export_button.clicked.connect(self._export_dialog)
        for label, widget in (("Pillar", self.pillar), ("Severity", self.severity), ("Confidence", self.confidence),
                              ("Status", self.status), ("Group", self.group_by)):
            if widget is not self.pillar or self.show_pillar:
                row.addWidget(QLabel(label))
                row.addWidget(widget)
        row.addWidget(self.text, 1)
        self.filter_row = row  # add_toggle puts its check boxes before Export
        row.addWidget(self.export_button)
        for combo in (self.pillar, self.severity, self.confidence, self.status, self.group_by):
            combo.currentIndexChanged.connect(lambda *_: self.apply_filter(regroup=True))
        self.text.textChanged.connect(lambda *_: self._debounce.start())
        return row

    def add_toggle(self, text: str, accepts: Callable[[dict], bool], tooltip: str = "") -> QCheckBox:
        """A check box among the filters: when checked, only findings *accepts* keeps are shown."""
        box = QCheckBox(text)
        box.setToolTip(tooltip)
        box.toggled.connect(lambda *_: self.apply_filter(regroup=True))
        self.filter_row.insertWidget(self.filter_row.indexOf(self.export_button), box)
        self.toggles.append((box, accepts))
        return box

    def add_export(self, name: str, write: Callable[[str], object]) -> None:
        """Another format for Export…: *name* is a file-dialog filter ("SARIF 2.1.0 (*.sarif)"),
        *write(path)* writes it."""
        self.exports[name] = write
        self.export_button.setToolTip("Write the findings as " + ", ".join(
            ["CSV (the findings shown)"] + [n.split(" (")[0] for n in self.exports]))

    def add_side_tab(self, widget: QWidget, title: str) -> int:
        """A pane beside Details (skipped files, a run's log…); returns its index in ``side``."""
        return self.side.addTab(widget, title)

    # -------------------------------------------------------------- loading
    def refresh(self) -> None:
        """Reload the findings and keep the filters and the selection (by fingerprint)."""
        rows = []
        for f in self._load():
            f = f.as_dict() if hasattr(f, "as_dict") else dict(f)  # a typed record's as_dict() is the quick copy
            f["pillar"] = self.titles.get(f.get("plugin"), f.get("plugin") or "")
            f["status"] = finding_status(f.get("source_status"), f.get("triage_status") or "open")
            f["where"] = where(f)
            rows.append(f)
        self.all_rows = rows
        current = self.pillar.currentData()
        self.pillar.blockSignals(True)
        self.pillar.clear()
        self.pillar.addItem("All", None)
        for pid in sorted({r.get("plugin") for r in rows if r.get("plugin")}):
            self.pillar.addItem(self.titles.get(pid, pid), pid)
        index = self.pillar.findData(current)
        self.pillar.setCurrentIndex(max(index, 0))
        self.pillar.blockSignals(False)
        self.apply_filter(regroup=True)

    def _predicate(self, group: tuple[str, str] | None) -> Callable[[dict], bool]:
        """The filters as one test of a finding (the widgets read once, not once per finding)."""
        pid, rank = self.pillar.currentData(), SEVERITY_RANK.get
        severity, confidence = self.severity.currentIndex(), self.confidence.currentIndex()
        statuses = STATUS_CHOICES[self.status.currentIndex()][1]
        needle = self.text.text().strip().lower()
        toggles = [accepts for box, accepts in self.toggles if box.isChecked()]

        # A filter left at "any" costs nothing per finding (this runs twice over 100,000 per change).
        def accepts(r: dict) -> bool:
            return ((not pid or r.get("plugin") == pid) and (not severity or rank(r.get("severity"), 0) >= severity)
                    and (not confidence or rank(r.get("confidence"), 0) >= confidence)
                    and (statuses is None or r["status"] in statuses)
                    and (not needle or any(needle in str(r.get(k) or "").lower()
                                           for k in ("rule", "title", "message", "path")))
                    and (group is None or str(r.get(group[0]) or "") == group[1])
                    and (not toggles or all(t(r) for t in toggles)))
        return accepts

    def apply_filter(self, regroup: bool = False) -> None:
        keep = [f["fingerprint"] for f in self.selected()]
        key = GROUPS[self.group_by.currentIndex()][1]
        if regroup:
            self._fill_groups(key)
        group = None
        item = self.groups.currentItem()
        if key is not None and item is not None and item.data(Qt.UserRole) is not None:
            group = (key, item.data(Qt.UserRole))
        self.model.set_rows(self.all_rows, self._predicate(group))
        self.fit_columns()
        shown, total = self.model.rowCount(), len(self.all_rows)
        self.count.setText(f"{shown:,} of {total:,} findings shown ({self.scope})")
        self._draw_chart()
        self.select_fingerprints(keep)

    def _draw_chart(self) -> None:
        if self.chart is not None:
            from workbench.core.report import severity_chart

            rows = self.model.rows
            counts = Counter(rows[i]["severity"] for i in self.model.view)
            self.chart.set_chart(severity_chart("Shown findings by severity", counts))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange:  # the theme changed: the chart is painted in the new one
            self._draw_chart()

    def fit_columns(self) -> None:
        """Columns as wide as their contents (up to COLUMN_MAX), Status always its longest word; the
        finding takes the rest, and Rule then Where give way when it would get less than TITLE_SHARE."""
        header, fm = self.table.horizontalHeader(), self.table.fontMetrics()
        pad = 3 * fm.averageCharWidth() + 6
        widths = {c: min(max(self.table.sizeHintForColumn(c), header.sectionSizeHint(c)), COLUMN_MAX.get(c, 200))
                  for c in range(len(VIEW_COLUMNS)) if c not in (FINDING_COLUMN, STATUS_COLUMN)
                  and not self.table.isColumnHidden(c)}
        widths[STATUS_COLUMN] = pad + max(fm.horizontalAdvance(s) for s in ("Status", "suppressed", "false positive",
                                                                             "accepted risk"))
        room = self.table.viewport().width() or self.table.width()
        deficit = int(TITLE_SHARE * room) - (room - sum(widths.values()))
        # Rule and Where give way in proportion to what each can spare (a path is elided in the
        # middle, a rule after a whole part), neither below its minimum
        spare = {c: max(0, widths[c] - SHRINKABLE_MIN[c]) for c in SHRINKABLE_MIN}
        total = sum(spare.values())
        for column, can in spare.items():
            widths[column] -= min(can, -(-max(deficit, 0) * can // total)) if total else 0
        for column, width in widths.items():
            header.resizeSection(column, width)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.model.rowCount():
            QTimer.singleShot(0, self.fit_columns)  # the table's width is known once laid out

    def _fill_groups(self, key: str | None) -> None:
        selected = self.groups.currentItem().data(Qt.UserRole) if self.groups.currentItem() else None
        self.groups.blockSignals(True)
        self.groups.clear()
        self.groups.setVisible(key is not None)
        self._left.setVisible(key is not None)
        if key is not None:
            counts: dict[str, int] = {}
            accepts = self._predicate(None)
            for r in self.all_rows:
                if accepts(r):
                    value = str(r.get(key) or "")
                    counts[value] = counts.get(value, 0) + 1
            everything = QListWidgetItem(f"All ({sum(counts.values()):,})")
            everything.setData(Qt.UserRole, None)
            self.groups.addItem(everything)
            self.groups.setCurrentRow(0)
            for value, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                item = QListWidgetItem(f"{value or '(none)'} ({n:,})")
                item.setData(Qt.UserRole, value)
                item.setToolTip(value)
                self.groups.addItem(item)
                if value == selected:  # the group chosen stays chosen while it has findings
                    self.groups.setCurrentItem(item)
        self.groups.blockSignals(False)

    def set_read_only(self, read_only: bool) -> None:
        """No triage in a read-only window (browsing and export stay)."""
        self.read_only = read_only
        self.show_details()

    # -------------------------------------------------------------- details
    def selected(self) -> list[dict]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.record(r) for r in rows]

    def select_fingerprints(self, fingerprints, fallback_row: int | None = None) -> None:
        """Select the rows of these fingerprints in what the table shows now (a reload drops the
        selection): after a new run its record of the same findings, or the row at *fallback_row*
        when none is left (the next finding after a triage), or nothing."""
        wanted, rows = set(fingerprints), []
        if wanted:
            rows = [n for n, f in enumerate(self.model.visible()) if f.get("fingerprint") in wanted]
        if not rows and fallback_row is not None and self.model.rowCount():
            rows = [min(fallback_row, self.model.rowCount() - 1)]
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        selection.clearSelection()
        for n in rows:
            selection.select(self.model.index(n, 0), QItemSelectionModel.Select | QItemSelectionModel.Rows)
        if rows:
            selection.setCurrentIndex(self.model.index(rows[0], 0), QItemSelectionModel.NoUpdate)
            self.table.scrollTo(self.model.index(rows[0], 0))
        selection.blockSignals(False)
        self.show_details()

    def show_details(self) -> None:
        chosen = self.selected()
        for status, button in self.triage_buttons.items():
            button.setEnabled(bool(chosen) and not self.read_only)
        if self.code is not None:
            self.code.clear()
        if not chosen:
            self.details.setPlainText("Select a finding to see its details, the evidence and its triage.\n\n"
                                      "Keys: F false positive, A accept the risk (with why), X fixed, O reopen.")
            return
        if len(chosen) > 1:
            self.details.setPlainText(f"{len(chosen)} findings selected: the triage buttons apply to all of them.")
        else:
            self.details.setHtml(details_html(chosen[0]) + (self.notes(chosen[0]) if self.notes else ""))
        if self.code is not None:
            self.show_code(chosen[0])

    def show_code(self, f: dict) -> None:
        """The finding's code in the code view, its lines flagged: *source*'s text, or the evidence's snippet."""
        shown = self.source(f)
        if shown is None:
            evidence = f.get("evidence") if isinstance(f.get("evidence"), dict) else {}
            snippet = evidence.get("code") if isinstance(evidence.get("code"), str) else None
            shown = (snippet, int(f.get("line") or 1)) if snippet else None
        if shown is None:
            self.code.set_code("(the source is not available)")
            return
        self.code.set_code(*shown)
        if f.get("line"):
            self.code.flag_lines(int(f["line"]), f.get("end_line"), f.get("severity") or "MEDIUM")

    # --------------------------------------------------------------- triage
    def triage_selected(self, status: str) -> bool:
        chosen = self.selected()
        if not chosen or not self.triage_buttons[status].isEnabled():
            return False
        why = ""
        if status in ("accepted_risk", "false_positive"):
            required = status == "accepted_risk"
            n = len(chosen)
            what = f"{n} finding{'s' if n != 1 else ''}"
            why = self.ask_justification(
                TRIAGE_ACTIONS[status][0].rstrip("…"),
                f"Why is the risk of {what} acceptable? This goes into the audit log and the report (required)."
                if required else f"Why {'are' if n != 1 else 'is'} {what} not a real problem? (optional; "
                "it goes into the audit log)", required)
            if why is None:
                return False
        first = min(i.row() for i in self.table.selectionModel().selectedRows())
        try:
            self._triage(chosen, status, why)
        except ValueError as exc:
            self.details.setPlainText(f"Not triaged: {exc}")
            return False
        self.refresh()
        if not self.selected():  # the triaged findings left the view: on to the next one
            self.select_fingerprints((), fallback_row=first)
        return True

    def _dialog_justification(self, title: str, prompt: str, required: bool) -> str | None:
        dialog = JustificationDialog(title, prompt, required, self)
        return dialog.justification() if dialog.exec() == QDialog.Accepted else None

    # --------------------------------------------------------------- export
    def export_csv(self, path: str) -> int:
        """Write the findings shown (after filters) as CSV; returns how many."""
        rows = self.model.visible()
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_FIELDS)
            for r in rows:
                writer.writerow([csv_cell(r.get(k)) for k in CSV_FIELDS])
        return len(rows)

    def _export_dialog(self) -> None:
        shown = "CSV, the findings shown (*.csv)"
        path, chosen = QFileDialog.getSaveFileName(self, "Export findings", "findings",
                                                   ";;".join([shown, *self.exports]))
        if not path:
            return
        suffix = chosen.rsplit("*", 1)[-1].rstrip(")")
        path += "" if path.endswith(suffix) else suffix
        try:
            n = self.export_csv(path) if chosen not in self.exports else self.exports[chosen](path)
        except (OSError, ValueError) as exc:
            self.count.setText(f"Export failed: {path}: {exc}")
            return
        self.count.setText(f"Wrote {n if isinstance(n, int) else 'the'} findings to {path}")

def details_html(f: dict) -> str:
    """A finding as the details pane shows it: what, where, why, the evidence, the triage."""
    import html

    def esc(value) -> str:
        return html.escape("" if value is None else str(value))

    parts = [f"<h3>{esc(f.get('title'))}</h3>",
             f"<p><b>{esc(f.get('severity'))}</b> severity, <b>{esc(f.get('confidence'))}</b> confidence · "
             f"{esc(f.get('pillar'))} · rule <code>{esc(f.get('rule'))}</code>"
             + (f" · CWE-{esc(f.get('cwe'))}" if f.get("cwe") else "") + "</p>",
             f"<p><b>Where:</b> {esc(f.get('where') or '—')}</p>",
             f"<p>{esc(f.get('message'))}</p>"]
    evidence = f.get("evidence") or {}
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            evidence = {"evidence": evidence}
    code = evidence.get("code") if isinstance(evidence, dict) else None
    if isinstance(code, str) and code.strip():
        first = int(f.get("line") or 1)
        lines = code.splitlines()
        width = len(str(first + len(lines)))
        numbered = "\n".join(f"{first + i:>{width}}  {line}" for i, line in enumerate(lines))
        parts.append(f"<pre style='font-family:monospace'>{esc(numbered)}</pre>")
    if isinstance(evidence, dict) and evidence.get("fix"):  # the remedy, where the finding carries one
        parts.append(f"<p><b>Fix:</b> {esc(evidence['fix'])}</p>")
    if isinstance(evidence, dict):
        rest = {k: v for k, v in evidence.items() if k not in ("code", "fix")}
        if rest:
            parts.append("<p><b>Evidence</b></p><table>" + "".join(
                f"<tr><td><code>{esc(k)}</code>&nbsp;</td><td>{esc(v if isinstance(v, str) else json.dumps(v))}</td></tr>"
                for k, v in rest.items()) + "</table>")
    status = (f.get("status") or "open").replace("_", " ")
    why = f.get("triage_justification")
    parts.append(f"<p><b>Status:</b> {esc(status)}" + (f" — “{esc(why)}”" if why else "") + "</p>")
    parts.append(f"<p style='color:gray'>fingerprint {esc(f.get('fingerprint'))}</p>")
    return "".join(parts)


def plugin_findings(tab, **options) -> FindingsView:
    """A FindingsView over one plugin tab's findings (the latest run of every target), triaged
    through the tab's store: each decision goes into the audit log and the other tabs are told;
    no triage while the window is read-only. *options* go to FindingsView (``source=``…);
    call its ``refresh()`` from the tab's."""
    def load() -> list[dict]:
        view.read_only = tab.host.read_only
        return tab.store.findings(latest=True) if tab.store is not None else []

    def triage(findings: list[dict], status: str, why: str) -> None:
        if tab.store is None or tab.host.read_only:
            raise ValueError("the project is open read-only")
        tab.store.set_triage([f["fingerprint"] for f in findings], status, why)
        tab.host.changed()

    options.setdefault("pillar", False)  # one plugin's: no pillar to tell apart, room for the finding
    view = FindingsView(load, triage, titles={tab.plugin.id: tab.plugin.title}, **options)
    tab.host.writes(*view.triage_buttons.values())
    return view

