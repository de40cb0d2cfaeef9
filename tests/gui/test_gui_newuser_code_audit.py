"""What a new user tripped on in the Code audit tab (issue 8): the flagged line's contrast in
both themes, columns sized to their contents at the first window size, the details pane after
a new run, and the multi-line justification of an accepted risk.

Real windows under pytest-qt, real project files, real audits in worker processes.
"""

from __future__ import annotations

import textwrap

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette, QTextFormat
from PySide6.QtWidgets import QApplication, QDialog

from workbench.core.findings import Finding
from workbench.core.plugins import load_plugins
from workbench.core.project import Project


from wcag import contrast  # noqa: E402


def tree_with_code(root):
    src = root / "src"
    src.mkdir(parents=True)
    (src / "app.py").write_text("".join(f"value_{i} = {i}\n" for i in range(1, 40)))
    return root


def project_with_findings(path, target, findings) -> None:
    """findings: (severity, rule, title, path, line, triage status or None)."""
    with Project.create(path, plugins=load_plugins().plugins) as p:
        run = p.create_run("code_audit", "audit", {"target": str(target)}, title="audit", target=str(target))
        p.start_run(run)
        p.add_findings(run, [Finding("code_audit", rule, sev, "MEDIUM", title, f"{title}: details", path=file,
                                     line=line, fingerprint=f"fp{i}")
                             for i, (sev, rule, title, file, line, _) in enumerate(findings)])
        p.finish_run(run, "done", summary={"files": 1, "lines": 40})
        for i, f in enumerate(findings):
            if f[5]:
                p.set_triage(f"fp{i}", f[5], "reviewed: see ticket 12")


def select(tab, **match) -> dict:
    for row in range(tab.view.model.rowCount()):
        rec = tab.view.model.record(row)
        if all(rec[k] == v for k, v in match.items()):
            tab.view.table.selectRow(row)
            return rec
    raise AssertionError(f"no row with {match}")


# ------------------------------------------------------------ 1. contrast
def test_flagged_line_is_readable_in_dark_and_light(window, tmp_path):
    from workbench.gui.theme import apply_theme

    tree = tree_with_code(tmp_path / "tree")
    project_with_findings(tmp_path / "c.wbproj", tree, [(sev, f"B{300 + i}", f"{sev} issue", "src/app.py", 5 + i, None)
                                                       for i, sev in enumerate(("LOW", "MEDIUM", "HIGH"))])
    window.open_project(tmp_path / "c.wbproj")
    tab = window.tab_for("code_audit")
    window.tabs.setCurrentWidget(tab)
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)
        QApplication.processEvents()
        for severity in ("LOW", "MEDIUM", "HIGH"):
            select(tab, severity=severity)
            selections = tab.view.code.extraSelections()
            assert selections, "the flagged line is highlighted"
            fmt = selections[0].format
            background = fmt.background().color()
            # What is drawn: the format's text colour, or the editor's when the format has none.
            text = (fmt.foreground().color() if fmt.hasProperty(QTextFormat.ForegroundBrush)
                    else tab.view.code.palette().color(QPalette.Text))
            ratio = contrast(text, background)
            assert ratio >= 4.5, f"{severity} in {theme}: contrast {ratio:.2f}"
            base = tab.view.code.palette().color(QPalette.Base)
            assert background != base, "the line stands out from the rest of the code"


