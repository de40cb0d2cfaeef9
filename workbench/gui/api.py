"""The tab SDK: what a plugin's Qt tab imports from the workbench, and nothing else.

A tab is a :class:`PluginTab` built as ``TabClass(plugin, host)``. The
:class:`TabHost` is its only way to the window: the project (as the plugin's
store), starting and cancelling jobs, messages, and signals. Documented in
``docs/plugins.md``.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from workbench.core.plugin_store import PluginStore
from workbench.gui.code_view import CodeView
from workbench.gui.findings_model import STATUSES
from workbench.gui.findings_view import FindingsView, JustificationDialog, plugin_findings
from workbench.gui.job_panel import JobPanel
from workbench.gui.kit_layout import column, pages, row, side_by_side
from workbench.gui.kit_tables import ArrowTableModel, fill_table, item, table_model, table_view
from workbench.gui.kit_charts import ChartLabel, draw_chart
from workbench.gui.theme import is_dark

__all__ = ["STATUSES", "ChartLabel", "CodeView", "FindingsView", "JustificationDialog",
           "PluginTab", "TabHost", "draw_chart", "is_dark", "open_window"]
__all__ += ["JobPanel", "LiveCurves", "Plot", "PlotGrid", "RingBuffer", "series_color"]
__all__ += ["ArrowTableModel", "column", "fill_table", "item", "pages", "plugin_findings", "row", "side_by_side",
            "table_model", "table_view"]
#: the plot kit, imported on first use: pyqtgraph costs start-up time a window without plots should not pay
_PLOT_KIT = ("LiveCurves", "Plot", "PlotGrid", "RingBuffer", "series_color")


def __getattr__(name: str):
    if name in _PLOT_KIT:
        from workbench.gui import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_window(path=None, *, read_only: bool = False, size: tuple[int, int] | None = None,
                theme: str | None = None):
    """The main window, shown, with the project at *path* open (for plugin tests and scripts).

    Returns the window; ``window.show_plugin_tab(plugin_id)`` returns that plugin's tab, built
    if it was never shown. The window does not reopen the last project when *path* is None.
    """
    from workbench.gui.app import create_window

    _, window = create_window(None if path is None else str(path), theme=theme, reopen_last=False,
                              readonly=read_only)
    if size is not None:
        window.resize(*size)
    window.show()
    return window


class _ReadOnlyGuard(QObject):
    """Puts a declared write control back to disabled when a tab enables it in a read-only window."""

    def __init__(self, host):
        super().__init__(host)
        self.host = host

    def recheck(self, control) -> None:
        if self.host.read_only and control.isEnabled():
            control.setProperty("workbench_was_enabled", True)  # what the tab wants, for later
            QTimer.singleShot(0, lambda: control.setEnabled(False) if self.host.read_only else None)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.EnabledChange:
            self.recheck(obj)
        return False


class TabHost(QObject):
    """The window as one plugin's tab sees it.

    Signals: ``project_changed(store or None)``; ``data_changed()`` when anything in
    the project changed (a run of any plugin finished, triage); ``job_started``,
    ``job_updated``, ``job_finished`` (a job handle) for this plugin's jobs only.
    A job handle has ``run_id``, ``status``, ``result``, ``message``, ``tracker``
    (``done``, ``total``, ``eta``) and ``cancel()``.
    """

    project_changed = Signal(object)
    data_changed = Signal()
    job_started = Signal(object)
    job_updated = Signal(object)
    job_finished = Signal(object)

    def __init__(self, window, plugin):
        super().__init__(window)
        self._window = window
        self.plugin = plugin
        jobs = window.jobs
        jobs.started.connect(lambda job: self._forward(self.job_started, job))
        jobs.updated.connect(lambda job: self._forward(self.job_updated, job))
        jobs.finished.connect(lambda job: self._forward(self.job_finished, job))
        window.data_changed.connect(self.data_changed)
        self._write_controls: list = []
        self._guard = _ReadOnlyGuard(self)

    # ------------------------------------------------------------ read-only
    @property
    def read_only(self) -> bool:
        """True while the project is open read-only: nothing may be run, triaged or stored."""
        return bool(self._window.readonly)

    def writes(self, *controls) -> None:
        """Declare buttons, inputs or actions that write to the project (Run, Record, Import,
        triage…): the host keeps them disabled while the project is read-only, whatever the tab
        sets meanwhile, and gives them back as the tab left them when it is writable again."""
        for control in controls:
            if control in self._write_controls:
                continue
            self._write_controls.append(control)
            if isinstance(control, QWidget):
                control.installEventFilter(self._guard)
            else:  # a QAction has no enabled-change event, only `changed`
                control.changed.connect(lambda control=control: self._guard.recheck(control))
        self.apply_read_only()

    def apply_read_only(self) -> None:
        """Disable (or give back) the declared controls for the project now open; the window calls
        this whenever a project opens or closes."""
        read_only = self.read_only
        for control in self._write_controls:
            if read_only:
                if control.property("workbench_was_enabled") is None:
                    control.setProperty("workbench_was_enabled", control.isEnabled())
                control.setEnabled(False)
            elif control.property("workbench_was_enabled") is not None:
                # Only ever give back: a control the tab itself set since is left as the tab set it.
                if control.property("workbench_was_enabled") and not control.isEnabled():
                    control.setEnabled(True)
                control.setProperty("workbench_was_enabled", None)

    def _forward(self, signal, job) -> None:
        if job.spec.plugin == self.plugin.id:
            signal.emit(job)

    # ------------------------------------------------------------ the project
    @property
    def store(self) -> PluginStore | None:
        """This plugin's view of the open project, or None (no project, or the plugin cannot use it)."""
        project = self._window.project
        if project is None or self.plugin.id in project.plugin_failures:
            return None
        return PluginStore(project, self.plugin.id)

    @property
    def failure(self) -> str | None:
        """Why this plugin cannot use the open project (its migration failed), or None."""
        project = self._window.project
        return project.plugin_failures.get(self.plugin.id) if project is not None else None

    # ------------------------------------------------------------------ jobs
    def start_job(self, spec):
        """Run *spec* in a worker process; returns its handle, or None (with the reason shown)."""
        if spec.plugin != self.plugin.id:
            raise ValueError(f"{self.plugin.id}'s tab cannot start a job of plugin {spec.plugin!r}")
        if self.store is None:
            self.error("Cannot run", self.failure or "Open or create a project first.")
            return None
        return self._window.start_job(spec)

    def running_jobs(self) -> list:
        return [j for j in self._window.jobs.running if j.spec.plugin == self.plugin.id]

    # -------------------------------------------------------------- messages
    def notify(self, message: str, timeout_ms: int = 8000) -> None:
        """A transient message in the status bar."""
        self._window.statusBar().showMessage(message, timeout_ms)

    def error(self, title: str, text: str) -> None:
        self._window.show_error(title, text)

    def ask(self, title: str, text: str) -> bool:
        return self._window.ask(title, text)

    def log_event(self, kind: str, message: str, data: dict | None = None) -> None:
        """An entry in the project's audit log, shown in the events dock at once."""
        store = self.store
        if store is not None:
            store.log_event(kind, message, data)
            self.changed()

    def changed(self) -> None:
        """Tell the window this tab changed the project (triage, an import): the overview,
        the events dock and the other tabs refresh."""
        self._window.refresh_all(source=self.plugin.id)
        self._window.data_changed.emit()

    def show_plugin(self, plugin_id: str) -> None:
        self._window.show_plugin_tab(plugin_id)


class PluginTab(QWidget):
    """Base of a plugin's tab. The host calls :meth:`set_project` when a project opens or closes."""

    def __init__(self, plugin, host: TabHost, parent=None):
        super().__init__(parent)
        self.plugin = plugin
        self.host = host
        self.store: PluginStore | None = None

    def set_project(self, store: PluginStore | None) -> None:
        self.store = store
        self.refresh()

    def refresh(self) -> None:
        """Reload what the tab shows from the store."""
