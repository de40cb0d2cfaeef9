"""JobPanel: what every tab needs to run one job of its plugin.

A target picker (line edit, Browse, drop a file or folder), a form built from
the job's params dataclass, Run/Cancel, progress with ETA, and errors shown
in place (bad parameters, no project, a failed run). The worker process does
the work; the panel only forwards progress (Orange3's pattern, as the jobs
dock). Run is declared with ``host.writes()``: disabled in a read-only window.
"""

from __future__ import annotations

import dataclasses
import shlex
import types
import typing
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from workbench.core.progress import format_duration

__all__ = ["JobPanel"]


def _plain_hint(hint):
    """(the type, optional?) of an annotation: ``int | None`` is (int, True)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return hint, False


class JobPanel(QWidget):
    """Run one job of the tab's plugin: ``JobPanel(tab.plugin, tab.host, "count")``.

    The form has a row per field of the job's params dataclass (the target field excepted, which
    is the picker): ``int`` and ``float`` spin boxes, ``bool`` a check box, ``Literal[...]`` a
    choice, ``str`` and optional numbers a line edit, lists a ``;``-separated line edit. A field's
    ``metadata`` may give ``label``, ``help``, ``min``, ``max`` and ``step``; fields named in
    *hide* keep their default and get no row. Signals: ``started(job)``, ``finished(job)``,
    ``picked(path)`` (a target chosen with Browse… or dropped).

    *extra* is called at Run for parameters the tab computes from its own widgets (a policy): it
    returns a dict that overrides the form's values, None to start nothing (the user declined a
    question), or raises ValueError with the reason, shown in place. *choices* gives fields a fixed
    list of values (a choice box); *pick* gives fields a Browse… button (``{"python": "file"}``);
    ``browse=None`` gives the target none (an entry point, a URL); *target_label* names the target
    ("Dataset:"; the field's name by default); *form_columns* lays the form's rows out in that many
    columns, left to right (a short form in one line). A list field whose metadata has
    ``"split": "shell"`` is typed as a command line (quotes group words).
    """

    started = Signal(object)
    finished = Signal(object)
    picked = Signal(str)

    def __init__(self, plugin, host, job: str, *, browse: str | None = "folder", hide: tuple[str, ...] = (),
                 run_text: str = "Run ▶", extra=None, choices: dict | None = None, pick: dict | None = None,
                 target_label: str | None = None, form_columns: int = 1, parent=None):
        super().__init__(parent)
        self.plugin, self.host, self.job_name = plugin, host, job
        self.jobdef = plugin.jobs[job]
        self.job = None
        self.browse_kind = browse
        self.extra, self.choices, self.pick = extra, dict(choices or {}), dict(pick or {})
        self.fields: dict[str, QWidget] = {}
        self._labels: dict[str, QLabel] = {}  # a field's row is found by its label, never by index
        self._kinds: dict[str, tuple] = {}
        self.setAcceptDrops(True)

        self.target: QLineEdit | None = None
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        if self.jobdef.target:
            self.target = QLineEdit()
            label = target_label or self.jobdef.target.replace("_", " ").capitalize() + ":"
            name = label.rstrip(": ")
            self._target_name = name[:1].lower() + name[1:]  # "Endpoint URL:" -> "endpoint URL"
            self.target.setPlaceholderText(f"{browse.capitalize() if browse else name} to {self.jobdef.title}"
                                           + (" (type, browse or drop)" if browse else ""))
            self.target.returnPressed.connect(self.start)
            self.target.setAcceptDrops(False)  # a dropped file lands on the panel: its path, not its URL
            self.browse_button = QPushButton("Browse…")
            self.browse_button.clicked.connect(self.browse)
            self.browse_button.setVisible(bool(browse))
            top.addWidget(QLabel(label))
            top.addWidget(self.target, 1)
            top.addWidget(self.browse_button)
        self.top = top  # a tab may add its own buttons beside Run (top.insertWidget)
        self.run_button = QPushButton(run_text)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel ■")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        top.addWidget(self.run_button)
        top.addWidget(self.cancel_button)

        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self._forms = [self.form] + [QFormLayout() for _ in range(form_columns - 1)]
        hints = typing.get_type_hints(self.jobdef.params)
        for f in dataclasses.fields(self.jobdef.params):
            if f.init and f.name != self.jobdef.target and f.name not in hide:
                self._add_field(f, hints.get(f.name, str))

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.hide()  # an empty bar says nothing: it shows from the first Run
        self.eta = QLabel("")
        self.eta.setMinimumWidth(140)
        self.eta.hide()  # with the bar: an empty line under the form read as a layout gap
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error.setStyleSheet("color: #d0342c")  # readable on the light and the dark palette
        self.error.hide()
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.eta)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        form_box = QWidget()
        if len(self._forms) == 1:
            form_box.setLayout(self.form)
        else:
            columns = QHBoxLayout(form_box)
            columns.setContentsMargins(0, 0, 0, 0)
            for form in self._forms:
                columns.addLayout(form)
        form_box.setMinimumWidth(420 * len(self._forms))  # inputs wide enough for a path or a list
        layout.addWidget(form_box, 0, Qt.AlignLeft)
        layout.addLayout(bar)
        layout.addWidget(self.error)

        host.writes(self.run_button)  # disabled while the project is open read-only
        host.job_updated.connect(self._updated)
        host.job_finished.connect(self._finished)

    # ------------------------------------------------------------------ form
    def _add_field(self, f, hint) -> None:
        hint, optional = _plain_hint(hint)
        meta = f.metadata or {}
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None
        choices = tuple(self.choices.get(f.name, ())) or choices
        if choices:
            widget, kind = QComboBox(), "choice"
            for c in choices:
                widget.addItem("default" if c is None else str(c), c)  # None: the job decides (auto)
            if default in choices:
                widget.setCurrentIndex(choices.index(default))
        elif hint is bool:
            widget, kind = QCheckBox(), "bool"
            widget.setChecked(bool(default))
        elif hint is int and not optional:
            widget, kind = QSpinBox(), "int"
            widget.setRange(int(meta.get("min", -2**31)), int(meta.get("max", 2**31 - 1)))
            widget.setSingleStep(int(meta.get("step", 1)))
            widget.setValue(int(default or 0))
        elif hint is float and not optional:
            widget, kind = QDoubleSpinBox(), "float"
            shown = -Decimal(str(float(default or 0))).normalize().as_tuple().exponent  # 0.05 shows as 0.05
            widget.setDecimals(int(meta.get("decimals", min(6, max(2, shown)))))
            widget.setRange(float(meta.get("min", -1e12)), float(meta.get("max", 1e12)))
            widget.setSingleStep(float(meta.get("step", 0.1)))
            widget.setValue(float(default or 0.0))
        else:
            widget = QLineEdit()
            kind = ("list" if typing.get_origin(hint) in (list, tuple) or hint in (list, tuple)
                    else "int" if hint is int else "float" if hint is float else "str")
            kind = "shell" if kind == "list" and meta.get("split") == "shell" else kind
            widget.setText("; ".join(map(str, default or ())) if kind == "list" else shlex.join(default or ())
                           if kind == "shell" else "" if default is None else str(default))
            if optional:
                widget.setPlaceholderText("none")
            elif kind == "list":
                widget.setPlaceholderText("separated by ;")
        if meta.get("help"):
            widget.setToolTip(meta["help"])
        self.fields[f.name] = widget
        self._kinds[f.name] = (kind, optional, isinstance(widget, QLineEdit))
        label = QLabel(meta.get("label") or f.name.replace("_", " ").capitalize() + ":")
        label.setBuddy(widget)
        self._labels[f.name] = label
        if f.name in self.pick:  # a path typed, or chosen with its own Browse…
            button = QPushButton("Browse…")
            button.clicked.connect(lambda _=False, w=widget, k=self.pick[f.name]: self._pick_into(w, k))
            box = QHBoxLayout()
            box.addWidget(widget, 1)
            box.addWidget(button)
        form = self._forms[(len(self.fields) - 1) % len(self._forms)]
        form.addRow(label, box if f.name in self.pick else widget)

    def set_row_visible(self, name: str, on: bool) -> None:
        """Show or hide the form row of field *name* (its label and input): a choice elsewhere in
        the tab (a built-in demo) makes it irrelevant. A hidden field keeps its value."""
        label = self._labels[name]
        next(form for form in self._forms if form.indexOf(label) >= 0).setRowVisible(label, on)

    def values(self) -> dict:
        """The parameters as the form shows them (the target included); raises ValueError on text
        that is not a number where one is expected."""
        values = {}
        if self.target is not None:
            values[self.jobdef.target] = self.target.text().strip()
        for name, widget in self.fields.items():
            kind, optional, text_box = self._kinds[name]
            if kind == "choice":
                values[name] = widget.currentData()
            elif kind == "bool":
                values[name] = widget.isChecked()
            elif not text_box:
                values[name] = widget.value()
            else:
                text = widget.text().strip()
                if kind == "list":
                    values[name] = [p.strip() for p in text.split(";") if p.strip()]
                elif kind == "shell":
                    try:
                        values[name] = shlex.split(text)
                    except ValueError as exc:
                        raise ValueError(f"{name.replace('_', ' ')} {text!r}: {exc}") from None
                elif optional and not text:
                    values[name] = None
                elif kind in ("int", "float"):
                    try:
                        values[name] = int(text) if kind == "int" else float(text)
                    except ValueError:
                        raise ValueError(f"{name.replace('_', ' ')}: {text!r} is not a "
                                         f"{'whole number' if kind == 'int' else 'number'}") from None
                else:
                    values[name] = text
        return values

    def set_values(self, **values) -> None:
        """Fill the form (and the target) from keyword arguments, as a saved preset would."""
        for name, value in values.items():
            if name == self.jobdef.target and self.target is not None:
                self.target.setText(str(value))
                continue
            widget = self.fields[name]
            kind, _, text_box = self._kinds[name]
            if kind == "choice":
                widget.setCurrentIndex(max(0, widget.findData(value)))
            elif kind == "bool":
                widget.setChecked(bool(value))
            elif not text_box:
                widget.setValue(value)
            else:
                widget.setText("; ".join(map(str, value)) if kind == "list" else shlex.join(value or ())
                               if kind == "shell" else "" if value is None else str(value))

    # ------------------------------------------------------------------- run
    def show_error(self, text: str) -> None:
        """An error under the form, where the user is looking; cleared by the next Run."""
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def start(self, job: str | None = None, **more):
        """Check the form, start the job; returns its handle, or None with the reason shown in place.
        *job* runs another job of the plugin from the same form (its params a superset, as a
        "Harden" beside "Run"), *more* adds parameters the form does not show."""
        self.show_error("")
        if self.target is not None and not self.target.text().strip():
            self.show_error(f"Choose a {self.browse_kind} first (type it, Browse… or drop it here)."
                            if self.browse_kind else f"Give the {self._target_name} first.")
            return None
        try:
            values = self.values()
            computed = self.extra() if self.extra is not None else {}
            if computed is None:
                return None
            spec = self.plugin.job_spec(job or self.job_name, **{**values, **computed, **more})
        except ValueError as exc:  # ParamsError too: the dataclass's own checks
            self.show_error(str(exc))
            return None
        if self.host.store is None:
            self.show_error(self.host.failure or "Open or create a project first.")
            return None
        job = self.host.start_job(spec)
        if job is None:
            self.show_error("The job could not start; the status bar says why.")
            return None
        self.job = job
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.show()
        self.eta.show()
        self.progress.setRange(0, 0)  # busy until the first progress message
        self.progress.setFormat("")
        self.eta.setText("starting…")
        self.started.emit(job)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.eta.setText("cancelling…")

    def _updated(self, job) -> None:
        if job is not self.job:
            return
        t = job.tracker
        if t.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * (t.fraction or 0)))
            self.progress.setFormat(f"{t.done:g}/{t.total:g}")
        # what the job does now (the current test, the node checked) beside the time
        self.eta.setText(f"{format_duration(t.elapsed)}  ETA {format_duration(t.eta)}"
                         + (f"  ·  {job.message}" if job.message else ""))
        if job.message:
            self.progress.setToolTip(job.message)

    def _finished(self, job) -> None:
        if job is not self.job:
            return
        self.run_button.setEnabled(True)  # the read-only guard keeps it off where it must be
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000 if job.status == "done" else self.progress.value())
        self.progress.setFormat(job.status)
        self.eta.setText(f"{format_duration(job.tracker.elapsed)}  {job.status}")
        if job.status == "failed":
            lines = str(job.result or "failed").strip().splitlines()
            self.show_error(f"The run failed: {lines[-1] if lines else 'no reason given'}")
            self.error.setToolTip(str(job.result or ""))
        self.finished.emit(job)

    # ------------------------------------------------------------ picking
    def browse(self) -> None:
        start = self.target.text() if self.target is not None else ""
        if self.browse_kind == "file":
            path, _ = QFileDialog.getOpenFileName(self, f"Choose a file to {self.jobdef.title}", start)
        else:
            path = QFileDialog.getExistingDirectory(self, f"Choose a folder to {self.jobdef.title}", start)
        if path and self.target is not None:
            self.target.setText(path)
            self.picked.emit(path)

    def _pick_into(self, widget, kind: str) -> None:
        if kind == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", widget.text())
        else:
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", widget.text())
        if path:
            widget.setText(path)

    def dragEnterEvent(self, event) -> None:
        # no browse: the target is no path (an entry point, a URL), so a dropped file has no place
        if (self.target is not None and self.browse_kind
                and any(u.isLocalFile() for u in event.mimeData().urls())):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths and self.target is not None and self.browse_kind:
            self.target.setText(paths[0])
            event.acceptProposedAction()
            self.picked.emit(paths[0])