# ------------------------------------------------------ 2. column sizes
def test_first_window_shows_titles_and_whole_statuses(window, tmp_path):
    long_title = "Hard-coded API key of an AI service in the source tree"
    project_with_findings(tmp_path / "w.wbproj", tmp_path, [
        ("HIGH", "B908", long_title, "src/creditml/settings.py", 4, None),
        ("MEDIUM", "SECRET-base64-high-entropy-string", "Secret in the tree: Base64 High Entropy String",
         "config/deploy/production/settings.yaml", 9, "false_positive"),
        ("LOW", "B101", "Use of assert detected", "tests/test_model.py", 3, "accepted_risk"),
    ])
    from workbench.gui.main_window import first_window_size

    available = window.screen().availableGeometry().size()
    width, height = first_window_size(available)  # the first size (the offscreen screen is small)
    assert window.size().height() == height
    assert window.size().width() == max(width, window.minimumSizeHint().width())
    window.open_project(tmp_path / "w.wbproj")
    tab = window.tab_for("code_audit")
    window.tabs.setCurrentWidget(tab)
    tab.view.status.setCurrentIndex(1)  # All: open, false positive, accepted risk
    QApplication.processEvents()
    tab.view.fit_columns()
    header = tab.view.table.horizontalHeader()
    fm = tab.view.table.fontMetrics()
    viewport = tab.view.table.viewport().width()
    widths = [header.sectionSize(c) for c in range(header.count())]
    assert sum(widths) <= viewport + 1, f"columns {widths} overflow the table ({viewport} px): Status is cut off"
    assert widths[4] >= 0.2 * viewport, f"Title gets {widths[4]} of {viewport} px"
    assert widths[4] >= fm.horizontalAdvance("Hard-coded API key of an AI")  # more than "…"
    for row in range(tab.view.model.rowCount()):
        status = tab.view.model.data(tab.view.model.index(row, 6))
        assert fm.horizontalAdvance(status) + 8 <= widths[6], f"status {status!r} does not fit"
        severity = tab.view.model.data(tab.view.model.index(row, 0))
        assert fm.horizontalAdvance(severity) + 8 <= widths[0]


# ---------------------------------------------- 3. details after a new run
def test_details_follow_the_new_run_not_the_previous_one(window, tmp_path, qtbot):
    tree = tmp_path / "tree"
    tree.mkdir()
    app = tree / "app.py"
    app.write_text(textwrap.dedent("""
        import pickle
        import subprocess


        def load(blob):
            return pickle.loads(blob)


        def run(cmd):
            subprocess.call(cmd, shell=True)
    """))
    path = tmp_path / "runs.wbproj"
    Project.create(path, plugins=load_plugins().plugins).close()
    window.open_project(path)
    tab = window.tab_for("code_audit")
    window.tabs.setCurrentWidget(tab)
    tab.panel.target.setText(str(tree))

    def audit():
        job = tab.start_audit()
        assert job is not None
        qtbot.waitUntil(lambda: job.finished, timeout=120000)
        assert job.status == "done", job.result
        qtbot.waitUntil(lambda: tab.current_run_id() == job.run_id, timeout=10000)
        return job.run_id

    first_run = audit()
    first = select(tab, rule="B602")
    assert "B602" in tab.view.details.toPlainText() and f":{first['line']}" in tab.view.details.toPlainText()

    # The code moves down three lines: the new run's record of the same finding is shown.
    app.write_text("\n\n\n" + app.read_text())
    second_run = audit()
    assert second_run != first_run
    shown = tab.view.selected()
    assert [r["fingerprint"] for r in shown] == [first["fingerprint"]]
    assert shown[0]["id"] != first["id"] and shown[0]["line"] == first["line"] + 3
    assert f":{first['line'] + 3}" in tab.view.details.toPlainText()

    # The finding is fixed in the code: after the next run nothing stale is left in the pane.
    app.write_text(app.read_text().replace("subprocess.call(cmd, shell=True)", "subprocess.call(cmd)"))
    audit()
    assert "B602" not in {tab.view.model.record(i)["rule"] for i in range(tab.view.model.rowCount())}
    assert tab.view.selected() == []
    assert tab.view.details.toPlainText().startswith("Select a finding") and tab.view.code.toPlainText() == ""


# ------------------------------------------- 6. multi-line justification
def answer_dialog(qtbot, text: str | None, checks: list):
    """When the justification dialog opens: note whether OK is on while empty, type *text*, then
    OK (or Cancel when *text* is None)."""
    def act():
        dialog = QApplication.activeModalWidget()
        if dialog is None or not isinstance(dialog, QDialog):
            QTimer.singleShot(20, act)
            return
        checks.append(("empty", dialog.ok_button.isEnabled()))
        dialog.text.setPlainText("   \n  ")
        checks.append(("blank", dialog.ok_button.isEnabled()))
        if text is None:
            dialog.reject()
            return
        dialog.text.setPlainText(text)
        checks.append(("typed", dialog.ok_button.isEnabled()))
        dialog.ok_button.click()

    QTimer.singleShot(0, act)


