"""The main window: menus, one tab per plugin (created when first shown), docks."""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QVBoxLayout,
    QDockWidget,
    QLabel,
    QMainWindow,
    QTabWidget,
    QToolButton,
    QWidget,
)

from workbench import APP_NAME
from workbench.core import project_crypto
from workbench.core.errors import ProjectLockedError, WorkbenchError
from workbench.core.project import SUFFIX, Project
from workbench.gui.jobs_dock import JobManager, JobsDockWidget
from workbench.gui.overview import OverviewTab
from workbench.gui.theme import track_dock

# The dialogs (QFileDialog, QInputDialog, QMessageBox) are imported where they open: PySide6 builds
# each Qt class's Python enums when the class is first imported, and none opens at start-up.

MAX_RECENT = 8
FILE_FILTER = f"Workbench projects (*{SUFFIX})"
#: the events dock's height in a first window (px); afterwards the saved layout decides
EVENTS_DOCK_HEIGHT = 130
NO_MAXIMUM = 16777215  # QWIDGETSIZE_MAX


def first_window_size(available) -> tuple[int, int]:
    """The size of a first window (no saved geometry): most of the screen, up to 1600×1000, so
    that the tables and plots have room; never more than the screen offers."""
    if available is None or available.width() <= 0:
        return 1280, 820
    width = min(1600, max(min(1280, available.width()), int(available.width() * 0.9)))
    height = min(1000, max(min(820, available.height()), int(available.height() * 0.9)))
    return width, height


class _LazyTab(QWidget):
    """Stands in for a plugin tab until the tab is first shown."""

    def __init__(self, plugin):
        super().__init__()
        self.plugin = plugin


