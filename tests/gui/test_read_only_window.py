"""A read-only window offers nothing that would write to the project, in any tab."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QAbstractButton, QApplication

#: button texts that start work or store a decision in the project
WRITES = re.compile(r"^(Run|Harden|Record|Fuzz|Probe|Save rules|Save weights|False positive|Accept risk|Fixed|"
                    r"Reopen)\b")


def test_no_enabled_control_writes_in_a_read_only_window(read_only_window):
    window = read_only_window
    path = window.project.path
    seen = []
    for plugin in window.registry.plugins:
        if not plugin.tab:
            continue
        tab = window.show_plugin_tab(plugin.id)
        QApplication.processEvents()
        for button in tab.findChildren(QAbstractButton):
            text = button.text().replace("&", "").strip()
            if WRITES.match(text):
                seen.append((plugin.id, text))
                assert not button.isEnabled(), f"{plugin.id}: '{text}' is enabled in a read-only window"
    tabs_seen = {pid for pid, _ in seen}
    assert {"code_audit", "robustness", "anonymise", "testing", "monitor"} <= tabs_seen, seen
    window.findings_view.table.selectRow(0)
    assert not any(b.isEnabled() for b in window.findings_view.triage_buttons.values())
    # The same window on a writable project gives the controls back.
    window.close_project()
    assert window.open_project(path)
    robustness = window.show_plugin_tab("robustness")
    assert robustness.run_button.isEnabled()
