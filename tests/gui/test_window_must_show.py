"""Issue 22's "Must show", window-wide: at 1280×800 every plot shown in any tab is at least 200 px
tall, and a read-only window has no enabled action or button, in a menu, a tab or a dock, that
would write to the project."""

from __future__ import annotations

import re

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton, QApplication, QGraphicsView

from test_main_window import make_project

#: texts of actions and buttons that start work or store something in the project
WRITES = re.compile(r"^(Run|Harden|Record|Fuzz|Probe|Import|Save rules|Save weights|False positive|Accept|"
                    r"Fixed|Reopen|Triage|Delete|Add|Forget|Mark)\b", re.IGNORECASE)
#: they write to this machine (its key store), not to the project
NOT_THE_PROJECT = {"Import Project Key…"}


def visit_every_tab(window) -> None:
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)  # builds a tab never shown
        QApplication.processEvents()


def test_every_plot_in_every_tab_is_at_least_200_px_tall_at_1280x800(tmp_path, qtbot, settings_dir):
    from workbench.gui.api import open_window

    window = open_window(make_project(tmp_path / "p.wbproj", n_findings=12), size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    try:
        seen = {}
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            QApplication.processEvents()
            title = window.tabs.tabText(index)
            tab = window.tabs.widget(index)
            for view in tab.findChildren(QGraphicsView):
                # plots (pyqtgraph's PlotWidget); an image grid such as the adversarial examples is not one
                if type(view).__name__ == "PlotWidget" and view.isVisibleTo(window) and view.width() > 0:
                    seen.setdefault(title, []).append(view.height())
        assert seen, "no plot was shown in any tab"
        small = {t: hs for t, hs in seen.items() if min(hs) < 200}
        assert not small, f"plots under 200 px tall at 1280×800: {small}"
    finally:
        window.jobs.wait_all()
        window.close_project()


def test_read_only_window_enables_no_writing_action_or_button(read_only_window):
    window = read_only_window
    path = window.project.path
    visit_every_tab(window)
    window.findings_view.table.selectRow(0)  # a selected finding would enable triage in a writable one
    QApplication.processEvents()
    enabled = [a.text().replace("&", "") for a in window.findChildren(QAction)
               if a.isEnabled() and a.menu() is None and a.text().replace("&", "") not in NOT_THE_PROJECT
               and WRITES.match(a.text().replace("&", "").strip())]
    enabled += [b.text().replace("&", "") for b in window.findChildren(QAbstractButton)
                if b.isEnabled() and b.isVisibleTo(window) and WRITES.match(b.text().replace("&", "").strip())]
    assert not enabled, f"enabled in a read-only window: {enabled}"

    # The same window on the project opened for writing gives them back (the pattern finds them).
    window.close_project()
    assert window.open_project(path)
    window.findings_view.table.selectRow(0)
    QApplication.processEvents()
    writable = [b.text() for b in window.findings_view.findChildren(QAbstractButton)
                if b.isEnabled() and WRITES.match(b.text().replace("&", "").strip())]
    assert writable, "no triage button is enabled on a writable project: the check above saw nothing"
