"""The tab SDK: what a plugin's Qt tab imports from the workbench, and nothing else.

A tab is a :class:`PluginTab` built as ``TabClass(plugin, host)``. The
:class:`TabHost` is its only way to the window: the project (as the plugin's
store), starting and cancelling jobs, messages, and signals. Documented in
``docs/plugins.md``.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from workbench.core.plugin_store import PluginStore
from workbench.gui.findings_model import STATUSES, FindingFilter, FindingsModel
from workbench.gui.overview import ChartLabel
from workbench.gui.theme import is_dark

__all__ = ["STATUSES", "ChartLabel", "FindingFilter", "FindingsModel", "PluginTab", "TabHost", "draw_chart",
           "is_dark"]


def draw_chart(chart, width: int, height: int):
    """A report chart block (BarChart or LineChart) painted as a QImage in the current theme."""
    from workbench.core.report import LineChart
    from workbench.render.pdf import draw_bar_chart, draw_line_chart

    paint = draw_line_chart if isinstance(chart, LineChart) else draw_bar_chart
    return paint(chart, width, height, dark=is_dark())


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