class MainWindow(QMainWindow):
    project_changed = Signal(object)
    data_changed = Signal()

    def __init__(self, registry, parent=None):
        super().__init__(parent)
        self.registry = registry
        self.project: Project | None = None
        self.jobs = JobManager(self, cluster_address=self.cluster_address)
        self.settings = QSettings()
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.resize(*first_window_size(self.screen().availableGeometry().size() if self.screen() else None))
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.overview = OverviewTab(self)
        self.tabs.addTab(self.overview, "Overview")
        # Every pillar's findings in one place, triaged the same way (third-party plugins too);
        # built when first shown or asked for (see findings_view), as the plugin tabs are.
        self._findings_view = None
        self._findings_stale = True
        self._findings_placeholder = QWidget()
        self.tabs.addTab(self._findings_placeholder, "Findings")
        for plugin in registry.plugins:
            if plugin.tab:
                self.tabs.addTab(_LazyTab(plugin), plugin.title)
        self.tabs.currentChanged.connect(self._materialise_tab)
        self._hosts: dict = {}  # plugin id -> TabHost of a materialised tab
        self.failure_banner = QLabel()
        self.failure_banner.setWordWrap(True)
        self.failure_banner.setStyleSheet("background:#f9e79f; color:#4d3b00; padding:6px;")
        self.failure_banner.hide()
        self.readonly_banner = QLabel()
        self.readonly_banner.setWordWrap(True)
        self.readonly_banner.setStyleSheet("background:#d6eaf8; color:#1b2631; padding:6px;")
        self.readonly_banner.hide()
        self.lock_box = None  # the "in use elsewhere" question (a QMessageBox), while it is open
        self.key_box = None  # the "key missing" offer (a QMessageBox), while it is open
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.failure_banner)
        column.addWidget(self.readonly_banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self._build_docks()
        self._build_menus()
        self._build_status_bar()
        self.jobs.finished.connect(self._job_finished)
        self.jobs.started.connect(lambda *_: self._update_status())
        self._events_timer = QTimer(self)
        self._events_timer.setInterval(2000)  # workers log events too; pick them up
        self._events_timer.timeout.connect(self._refresh_events)
        self._events_timer.start()
        self._restore_layout()
        self.set_project(None)
        for status in registry.failed:
            self.statusBar().showMessage(f"Plugin '{status.name}' failed to load: {status.error} "
                                         "(Help → Plugins)", 15000)

    # ------------------------------------------------------------- building
    def _build_docks(self) -> None:
        self.jobs_widget = JobsDockWidget(self.jobs)
        self.jobs_dock = track_dock(QDockWidget("Jobs", self))
        self.jobs_dock.setObjectName("jobs_dock")
        self.jobs_dock.setWidget(self.jobs_widget)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.jobs_dock)
        self._events = None  # the audit log view, built when first needed (see events)
        self.events_dock = track_dock(QDockWidget("Events", self))
        self.events_dock.setObjectName("events_dock")
        self.events_dock.setWidget(QWidget())
        self.splitDockWidget(self.jobs_dock, self.events_dock, Qt.Vertical)
        # Small until there is something to show: the jobs dock is one line while idle and grows
        # with the jobs; the central tabs keep the rest of the height.
        self._events_height: int | None = None  # the events dock's height before jobs made room
        self.jobs_widget.content_changed.connect(self._fit_jobs_dock)
        self._fit_jobs_dock(events_height=EVENTS_DOCK_HEIGHT)
        # Collapsed to status-bar indicators while idle: a dock takes height only while a job runs
        # or when the user opened it (pinned; remembered). The View menu and the indicators toggle them.
        self._docks = {"jobs": self.jobs_dock, "events": self.events_dock}
        self.pinned = {name: self.settings.value(f"docks/{name}_pinned", False, type=bool) for name in self._docks}
        self._events_seen: int | None = None  # the newest event id the user has had in view
        for name, dock in self._docks.items():
            dock.installEventFilter(self)  # its own close button unpins it
            dock.toggleViewAction().triggered.connect(lambda checked, name=name: self._pin(name, checked))
            dock.toggleViewAction().toggled.connect(lambda *_: self._update_indicators())
        self.jobs_widget.content_changed.connect(self._collapse_idle_docks)

    def _fit_jobs_dock(self, events_height: int | None = None) -> None:
        """Size the jobs dock to its content: the idle line, or the running jobs' rows. The events
        dock keeps its height (*events_height* when the window is built); the central tabs give
        or take the difference."""
        widget = self.jobs_widget
        widget.setMaximumHeight(widget.preferred_height() if widget.idle else NO_MAXIMUM)
        if not self.isVisible():  # building the window: nothing to wait for
            self._resize_jobs_dock(events_height)
            return
        if not widget.idle and self._events_height is None and self.events_dock.isVisible():
            self._events_height = self.events_dock.height()  # to give back when the jobs are done
        # Once the new maximum and the shown or hidden rows are part of the layout.
        QTimer.singleShot(0, lambda: self._resize_jobs_dock(events_height))
        if widget.idle and self._events_height is not None:
            events, self._events_height = self._events_height, None
            QTimer.singleShot(0, lambda: self._restore_events_height(events))

    def _restore_events_height(self, height: int) -> None:
        if self.events_dock.isVisible() and not self.events_dock.isFloating():
            self.resizeDocks([self.events_dock], [height], Qt.Vertical)

    def _resize_jobs_dock(self, events_height: int | None) -> None:
        if self.jobs_dock.isFloating() or self.dockWidgetArea(self.jobs_dock) != Qt.BottomDockWidgetArea:
            return
        widget = self.jobs_widget
        title = max(0, self.jobs_dock.sizeHint().height() - widget.sizeHint().height())
        docks, sizes = [self.jobs_dock], [widget.preferred_height() + title]
        if events_height and not self.events_dock.isFloating() and not self.events_dock.isHidden() \
                and self.dockWidgetArea(self.events_dock) == Qt.BottomDockWidgetArea:
            docks.append(self.events_dock)
            sizes.append(events_height)
        # One dock alone: its neighbour in the area keeps its size, the central widget adapts.
        self.resizeDocks(docks, sizes, Qt.Vertical)

    def _action(self, menu, text, slot, shortcut=None, tip=None) -> QAction:
        action = QAction(self)  # QAction(text, parent) would build QIcon's enums (its overloads take one)
        action.setText(text)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu("&File")
        self._action(m, "&New Project…", self.new_project_dialog, QKeySequence.New)
        self._action(m, "New &Encrypted Project…", self.new_encrypted_project_dialog, "Ctrl+Shift+N",
                     "A project file encrypted with SQLCipher; its random key goes to the OS keyring")
        self._action(m, "&Open Project…", self.open_project_dialog, QKeySequence.Open)
        self.recent_menu = m.addMenu("Open &Recent")
        self.close_action = self._action(m, "&Close Project", self.close_project, QKeySequence.Close)
        m.addSeparator()
        self.export_action = self._action(m, "&Export PDF…", self.export_pdf_dialog, "Ctrl+E",
                                          "Write the PDF summary of this project")
        m.addSeparator()
        self._action(m, "&Import Project Key…", self.import_key_dialog, None,
                     "Add the key of an encrypted project (a .wbkey file and its passphrase) to this machine")
        self.export_key_action = self._action(m, "E&xport Project Key…", self.export_key_dialog, None,
                                              "Write this encrypted project's key to a file, under a passphrase")
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.Quit)

        m = bar.addMenu("&Edit")
        self._action(m, "&Find in Events", self._focus_events_filter, QKeySequence.Find)

        m = bar.addMenu("&View")
        m.addAction(self.jobs_dock.toggleViewAction())
        m.addAction(self.events_dock.toggleViewAction())
        m.addSeparator()
        self._action(m, "&Refresh", self.refresh_all, QKeySequence.Refresh)
        self._action(m, "Reset &Layout", self.reset_layout)
        self._build_theme_menu(m.addMenu("&Theme"))
        m.addSeparator()
        # Window-wide shortcuts, so that they work while a table (which eats Ctrl+Tab and
        # Ctrl+PgDn for its own cursor) has the focus.
        self.next_tab_action = self._action(m, "&Next Tab", lambda: self.step_tab(1))
        self.next_tab_action.setShortcuts([QKeySequence("Ctrl+Tab"), QKeySequence("Ctrl+PgDown")])
        self.previous_tab_action = self._action(m, "&Previous Tab", lambda: self.step_tab(-1))
        self.previous_tab_action.setShortcuts([QKeySequence("Ctrl+Shift+Tab"), QKeySequence("Ctrl+PgUp")])

        m = bar.addMenu("&Run")
        self.cancel_all_action = self._action(m, "&Cancel All Jobs", self.jobs.cancel_all, "Ctrl+Shift+X")

        m = bar.addMenu("&Settings")
        self.credentials_action = self._action(m, "&Credentials…", self.show_credentials)
        self._action(m, "C&luster…", self.show_cluster, None,
                     "A Ray cluster for the commands' --ray: its address, a connection test, its nodes")

        m = bar.addMenu("&Help")
        self._action(m, "&Plugins…", self.show_plugins)
        self._action(m, "&About", self.show_about)
        self._refresh_recent_menu()

    def _build_theme_menu(self, menu) -> None:
        group = QActionGroup(self)
        group.setExclusive(True)
        current = QApplication.instance().property("workbench_theme_mode") or "system"
        self.theme_actions: dict[str, QAction] = {}
        for mode, text in (("system", "Follow &System"), ("light", "&Light"), ("dark", "&Dark")):
            action = QAction(self)  # (see _action)
            action.setText(text)
            action.setCheckable(True)
            action.setChecked(mode == current)
            action.triggered.connect(lambda _checked=False, mode=mode: self.set_theme(mode))
            group.addAction(action)
            menu.addAction(action)
            self.theme_actions[mode] = action

    def set_theme(self, mode: str) -> None:
        """Switch to 'system', 'light' or 'dark' now, and open in it next time."""
        from workbench.gui.theme import apply_theme, follow_system

        app = QApplication.instance()
        apply_theme(app, mode)
        if mode == "system":
            follow_system(app)
        self.theme_actions[mode].setChecked(True)
        self.settings.setValue("theme", mode)
        self.settings.sync()

    def _build_status_bar(self) -> None:
        self.status_mode = QLabel("READ-ONLY")
        self.status_mode.setToolTip("This project is open read-only: nothing can be run, triaged or stored")
        self.status_mode.setStyleSheet("background:#1f618d; color:white; font-weight:bold; padding:1px 6px;")
        self.status_mode.hide()
        self.status_encrypted = QLabel("ENCRYPTED")
        self.status_encrypted.setStyleSheet("background:#1e8449; color:white; font-weight:bold; padding:1px 6px;")
        self.status_encrypted.hide()
        self.status_path = QLabel()
        self.status_path.setContentsMargins(16, 0, 0, 0)  # a gap after a long status message cut off there
        self.status_schema = QLabel()
        # The docks' indicators: what they would show, and a click opens (pins) or closes them.
        self.status_jobs = self._indicator("jobs", "Show or hide the Jobs dock (it opens by itself while a job runs)")
        self.status_events = self._indicator("events", "Show or hide the audit log (Events dock)")
        for w in (self.status_mode, self.status_encrypted, self.status_path, self.status_schema, self.status_jobs,
                  self.status_events):
            self.statusBar().addPermanentWidget(w)
        self._update_indicators()

    def _indicator(self, name: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setAutoRaise(True)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.setObjectName(f"{name}_indicator")
        # The dock's own view action: Qt shows or hides the dock, and its `triggered` pins it.
        button.clicked.connect(lambda *_: self._docks[name].toggleViewAction().trigger())
        return button

    # ---------------------------------------------------------------- docks
    def _pin(self, name: str, pinned: bool) -> None:
        """The user opened (pinned) or closed a dock: it stays so, in this window and the next."""
        self.pinned[name] = bool(pinned)
        self.settings.setValue(f"docks/{name}_pinned", bool(pinned))
        if name == "jobs" and pinned:
            self._fit_jobs_dock()
        if name == "events" and pinned:
            self._refresh_events()  # filled now (it is not while collapsed) and its entries seen
        self._update_indicators()

    def set_dock_open(self, name: str, show: bool) -> None:
        """Open or collapse a dock on the user's behalf, as its indicator does (pinning it or not)."""
        action = self._docks[name].toggleViewAction()
        if action.isChecked() != show:
            action.trigger()

    def _collapse_idle_docks(self) -> None:
        """A job started: the jobs dock opens; all ended: it collapses again unless pinned."""
        widget = self.jobs_widget
        if not widget.idle and self.jobs_dock.isHidden():
            self.jobs_dock.show()
            self._fit_jobs_dock()
        elif widget.idle and not self.pinned["jobs"] and not self.jobs_dock.isHidden():
            self.jobs_dock.hide()
        self._update_indicators()

    def _apply_pins(self) -> None:
        """At start (after the saved layout): only pinned docks, and the jobs dock while jobs run, take room."""
        self.events_dock.setVisible(self.pinned["events"])
        self.jobs_dock.setVisible(self.pinned["jobs"] or not self.jobs_widget.idle)
        self._update_indicators()

    @property
    def events(self):
        """The Events dock's view of the audit log (an :class:`~workbench.gui.events_dock.EventsDockWidget`),
        built the first time it is needed: a window starts with the dock collapsed."""
        if self._events is None:
            from workbench.gui.events_dock import EventsDockWidget

            self._events = EventsDockWidget()
            placeholder = self.events_dock.widget()
            self.events_dock.setWidget(self._events)
            if placeholder is not None:
                placeholder.deleteLater()
        return self._events

    def _refresh_events(self, force: bool = False) -> None:
        """New audit-log entries: into the dock when it is open (then they are seen), else counted."""
        if (self.events_dock.isVisible() and self.project is not None) or (force and self._events is not None):
            self.events.refresh(force=force)
        self._update_indicators()

    def new_events(self) -> int:
        """Entries added to the audit log since the user last had the Events dock open."""
        project = self.project
        if project is None or project.conn is None or self._events_seen is None:
            return 0
        if self.events_dock.isVisible():
            self._events_seen = self.events._last_id if self.events._last_id is not None else self._events_seen
            return 0
        top = project.last_event_id() or 0
        return max(0, top - self._events_seen)  # ids grow by one per entry (an append-only chain)

    def _update_indicators(self) -> None:
        if not hasattr(self, "status_events"):
            return
        n = len(self.jobs.running)
        self.status_jobs.setText(f"Jobs: {n} running" if n else "Jobs: idle")
        self.status_jobs.setChecked(not self.jobs_dock.isHidden())
        new = self.new_events()
        self.status_events.setText(f"Events: {new} new" if new else "Events")
        self.status_events.setChecked(not self.events_dock.isHidden())
        bold = "font-weight:bold;" if new else ""
        self.status_events.setStyleSheet(bold)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Close and obj in (self.jobs_dock, self.events_dock):
            name = "jobs" if obj is self.jobs_dock else "events"
            self.pinned[name] = False  # closed with its own button: collapsed from now on
            self.settings.setValue(f"docks/{name}_pinned", False)
            QTimer.singleShot(0, self._update_indicators)
        return super().eventFilter(obj, event)

    def step_tab(self, step: int) -> None:
        """Show the next (+1) or previous (-1) tab, wrapping around."""
        n = self.tabs.count()
        if n:
            self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % n)

    # ------------------------------------------------------------- projects
    def set_project(self, project: Project | None, defer_log: bool = False):
        """Show *project* everywhere; returns the audit log check made on the way (or None).
        *defer_log*: the caller walks the audit log later (:meth:`_check_log`), after a first paint."""
        self.project = project
        self.close_action.setEnabled(project is not None)
        self.export_action.setEnabled(project is not None)
        self.credentials_action.setEnabled(project is not None)
        encrypted = bool(project is not None and project.encrypted)
        self.export_key_action.setEnabled(encrypted)
        self.status_encrypted.setVisible(encrypted)
        if encrypted:
            self.status_encrypted.setToolTip(f"Encrypted with SQLCipher; key id {project.key_id} in this machine's "
                                             "secrets backend")
        readonly = self.readonly
        title = f"{APP_NAME} — {project.path.name}" if project else APP_NAME
        self.setWindowTitle(f"{title} (read-only)" if readonly else title)
        self.status_mode.setVisible(readonly)
        self.readonly_banner.setText(
            "Read-only: this copy is open for viewing only (another workbench process may be writing it). "
            "Nothing can be run, triaged or stored here; close it there and open it again to make changes."
            if readonly else "")
        self.readonly_banner.setVisible(readonly)
        self.overview.set_project(project)
        self._refresh_findings()
        if self._findings_view is not None:
            self._findings_view.set_read_only(readonly or project is None)
        chain = None
        if not defer_log and (project is not None or self._events is not None):
            chain = self.events.set_project(project)
            self._events_seen = self.events._last_id or 0  # what the project holds when opened is not "new"
        for plugin_id, host in self._hosts.items():
            store = host.store
            if not self.readonly:
                host.apply_read_only()  # give controls back first: the tab then sets them as it likes
            host.tab.set_project(store)
            host.project_changed.emit(store)
            host.apply_read_only()
        self._show_plugin_failures(project)
        self.project_changed.emit(project)
        self._update_status()
        return chain

    @property
    def readonly(self) -> bool:
        return self.project is not None and bool(getattr(self.project, "readonly", False))

    def open_project(self, path: str | Path, readonly: bool = False, *, log_later: bool = False) -> bool:
        """Open *path*; on failure show why and keep the current project. When another process
        holds it for writing, offer to open it read-only (a non-blocking question).

        *log_later* (start-up): the Overview is shown first; the audit log's hash chain is walked
        (and the Events dock filled) right after, as the next event of the loop."""
        current = self.project
        if current is not None and current.conn is not None and bool(current.readonly) == readonly \
                and Path(path).resolve() == current.path.resolve():
            # Already open here (a recent entry, a drop, File → Open of the same file): this process holds
            # its lock, so opening it again would report it "in use" by ourselves.
            self.statusBar().showMessage(f"{current.path.name} is already open", 5000)
            return True
        try:
            project = Project.open(path, readonly=readonly, plugins=self.registry.plugins)
        except ProjectLockedError as exc:
            self._offer_read_only(path, exc)
            return False
        except project_crypto.ProjectKeyMissingError as exc:
            self._offer_key_import(path, exc)
            return False
        except WorkbenchError as exc:
            self.show_error("Cannot open project", str(exc))
            return False
        if not self.close_project():
            project.close()
            return False
        chain = self.set_project(project, defer_log=log_later)  # the events dock walks the hash chain once
        self._add_recent(str(project.path.resolve()))
        if project.readonly:
            self.statusBar().showMessage(f"Opened {project.path.name} read-only", 8000)
        if log_later:
            QTimer.singleShot(0, lambda: self._check_log(project))
        else:
            self._warn_if_tampered(project, chain)
        return True

    def _check_log(self, project) -> None:
        """The audit log of *project* (still the one open): its chain walked, the dock filled, a warning if broken."""
        if project is not self.project or project.conn is None:
            return
        chain = self.events.set_project(project)
        self._events_seen = self.events._last_id or 0
        self._update_indicators()
        self._warn_if_tampered(project, chain)

    def _warn_if_tampered(self, project, chain) -> None:
        if chain is not None and not chain.ok:
            self.events_dock.show()  # its banner says what broke, collapsed or not (not pinned: it goes with Reset)
            self._update_indicators()
            self.show_error("Audit log tampered with",
                            f"{project.path}: {chain.message}. The first broken entry is {chain.first_broken_id}. "
                            "Results may have been altered outside the workbench.", warning=True)

    def open_after_first_paint(self, path: str | Path, readonly: bool = False) -> None:
        """Start-up: the window paints first (menus, tabs, an empty Overview), then opens *path*
        and shows its Overview; the audit log comes after that (see :meth:`open_project`)."""
        class FirstPaint(QObject):
            def eventFilter(filter_, obj, event) -> bool:
                if event.type() == QEvent.Paint:
                    obj.removeEventFilter(filter_)
                    filter_.deleteLater()
                    QTimer.singleShot(0, lambda: self.open_project(path, readonly=readonly, log_later=True))
                return False

        self.tabs.tabBar().installEventFilter(FirstPaint(self))

    def _offer_read_only(self, path, exc: ProjectLockedError) -> None:
        """The lock message says "open this copy read-only": offer exactly that, as a button."""
        self._offer("lock_box", "Project in use", exc,
                    "A read-only view shows everything in it; running and triage are off.",
                    "Open read-only", lambda: self.open_project(path, readonly=True))

    def _offer_key_import(self, path, exc: project_crypto.ProjectKeyMissingError) -> None:
        """An encrypted project whose key is not here: say which key, and offer to import its key file."""
        self._offer("key_box", "Project key missing", exc,
                    "The project's owner writes the key file with File → Export Project Key… "
                    "(or `workbench key export`) and tells you its passphrase.",
                    "Import Key File…", lambda: self.import_key_dialog(then_open=path))

    def _offer(self, attr: str, title: str, exc: Exception, informative: str, action: str, on_accept) -> None:
        """Why a project did not open, with the one way forward as the default button. The box is kept in
        ``self.<attr>`` while it is open (one at a time) and never blocks (tests, offscreen)."""
        from PySide6.QtWidgets import QMessageBox

        self.statusBar().showMessage(str(exc), 15000)
        if getattr(self, attr) is not None:
            getattr(self, attr).close()
        box = QMessageBox(QMessageBox.Warning, title, str(exc), parent=self)
        box.setInformativeText(informative)
        accept = box.addButton(action, QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(accept)
        box.setWindowModality(Qt.WindowModal)
        box.setAttribute(Qt.WA_DeleteOnClose)

        def chosen(button) -> None:
            setattr(self, attr, None)
            if button is accept:
                on_accept()

        box.buttonClicked.connect(chosen)
        box.rejected.connect(lambda: setattr(self, attr, None))
        setattr(self, attr, box)
        box.open()  # not exec(): a window with no one at it (tests, offscreen) is never blocked

    def import_project_key(self, key_file: str | Path, passphrase: str) -> str | None:
        """Store the key of a key file in this machine's secrets backend; its key id, or None (error shown)."""
        try:
            key_id, key, _ = project_crypto.read_key_file(Path(key_file), passphrase)
            project_crypto.store_key(key_id, key)
        except WorkbenchError as exc:
            self.show_error("Cannot import the key", str(exc))
            return None
        self.statusBar().showMessage(f"Imported the project key {key_id}", 8000)
        return key_id

    def export_project_key(self, out: str | Path, passphrase: str) -> bool:
        from workbench.core.files import check_writable_target

        project = self.project
        try:
            out = check_writable_target(out)
            project_crypto.write_key_file(out, key_id=project.key_id, key=project_crypto.key_by_id(project.key_id, project.path),
                                          project_name=project.name, passphrase=passphrase)
            if not project.readonly:
                project.log_event("file", f"project key exported to {out.name}", data={"key_id": project.key_id})
                self.events.refresh()  # the events dock shows the export at once
        except WorkbenchError as exc:
            self.show_error("Cannot export the key", str(exc))
            return False
        self.statusBar().showMessage(f"Wrote the key file {out}", 8000)
        return True

    def _ask_passphrase(self, prompt: str) -> str | None:
        from PySide6.QtWidgets import QInputDialog, QLineEdit

        text, ok = QInputDialog.getText(self, "Passphrase", prompt, QLineEdit.Password)
        return text if ok else None

    def import_key_dialog(self, then_open=None) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Import project key", str(Path.home()),
                                              "Project keys (*.wbkey);;All files (*)")
        passphrase = self._ask_passphrase(f"Passphrase of {Path(path).name}:") if path else None
        if passphrase is not None and self.import_project_key(path, passphrase) and then_open:
            self.open_project(then_open)

    def export_key_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        if self.project is None or not self.project.encrypted:
            return
        suggested = str(self.project.path.with_suffix(project_crypto.KEY_FILE_SUFFIX))
        path, _ = QFileDialog.getSaveFileName(self, "Export project key", suggested, "Project keys (*.wbkey)")
        if not path:
            return
        first = self._ask_passphrase("Passphrase for the key file (tell the reviewer another way):")
        if first is None:
            return
        if self._ask_passphrase("The same passphrase again:") != first:
            self.show_error("Cannot export the key", "The two passphrases differ; nothing was written.")
            return
        self.export_project_key(path, first)

    def new_project(self, path: str | Path, encrypted: bool = False) -> bool:
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        if not self.close_project():
            return False
        try:
            project = Project.create(path, plugins=self.registry.plugins, encrypted=encrypted)
        except WorkbenchError as exc:
            self.show_error("Cannot create project", str(exc))
            return False
        self.set_project(project)
        self._add_recent(str(project.path.resolve()))
        return True

    def close_project(self) -> bool:
        if self.project is None:
            return True
        if self.jobs.running:
            if self.ask("Jobs are running", "Cancel the running jobs and close the project?") is False:
                return False
            self.jobs.wait_all()
        project = self.project
        self.set_project(None)
        project.close()
        return True

    def new_project_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, "New project", str(Path.home() / f"assessment{SUFFIX}"),
                                              FILE_FILTER)
        if path:
            self.new_project(path)

    def new_encrypted_project_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, "New encrypted project",
                                              str(Path.home() / f"assessment{SUFFIX}"), FILE_FILTER)
        if path:
            self.new_project(path, encrypted=True)

    def open_project_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(Path.home()), FILE_FILTER)
        if path:
            self.open_project(path)

    # --------------------------------------------------------------- recent
    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent")  # None if unset (a [] default builds QByteArray's enums: ~0.5 ms)
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if v]

    def _add_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent_projects() if p != path]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.settings.setValue("last_project", path)
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_projects()
        for i, path in enumerate(recent):
            action = self.recent_menu.addAction(f"&{i + 1} {path}")
            action.triggered.connect(lambda _=False, p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(recent))

    # ---------------------------------------------------------------- tabs
    @property
    def findings_view(self):
        """The Findings tab (a :class:`~workbench.gui.findings_view.FindingsView` over every pillar),
        built the first time it is shown or asked for."""
        if self._findings_view is None:
            from workbench.gui.findings_view import FindingsView

            view = FindingsView(self._latest_findings, self._triage_findings,
                                titles={p.id: p.title for p in self.registry.plugins})
            index = self.tabs.indexOf(self._findings_placeholder)
            current = self.tabs.currentIndex()
            self.tabs.blockSignals(True)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, view, "Findings")
            self.tabs.setCurrentIndex(current)
            self.tabs.blockSignals(False)
            self._findings_placeholder.deleteLater()
            self._findings_view = view
            view.set_read_only(self.readonly or self.project is None)
            view.refresh()
            self._findings_stale = False
        return self._findings_view

    def _refresh_findings(self) -> None:
        """The Findings tab reads every latest finding: now when it is shown, else when it next is."""
        view = self._findings_view
        self._findings_stale = view is None or self.tabs.currentWidget() is not view
        if not self._findings_stale:
            view.refresh()

    def _materialise_tab(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget is self._findings_placeholder:
            self.findings_view  # noqa: B018 (built, filled and shown now)
            return
        if widget is self._findings_view and self._findings_stale:
            self._refresh_findings()
        placeholder = self.tabs.widget(index)
        if not isinstance(placeholder, _LazyTab):
            return
        plugin = placeholder.plugin
        from workbench.gui.api import TabHost

        host = TabHost(self, plugin)
        try:
            module_name, _, cls_name = plugin.tab.partition(":")
            tab_cls = getattr(importlib.import_module(module_name), cls_name)
            tab = tab_cls(plugin, host)
        except Exception as exc:  # a broken tab leaves the rest of the window usable
            host.deleteLater()
            tab = QLabel(f"The {plugin.title} tab failed to load:\n{type(exc).__name__}: {exc}")
            tab.setAlignment(Qt.AlignCenter)
            tab.plugin = plugin
        else:
            host.tab = tab
            self._hosts[plugin.id] = host
        self.tabs.blockSignals(True)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, tab, plugin.title)
        self.tabs.setCurrentIndex(index)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()
        if plugin.id in self._hosts:
            tab.set_project(self._hosts[plugin.id].store)
            self._hosts[plugin.id].apply_read_only()

    def tab_for(self, plugin_id: str) -> QWidget | None:
        """The plugin's tab, created now if it was never shown."""
        for i in range(self.tabs.count()):
            w = self.tabs.widget(i)
            if getattr(w, "plugin", None) is not None and w.plugin.id == plugin_id:
                if isinstance(w, _LazyTab):
                    self.tabs.setCurrentIndex(i)
                    return self.tabs.widget(i)
                return w
        return None

    def show_cluster(self) -> None:
        from workbench.gui.cluster_dialog import ClusterDialog

        ClusterDialog(self, self.settings).exec()

    def cluster_address(self) -> str | None:
        """Settings → Cluster: jobs started from here run their tasks on this Ray cluster (as the
        CLI's ``--ray``); None: on this machine (and Ray is never imported)."""
        from workbench.gui.cluster_dialog import SETTING

        return str(self.settings.value(SETTING, "") or "").strip() or None

    def show_plugin_tab(self, plugin_id: str) -> QWidget | None:
        """Show the plugin's tab (built now if it never was) and return it."""
        tab = self.tab_for(plugin_id)
        if tab is not None:
            self.tabs.setCurrentWidget(tab)
        return tab

    def _show_plugin_failures(self, project) -> None:
        failures = project.plugin_failures if project is not None else {}
        if not failures:
            self.failure_banner.hide()
            return
        self.failure_banner.setText("⚠ " + "; ".join(
            f"plugin '{pid}' cannot use this project ({why}): its tab and commands are off for it"
            for pid, why in failures.items()) + ". The other plugins work as usual.")
        self.failure_banner.show()

    # ---------------------------------------------------------------- jobs
    def start_job(self, spec):
        if self.project is None:
            self.show_error("No project", "Open or create a project first.")
            return None
        if self.readonly:
            self.show_error("Read-only project", f"{self.project.path.name} is open read-only: nothing can run "
                            "in it. Close it where it is open for writing, then open it again here.")
            return None
        return self.jobs.start(self.project, spec)

    def _job_finished(self, job) -> None:
        self._update_status()
        if job.status == "failed":
            self.statusBar().showMessage(f"{job.spec.title}: failed: {str(job.result).splitlines()[0]}", 15000)
        else:
            self.statusBar().showMessage(f"{job.spec.title}: {job.status}", 8000)
        self.refresh_all()
        self.data_changed.emit()

    def refresh_all(self, source: str | None = None) -> None:
        """Reload the overview, the events and every tab but *source* (which refreshed itself)."""
        self.overview.refresh()
        self._refresh_findings()
        self._refresh_events(force=True)
        for plugin_id, host in self._hosts.items():
            if plugin_id != source:
                host.tab.refresh()

    def _latest_findings(self) -> list[dict]:
        """Findings of the latest run of every target, of the plugins that can use the project."""
        project = self.project
        if project is None or project.conn is None:
            return []
        from workbench.core.report import latest_findings

        return [f for f in latest_findings(project) if f["plugin"] not in project.plugin_failures]

    def _triage_findings(self, findings: list[dict], status: str, justification: str) -> None:
        """Store a triage decision made in the Findings tab, per plugin (each goes into the audit log)."""
        if self.project is None or self.readonly:
            raise ValueError("the project is open read-only")
        by_plugin: dict[str, list[str]] = {}
        for f in findings:
            by_plugin.setdefault(f["plugin"], []).append(f["fingerprint"])
        for plugin_id, fingerprints in by_plugin.items():
            self.project.set_triage(fingerprints, status, justification, plugin=plugin_id)
        self.refresh_all()
        self.data_changed.emit()

    def _update_status(self) -> None:
        if self.project is None:
            self.status_path.setText("no project")
            self.status_schema.setText("")
        else:
            # The name only: a long path pushed the status messages out of sight. The tooltip has it whole.
            self.status_path.setText(self.project.path.name)
            self.status_path.setToolTip(str(self.project.path))
            self.status_schema.setText(f"schema {self.project.schema_version}")
        self._update_indicators()

    # -------------------------------------------------------------- report
    def export_pdf(self, path: str | Path) -> int:
        """The full report as a signed PDF (the same code as ``workbench report``)."""
        from workbench.render.commands import write_report

        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            result = write_report(self.project, self.registry, Path(path), fmt="pdf")
            pages = result["pages"]
            if not self.readonly:  # a read-only view cannot add to the audit log
                self.project.log_event("report", f"PDF exported to {Path(path).name} ({pages} pages)",
                                       data={"state_sha256": result["report"].state_sha256,
                                             "content_sha256": result["content_sha256"],
                                             "signed": bool(result["sig"])})
        finally:
            QApplication.restoreOverrideCursor()
        self.events.refresh()
        signed = "signed" if result["sig"] else f"unsigned: {result['reason']}"
        self.statusBar().showMessage(f"Wrote {path} ({pages} pages, {signed})", 8000)
        return pages

    def export_pdf_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        if self.project is None:
            return
        default = self.project.path.with_suffix(".pdf")
        path, _ = QFileDialog.getSaveFileName(self, "Export PDF", str(default), "PDF (*.pdf)")
        if path:
            try:
                self.export_pdf(path)
            except (OSError, WorkbenchError) as exc:
                self.show_error("Export failed", str(exc))

    # ------------------------------------------------------------- dialogs
    def show_credentials(self) -> None:
        from workbench.gui.dialogs import CredentialsDialog

        if self.project is not None:
            CredentialsDialog(self.project, self).exec()

    def show_plugins(self) -> None:
        from workbench.gui.dialogs import PluginsDialog

        PluginsDialog(self.registry, self, project=self.project).exec()

    def show_about(self) -> None:
        from workbench.gui.dialogs import AboutDialog

        AboutDialog(self, registry=self.registry).exec()

    def _focus_events_filter(self) -> None:
        self.set_dock_open("events", True)
        self.events.filter.setFocus()

    def show_error(self, title: str, text: str, warning: bool = False) -> None:
        self.statusBar().showMessage(text, 15000)
        if QApplication.platformName() == "offscreen":
            return  # no one to click OK (tests, headless runs): the status bar says it
        from PySide6.QtWidgets import QMessageBox

        (QMessageBox.warning if warning else QMessageBox.critical)(self, title, text)

    def ask(self, title: str, text: str) -> bool:
        if QApplication.platformName() == "offscreen":
            return True
        from PySide6.QtWidgets import QMessageBox

        return QMessageBox.question(self, title, text) == QMessageBox.Yes

    # -------------------------------------------------- drag & drop, layout
    def dragEnterEvent(self, event) -> None:
        if any(u.toLocalFile().endswith(SUFFIX) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.toLocalFile().endswith(SUFFIX):
                self.open_project(url.toLocalFile())
                event.acceptProposedAction()
                return

    def _restore_layout(self) -> None:
        geometry = self.settings.value("geometry")
        state = self.settings.value("window_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
            # No job runs at start: whatever was saved, the jobs dock is one line (the saved
            # events dock height stands; nothing is laid out yet to measure it by).
            self.jobs_widget.setMaximumHeight(self.jobs_widget.preferred_height())
        self._apply_pins()  # the saved layout's sizes; open only what is pinned

    def save_layout(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.sync()

    def reset_layout(self) -> None:
        """Both docks at the bottom, collapsed to their indicators (unpinned), the jobs dock open while jobs run."""
        for dock in (self.jobs_dock, self.events_dock):
            dock.setFloating(False)
            dock.show()
            self.addDockWidget(Qt.BottomDockWidgetArea, dock)
        self.splitDockWidget(self.jobs_dock, self.events_dock, Qt.Vertical)
        self._fit_jobs_dock(events_height=EVENTS_DOCK_HEIGHT)
        for name in self._docks:
            self.pinned[name] = False
            self.settings.setValue(f"docks/{name}_pinned", False)
        self._apply_pins()

    def changeEvent(self, event) -> None:
        # Charts are images: redraw them when the palette (light/dark) changes.
        if event.type() == QEvent.PaletteChange:
            # with self as context: dropped if the window is deleted first (it ran on deleted labels)
            QTimer.singleShot(0, self, self.refresh_all)
        super().changeEvent(event)

    def closeEvent(self, event) -> None:
        if not self.close_project():
            event.ignore()
            return
        self.save_layout()
        event.accept()
