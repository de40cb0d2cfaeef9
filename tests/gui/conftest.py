"""The window fixture every GUI test uses: a real main window with its own settings folder."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings_dir(tmp_path, monkeypatch):
    folder = tmp_path / "settings"
    folder.mkdir()
    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(folder))
    return folder


@pytest.fixture
def window(qtbot, settings_dir):
    from workbench.gui.app import create_window
    from workbench.gui.theme import apply_theme

    app, win = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.jobs.wait_all()
    win.close_project()
    apply_theme(app, "light")  # a test that switched to dark leaves the next one in light