def test_accept_risk_takes_a_multi_line_justification(window, tmp_path, qtbot):
    project_with_findings(tmp_path / "a.wbproj", tmp_path, [("HIGH", "B301", "pickle", "a.py", 1, None),
                                                            ("LOW", "B101", "assert", "b.py", 2, None)])
    window.open_project(tmp_path / "a.wbproj")
    tab = window.tab_for("code_audit")
    window.tabs.setCurrentWidget(tab)

    rec = select(tab, rule="B301")
    checks: list = []
    answer_dialog(qtbot, None, checks)
    tab.view.triage_selected("accepted_risk")
    assert checks == [("empty", False), ("blank", False)]
    assert rec["fingerprint"] not in window.project.triage()  # cancelled: nothing stored

    why = "Only our own signed model files are loaded here.\nTracked in ticket SEC-41; review by 2027-01."
    checks = []
    rec = select(tab, rule="B301")
    answer_dialog(qtbot, why, checks)
    tab.view.triage_selected("accepted_risk")
    assert checks == [("empty", False), ("blank", False), ("typed", True)]
    stored = window.project.triage()[rec["fingerprint"]]
    assert stored["status"] == "accepted_risk" and stored["justification"] == why

    # A false positive may be marked without a reason: OK is on from the start.
    checks = []
    rec = select(tab, rule="B101")
    answer_dialog(qtbot, "", checks)
    tab.view.triage_selected("false_positive")
    assert checks[0] == ("empty", True)
    assert window.project.triage()[rec["fingerprint"]]["status"] == "false_positive"


# ------------------------------------------------- 7. rule ids (issue 22)
def test_long_rule_ids_are_cut_after_a_whole_part_never_mid_word(window, tmp_path):
    from PySide6.QtWidgets import QStyleOptionViewItem

    rule = "SECRET-base64-high-entropy-string"
    project_with_findings(tmp_path / "r.wbproj", tmp_path, [("MEDIUM", rule, "Secret in the tree", "a.yaml", 1, None)])
    window.open_project(tmp_path / "r.wbproj")
    tab = window.tab_for("code_audit")
    column = [tab.view.model.headerData(c, Qt.Horizontal) for c in range(tab.view.model.columnCount())].index("Rule")
    index = tab.view.model.index(0, column)
    delegate = tab.view.table.itemDelegateForColumn(column)
    fm = tab.view.table.fontMetrics()
    for width in (fm.horizontalAdvance("SECRET-base64-hi") + 10, fm.horizontalAdvance("SECRET-base64-high-en") + 10):
        option = QStyleOptionViewItem()
        option.initFrom(tab.view.table)
        option.rect.setWidth(width)
        delegate.initStyleOption(option, index)
        shown = option.text
        assert shown.endswith("…") and rule[len(shown) - 1] in "-_./:", shown  # cut where a part ends
        assert fm.horizontalAdvance(shown) <= width
    assert tab.view.model.data(index, Qt.ToolTipRole) == rule  # the whole id on hover


def test_severity_chart_follows_the_theme(window, tmp_path):
    from workbench.gui.theme import apply_theme

    project_with_findings(tmp_path / "t.wbproj", tmp_path, [("HIGH", "B301", "pickle", "a.py", 1, None)])
    window.open_project(tmp_path / "t.wbproj")
    tab = window.tab_for("code_audit")
    window.tabs.setCurrentWidget(tab)
    lightness = {}
    for theme in ("dark", "light"):
        apply_theme(QApplication.instance(), theme)
        QApplication.processEvents()
        image = tab.view.chart.pixmap().toImage()
        lightness[theme] = image.pixelColor(image.width() // 2, 2).lightness()  # the chart's background
    assert lightness["dark"] < 100 < lightness["light"], lightness
