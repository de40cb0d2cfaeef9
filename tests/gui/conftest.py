"""Fixtures of the window tests."""

from __future__ import annotations

import pytest

from test_main_window import make_project


@pytest.fixture
def read_only_window(tmp_path, qtbot, settings_dir):
    """The window at 1280×800 (light) on a project with 12 findings opened read-only; the project's
    path is ``window.project.path`` while it is open."""
    from workbench.gui.api import open_window

    path = make_project(tmp_path / "ro.wbproj", n_findings=12)
    window = open_window(path, read_only=True, size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    assert window.readonly
    yield window
    window.jobs.wait_all()
    window.close_project()
