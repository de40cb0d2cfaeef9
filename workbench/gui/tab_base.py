"""What every plugin tab gets from the window, and must offer back."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


class PluginTab(QWidget):
    """Base of a plugin's tab. The window calls :meth:`set_project` on open/close.

    ``window`` offers ``project``, ``jobs`` (the JobManager), ``registry`` and
    ``project_changed`` / ``data_changed`` signals.
    """

    def __init__(self, plugin, window, parent=None):
        super().__init__(parent)
        self.plugin = plugin
        self.window_ = window
        self.project = None

    def set_project(self, project) -> None:
        self.project = project
        self.refresh()

    def refresh(self) -> None:
        """Reload what the tab shows from the project."""
