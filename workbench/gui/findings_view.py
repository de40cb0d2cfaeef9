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
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
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
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.core.findings import SEVERITY_RANK, finding_status
from workbench.gui.findings_model import IndexedFindingsModel

#: (key, header) of the table's columns
VIEW_COLUMNS = [("severity", "Severity"), ("confidence", "Confidence"), ("pillar", "Pillar"), ("rule", "Rule"),
                ("title", "Finding"), ("where", "Where"), ("status", "Status")]
FINDING_COLUMN = 4
#: widest a column is sized to its contents (px): long rule ids and paths are elided in the middle
COLUMN_MAX = {0: 80, 1: 90, 2: 110, 3: 120, 5: 200, 6: 100}
STATUS_CHOICES = [("Open", {"open"}), ("All", None), ("False positive", {"false_positive"}),
                  ("Accepted risk", {"accepted_risk"}), ("Fixed", {"fixed"}), ("Suppressed in source", {"suppressed"})]
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

    def _sort_view(self) -> None:
        column, order = self._sort
        key_name = VIEW_COLUMNS[column][0]
        rows = self.rows
        if key_name in ("severity", "confidence"):
            def key(i):
                r = rows[i]
                return (SEVERITY_RANK.get(r[key_name], 0), SEVERITY_RANK.get(r["confidence"], 0),
                        r.get("path") or "", r.get("line") or 0)
        elif key_name == "where":
            def key(i):
                return (rows[i].get("path") or "", rows[i].get("line") or 0)
        else:
            def key(i):
                return (str(rows[i].get(key_name) or ""), rows[i].get("line") or 0)
        self.view.sort(key=key, reverse=order == Qt.DescendingOrder)


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
    """

    def __init__(self, load: Callable[[], list[dict]], triage: Callable[[list[dict], str, str], None],
                 titles: dict[str, str] | None = None, ask_justification=None, parent=None):
        super().__init__(parent)
        self._load, self._triage = load, triage
        self.titles = dict(titles or {})
        self.ask_justification = ask_justification or self._dialog_justification
        self.all_rows: list[dict] = []
        self.read_only = False
        self.model = FindingsTableModel(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._build_filters())
        split = QSplitter(Qt.Horizontal)
        self.groups = QListWidget()
        self.groups.setMinimumWidth(110)
        self.groups.currentRowChanged.connect(lambda *_: self.apply_filter())
        split.addWidget(self.groups)
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
        self.table.setTextElideMode(Qt.ElideRight)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.show_details())
        split.addWidget(self.table)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        sl.addWidget(self.details, 1)
        buttons = QGridLayout()  # two by two: the details pane stays narrow enough for the table
        self.triage_buttons: dict[str, QPushButton] = {}
        for n, (status, (text, key)) in enumerate(TRIAGE_ACTIONS.items()):
            button = QPushButton(f"{text} ({key})")
            button.setToolTip(f"Triage the selected findings as {status.replace('_', ' ')} (key {key})")
            button.clicked.connect(lambda _=False, s=status: self.triage_selected(s))
            buttons.addWidget(button, n // 2, n % 2)
            self.triage_buttons[status] = button
            QShortcut(QKeySequence(key), self.table, activated=lambda s=status: self.triage_selected(s))
        sl.addLayout(buttons)
        split.addWidget(side)
        split.setSizes([140, 840, 300])
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
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Write the findings shown (after filters) as CSV")
        self.export_button.clicked.connect(self._export_dialog)
        for label, widget in (("Pillar", self.pillar), ("Severity", self.severity), ("Status", self.status),
                              ("Group", self.group_by)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addWidget(self.text, 1)
        row.addWidget(self.export_button)
        for combo in (self.pillar, self.severity, self.status):
            combo.currentIndexChanged.connect(lambda *_: self.apply_filter(regroup=True))
        self.group_by.currentIndexChanged.connect(lambda *_: self.apply_filter(regroup=True))
        self.text.textChanged.connect(lambda *_: self.apply_filter(regroup=True))
        return row

    # -------------------------------------------------------------- loading
    def refresh(self) -> None:
        """Reload the findings and keep the filters."""
        rows = []
        for f in self._load():
            f = dict(f)
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

    def _accepts(self, r: dict, group: tuple[str, str] | None) -> bool:
        pid = self.pillar.currentData()
        if pid and r.get("plugin") != pid:
            return False
        if SEVERITY_RANK.get(r.get("severity"), 0) < self.severity.currentIndex():
            return False
        statuses = STATUS_CHOICES[self.status.currentIndex()][1]
        if statuses is not None and r["status"] not in statuses:
            return False
        needle = self.text.text().strip().lower()
        if needle and not any(needle in str(r.get(k) or "").lower() for k in ("rule", "title", "message", "path")):
            return False
        if group is not None and str(r.get(group[0]) or "") != group[1]:
            return False
        return True

    def apply_filter(self, regroup: bool = False) -> None:
        key = GROUPS[self.group_by.currentIndex()][1]
        if regroup:
            self._fill_groups(key)
        group = None
        item = self.groups.currentItem()
        if key is not None and item is not None and item.data(Qt.UserRole) is not None:
            group = (key, item.data(Qt.UserRole))
        self.model.set_rows(self.all_rows, lambda r: self._accepts(r, group))
        header = self.table.horizontalHeader()
        for column in range(len(VIEW_COLUMNS)):
            if column != FINDING_COLUMN:  # the finding's title takes what the others leave
                header.resizeSection(column, min(max(self.table.sizeHintForColumn(column),
                                                     header.sectionSizeHint(column)), COLUMN_MAX.get(column, 200)))
        shown, total = self.model.rowCount(), len(self.all_rows)
        self.count.setText(f"{shown} of {total} findings shown (the latest run of every target)")
        self.show_details()

    def _fill_groups(self, key: str | None) -> None:
        self.groups.blockSignals(True)
        self.groups.clear()
        self.groups.setVisible(key is not None)
        if key is not None:
            counts: dict[str, int] = {}
            for r in self.all_rows:
                if self._accepts(r, None):
                    value = str(r.get(key) or "")
                    counts[value] = counts.get(value, 0) + 1
            everything = QListWidgetItem(f"All ({sum(counts.values())})")
            everything.setData(Qt.UserRole, None)
            self.groups.addItem(everything)
            for value, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                item = QListWidgetItem(f"{value or '(none)'} ({n})")
                item.setData(Qt.UserRole, value)
                item.setToolTip(value)
                self.groups.addItem(item)
            self.groups.setCurrentRow(0)
        self.groups.blockSignals(False)

    def set_read_only(self, read_only: bool) -> None:
        """No triage in a read-only window (browsing and export stay)."""
        self.read_only = read_only
        self.show_details()

    # -------------------------------------------------------------- details
    def selected(self) -> list[dict]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.record(r) for r in rows]

    def show_details(self) -> None:
        chosen = self.selected()
        for status, button in self.triage_buttons.items():
            button.setEnabled(bool(chosen) and not self.read_only)
        if not chosen:
            self.details.setPlainText("Select a finding to see its details, the evidence and its triage.\n\n"
                                      "Keys: F false positive, A accept the risk (with why), X fixed, O reopen.")
            return
        if len(chosen) > 1:
            self.details.setPlainText(f"{len(chosen)} findings selected: the triage buttons apply to all of them.")
            return
        self.details.setHtml(details_html(chosen[0]))

    # --------------------------------------------------------------- triage
    def triage_selected(self, status: str) -> bool:
        chosen = self.selected()
        if not chosen or not self.triage_buttons[status].isEnabled():
            return False
        why = ""
        if status in ("accepted_risk", "false_positive"):
            required = status == "accepted_risk"
            why = self.ask_justification(
                TRIAGE_ACTIONS[status][0].rstrip("…"),
                f"Why is this {'an accepted risk' if required else 'a false positive'}? "
                f"({len(chosen)} finding(s); the text goes into the audit log)", required)
            if why is None:
                return False
        try:
            self._triage(chosen, status, why)
        except ValueError as exc:
            self.details.setPlainText(f"Not triaged: {exc}")
            return False
        self.refresh()
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
        path, _ = QFileDialog.getSaveFileName(self, "Export findings", "findings.csv", "CSV (*.csv)")
        if path:
            n = self.export_csv(path)
            self.count.setText(f"Wrote {n} findings to {path}")


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
    if isinstance(evidence, dict):
        rest = {k: v for k, v in evidence.items() if k != "code"}
        if rest:
            parts.append("<p><b>Evidence</b></p><table>" + "".join(
                f"<tr><td><code>{esc(k)}</code>&nbsp;</td><td>{esc(v if isinstance(v, str) else json.dumps(v))}</td></tr>"
                for k, v in rest.items()) + "</table>")
    status = (f.get("status") or "open").replace("_", " ")
    why = f.get("triage_justification")
    parts.append(f"<p><b>Status:</b> {esc(status)}" + (f" — “{esc(why)}”" if why else "") + "</p>")
    parts.append(f"<p style='color:gray'>fingerprint {esc(f.get('fingerprint'))}</p>")
    return "".join(parts)

