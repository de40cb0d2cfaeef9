"""The kit's tables, layouts and JobPanel hooks that the Anonymise and Tests tabs are built from."""

from __future__ import annotations

from dataclasses import dataclass, field

from form_plugin import TargetParams, form_plugin


@dataclass
class HookParams(TargetParams):
    kind: str = field(default="text", metadata={"label": "Input kind:"})
    args: list[str] = field(default_factory=list, metadata={"split": "shell"})
    python: str = ""
    policy: dict = field(default_factory=dict)


def test_table_helpers_fill_models_and_widgets(qtbot):
    import pyarrow as pa
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTableWidget

    from workbench.gui.api import ArrowTableModel, fill_table, item, table_model, table_view

    model = table_model(["Name", "Count", "Rate"], [["a", 3, "10%"], ["b", 12, "n/a"],
                                                   [item("c", data={"id": 7}, colour="#c62828"), 0, "0%"]])
    assert (model.rowCount(), model.columnCount()) == (3, 3)
    assert [model.item(r, 0).text() for r in range(3)] == ["a", "b", "c"]
    assert model.item(1, 1).textAlignment() & Qt.AlignRight          # numbers right-aligned
    assert not model.item(1, 2).textAlignment() & Qt.AlignRight      # text left
    assert model.item(2, 0).data(Qt.UserRole) == {"id": 7} and not model.item(0, 0).isEditable()
    view = table_view(model)
    qtbot.addWidget(view)
    # rows stay in the order given until a header is clicked; then they sort
    assert [view.model().index(r, 0).data() for r in range(3)] == ["a", "b", "c"]
    view.sortByColumn(0, Qt.DescendingOrder)
    assert [view.model().index(r, 0).data() for r in range(3)] == ["c", "b", "a"]

    widget = QTableWidget()
    qtbot.addWidget(widget)
    assert fill_table(widget, ["level 0", "level 1"], [["1", "*"]] * 900, limit=500) == 500
    assert (widget.rowCount(), widget.columnCount()) == (500, 2) and widget.item(499, 1).text() == "*"
    assert fill_table(widget, [], []) == 0 and widget.columnCount() == 0

    table = pa.table({"x": list(range(100_000)), "y": ["v"] * 100_000})
    arrow = ArrowTableModel(table)
    assert (arrow.rowCount(), arrow.columnCount()) == (100_000, 2)
    assert arrow.data(arrow.index(99_999, 0)) == 99_999 and arrow.headerData(1, Qt.Horizontal) == "y"
    arrow.set_table(None)
    assert arrow.rowCount() == 0


def test_layout_helpers(qtbot):
    from PySide6.QtWidgets import QLabel, QLineEdit, QSplitter, QTabWidget

    from workbench.gui.api import column, pages, row, side_by_side

    edit = QLineEdit()
    r = row("Run:", edit, stretch=1)
    qtbot.addWidget(r)
    assert isinstance(r.layout().itemAt(0).widget(), QLabel) and r.layout().itemAt(0).widget().text() == "Run:"
    assert r.layout().stretch(1) == 1 and r.layout().stretch(0) == 0
    a, b = QLabel("a"), QLabel("b")
    c = column(a, b)
    qtbot.addWidget(c)
    assert c.layout().stretch(1) == 1 and c.layout().contentsMargins().left() == 0
    split = side_by_side(QLabel("left"), QLabel("right"), sizes=(3, 2), minimum=100)
    qtbot.addWidget(split)
    assert isinstance(split, QSplitter) and split.count() == 2 and not split.childrenCollapsible()
    tabs = pages(("Data", QLabel()), ("Risk before / after", QLabel()))
    qtbot.addWidget(tabs)
    assert isinstance(tabs, QTabWidget) and tabs.tabText(1) == "Risk before / after"


def test_job_panel_hooks_choices_shell_arguments_and_columns(window, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QComboBox

    from workbench.gui.api import JobPanel, TabHost

    plugin = form_plugin("hooktest", "Hooks", "hook", HookParams)
    asked = []

    def extra():
        asked.append(True)
        if panel.fields["python"].text() == "refuse":
            raise ValueError("choose the project's own interpreter")
        if panel.fields["python"].text() == "decline":
            return None
        return {"depth": int(panel.fields["depth"].value()) - 5, "policy": {"k": 5}}

    panel = JobPanel(plugin, TabHost(window, plugin), "hook", browse="file", hide=("policy",), extra=extra,
                     choices={"kind": ("text", "tabular")}, pick={"python": "file"}, target_label="Dataset:",
                     form_columns=2)
    qtbot.addWidget(panel)
    assert isinstance(panel.fields["kind"], QComboBox) and panel.fields["kind"].itemText(1) == "tabular"
    assert "policy" not in panel.fields
    # two columns of rows, left to right, reading order kept
    assert panel._forms[0].rowCount() == 2 and panel._forms[1].rowCount() == 2
    panel.fields["args"].setText("-k 'not slow' -x")
    assert panel.values()["args"] == ["-k", "not slow", "-x"]
    panel.set_values(args=["-k", "a b"])
    assert panel.fields["args"].text() == "-k 'a b'"
    # the target dropped on the panel is announced, so that a tab can load it
    picked = []
    panel.picked.connect(picked.append)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "data.csv"))])
    panel.dropEvent(QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert picked == [str(tmp_path / "data.csv")] and panel.target.text() == picked[0]
    panel.fields["args"].setText("-k 'open")
    assert panel.start() is None and "args" in panel.error.text()   # bad quoting: refused before extra
    panel.fields["args"].clear()
    # extra: a refusal in place, a silent decline, and values that override the form's
    panel.fields["python"].setText("refuse")
    assert panel.start() is None and panel.error.text() == "choose the project's own interpreter"
    panel.fields["python"].setText("decline")
    assert panel.start() is None and panel.error.isHidden()
    panel.fields["python"].setText("/usr/bin/python3")
    assert panel.start() is None and "depth must be at least 1" in panel.error.text()  # 3 - 5 from extra
    assert len(asked) == 3
