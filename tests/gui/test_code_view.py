"""The kit's code view: numbered lines in a gutter, numbering from where a snippet starts."""

from __future__ import annotations


def test_gutter_numbers_follow_the_text_and_the_snippet_start(qtbot):
    from PySide6.QtGui import QFontDatabase

    from workbench.gui.api import CodeView

    view = CodeView()
    qtbot.addWidget(view)
    view.resize(500, 300)
    view.show()
    view.set_code("\n".join(f"line {i}" for i in range(1, 10)))
    digit = view.fontMetrics().horizontalAdvance("9")
    one_digit = view.gutter_width()
    view.set_code("\n".join(f"line {i}" for i in range(1, 10)), first_line=995)  # numbers 995..1003
    assert view.gutter_width() == one_digit + 3 * digit and view.viewportMargins().left() == view.gutter_width()
    assert view.isReadOnly() and view.font().fixedPitch() == QFontDatabase.systemFont(
        QFontDatabase.FixedFont).fixedPitch()
    image = view.grab().toImage()
    gutter_colours = {image.pixelColor(x, y).name() for x in range(2, view.gutter_width() - 2)
                      for y in range(4, 40)}
    assert len(gutter_colours) > 1  # numbers were painted on the gutter's background


def test_code_audit_tab_numbers_its_code(window):
    from workbench.gui.api import CodeView

    tab = window.tab_for("code_audit")
    assert isinstance(tab.view.code, CodeView)
    assert "Select a finding" in tab.view.details.toPlainText()  # an empty pane says what to do
