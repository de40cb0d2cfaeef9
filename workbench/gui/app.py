"""Start the GUI: application object, theme, window, last project."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from workbench import APP_NAME, __version__

# Qt is imported inside the functions: create_window() imports the core and the plugins first,
# because PySide6 reads the source of every module imported after it (its __feature__ check).

ORG = "ai-security-workbench"
THEMES = ("system", "light", "dark")


def configure_settings() -> None:
    """QSettings under our names; ``WORKBENCH_SETTINGS_DIR`` isolates them (tests, portable use)."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setOrganizationName(ORG)
    QCoreApplication.setApplicationName("workbench")
    folder = os.environ.get("WORKBENCH_SETTINGS_DIR")
    if folder:
        QSettings.setDefaultFormat(QSettings.IniFormat)
        QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, folder)


def saved_theme() -> str:
    """The theme chosen in View → Theme ('system' until one is chosen)."""
    from PySide6.QtCore import QSettings

    value = str(QSettings().value("theme", "system"))
    return value if value in THEMES else "system"


def make_app(theme: str | None = None):
    """The QApplication, themed; *theme* None: the one saved from View → Theme."""
    from workbench.core import netguard  # before Qt, as the core modules (see above)

    from PySide6.QtWidgets import QApplication

    from workbench.gui.theme import BASE_STYLE, apply_theme, follow_system

    netguard.install()
    configure_settings()
    app = QApplication.instance()
    if app is None:
        # The style by name, as QApplication reads it from its arguments: QApplication.setStyle
        # would build QStyle's Python enums (~5 ms; see theme.BASE_STYLE).
        app = QApplication((sys.argv[:1] or ["workbench"]) + ["-style", BASE_STYLE])
        app.setProperty("workbench_styled", True)
    theme = theme or saved_theme()
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    apply_theme(app, theme)
    if theme == "system":
        follow_system(app)
    return app


def create_window(project: str | None = None, theme: str | None = None, reopen_last: bool = True,
                  readonly: bool = False, open_after_paint: bool = False):
    """Build the window (shown by the caller). Used by :func:`run_gui`, tests and benchmarks.

    *open_after_paint*: the project opens once the window has painted (start-up: the window
    appears at once, its Overview a moment later); else it is open when this returns."""
    from workbench.core.plugins import load_plugins

    registry = load_plugins()  # before Qt (see above), as the modules the window opens projects with
    # (the window's core modules too: the Overview's summary helpers and plugin stores, the jobs
    # dock's progress; the report itself is imported after the first paint)
    from workbench.core import plugin_store, progress, project as _project, summary
    del plugin_store, progress, _project, summary

    app = make_app(theme)
    from workbench.gui.main_window import MainWindow

    window = MainWindow(registry)
    path = project
    if path is None and reopen_last:
        last = window.settings.value("last_project")
        if last and Path(str(last)).exists():
            path = str(last)
    if path and open_after_paint:
        window.open_after_first_paint(path, readonly=readonly)
    elif path:
        window.open_project(path, readonly=readonly)
    return app, window


def run_gui(project: str | None = None, theme: str | None = None, readonly: bool = False) -> int:
    app, window = create_window(project, theme, readonly=readonly, open_after_paint=True)
    window.show()
    return app.exec()
