"""The Code audit tab: the kit's JobPanel (target, Run) over the kit's FindingsView (filters,
groups, findings, details, numbered code, triage, export) of the audit run chosen."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout)

from workbench.gui.api import FindingsView, JobPanel, PluginTab
from workbench_plugins.code_audit.code_view import is_secret_finding, mask_lines, untested_fingerprints

MAX_CODE_BYTES = 2_000_000
EXPORTS = {"SARIF 2.1.0, the whole run (*.sarif)": ".sarif", "JSON, the whole run (*.json)": ".json",
           "CSV, the whole run (*.csv)": ".csv"}


class CodeAuditTab(PluginTab):
    def __init__(self, plugin, host, parent=None):
        super().__init__(plugin, host, parent)
        self.new_fingerprints: frozenset = frozenset()
        self.untested_fingerprints: frozenset = frozenset()
        self.setAcceptDrops(True)  # a folder dropped anywhere on the tab is the target
        self.panel = JobPanel(plugin, host, "audit", hide=("config", "exclude", "skips", "tests", "severity",
                                                           "confidence", "path_skips", "workers"))
        self.panel.run_button.setShortcut(QKeySequence("Ctrl+R"))
        self.panel.run_button.setToolTip("Audit the folder (Ctrl+R)")
        self.panel.finished.connect(lambda job: job.status == "done" and self._reload_runs(select_run=job.run_id))
        self.view = FindingsView(self._findings, self._triage, {plugin.id: plugin.title}, source=self.source,
                                 notes=self._notes, pillar=False, chart=True, scope="the run chosen")
        self.view.group_by.setCurrentIndex(1)  # by rule: what to fix first, at a glance
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(260)
        self.run_combo.currentIndexChanged.connect(self._run_selected)
        self.panel.top.addWidget(QLabel("  Results of"))  # beside Run: the run whose findings are shown
        self.panel.top.addWidget(self.run_combo)
        self.new_only = self.view.add_toggle("New since previous run",
                                             lambda f: f["fingerprint"] in self.new_fingerprints)
        self.untested_only = self.view.add_toggle(
            "Untested", lambda f: f["fingerprint"] in self.untested_fingerprints,
            "Only findings on lines that the latest test run of this target did not execute (needs a run of the "
            "Tests plugin)")
        for name in EXPORTS:
            self.view.add_export(name, self.export_findings)
        self.skipped = QTableWidget(0, 3)
        self.skipped.setHorizontalHeaderLabels(["File", "Scanner", "Reason"])
        self.skipped.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        self.skipped.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self._skipped_tab = self.view.add_side_tab(self.skipped, "Skipped files")
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        layout.addWidget(self.view, 1)

    # -------------------------------------------------------------- project
    def refresh(self) -> None:
        self.view.set_read_only(self.host.read_only)
        self._reload_runs()

    def current_run_id(self) -> int | None:
        return self.run_combo.currentData()

    def _reload_runs(self, select_run: int | None = None) -> None:
        # the dependency audit's runs too: its findings are triaged here like the others
        runs = [r for r in self.store.runs() if r["job"] in ("audit", "deps")] if self.store is not None else []
        current = select_run or self.run_combo.currentData()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for r in reversed(runs):
            s = r.get("summary") or {}
            size = f"{s.get('packages', '?')} packages" if r["job"] == "deps" else f"{s.get('files', '?')} files"
            self.run_combo.addItem(f"#{r['id']} {os.path.basename(r['target'] or '')} "
                                   f"({(r['finished'] or '')[:16].replace('T', ' ')}, {size})", r["id"])
        self.run_combo.setCurrentIndex(max(0, self.run_combo.findData(current)) if current else 0)
        self.run_combo.blockSignals(False)
        if runs and self.panel.target is not None and not self.panel.target.text():
            self.panel.target.setText(runs[-1]["target"] or "")
        self._run_selected()

    def _run_selected(self, *_) -> None:
        run_id, skipped = self.current_run_id(), []
        self.new_fingerprints = self.untested_fingerprints = frozenset()
        if self.store is not None and run_id:
            from workbench_plugins.code_audit import store as tables
            from workbench_plugins.code_audit.engine import diff_runs

            self.new_fingerprints = frozenset(diff_runs(self.store, run_id)["new"])
            self.untested_fingerprints = untested_fingerprints(self.store, run_id)
            skipped = [(d["path"], d["scanner"], d["reason"]) for d in tables.skipped_files(self.store, run_id)]
        self.skipped.setRowCount(len(skipped))
        for i, row in enumerate(skipped):
            for j, value in enumerate(row):
                self.skipped.setItem(i, j, QTableWidgetItem(str(value)))
        self.view.side.setTabText(self._skipped_tab, f"Skipped files ({len(skipped)})")
        self.view.refresh()  # keeps the selection by fingerprint: the new run's record of the same findings

    def _findings(self) -> list[dict]:
        run_id = self.current_run_id()
        return self.store.findings(run_id) if self.store is not None and run_id else []

    def _triage(self, findings: list[dict], status: str, justification: str) -> None:
        if self.store is None or self.host.read_only:
            raise ValueError("the project is open read-only: triage is off")
        self.store.set_triage(sorted({f["fingerprint"] for f in findings}), status, justification)
        self.host.changed()

    # -------------------------------------------------------------- details
    def _notes(self, f: dict) -> str:
        return ("<p><b style='color:#c0392b'>Untested:</b> no test of the latest test run executed this line.</p>"
                if f["fingerprint"] in self.untested_fingerprints else "")

    def source(self, f: dict) -> tuple[str, int] | None:
        """The finding's file from the audited tree, every credential line of it masked."""
        run = self.store.run(self.current_run_id()) if self.store is not None and self.current_run_id() else None
        root = (run or {}).get("target") or (self.panel.target.text() if self.panel.target else "")
        if not (f.get("path") and root):
            return None
        path = Path(root) / f["path"]
        try:
            if not path.is_file() or path.stat().st_size > MAX_CODE_BYTES:
                return None
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        # every credential finding of this file, not only the selected one
        for other in self.view.all_rows:
            if other.get("path") == f["path"] and other.get("line") and is_secret_finding(other):
                text = mask_lines(text, other["line"], other.get("end_line") or other["line"])
        return text, 1

    # --------------------------------------------------------------- export
    def export_findings(self, path: str) -> None:
        """Write the chosen run's findings; the format follows the file's suffix."""
        from workbench_plugins.code_audit import sarif

        run_id = self.current_run_id()
        if run_id is None:
            raise ValueError("no audit run to export yet")
        writer = {".json": sarif.write_json, ".csv": sarif.write_csv}.get(Path(path).suffix.lower(), sarif.write_sarif)
        writer(self.store, run_id, path)
        if not self.host.read_only:  # a read-only view cannot add to the audit log
            self.host.log_event("export", f"findings of run {run_id} exported to {Path(path).name}")

    # ----------------------------------------------------------------- jobs
    def start_audit(self):
        return self.panel.start()

    def dragEnterEvent(self, event) -> None:
        self.panel.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        self.panel.dropEvent(event)
