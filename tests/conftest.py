"""Test-wide settings, applied at import time so that every subprocess and
worker process started by a test inherits them:

* Qt renders offscreen (no display needed);
* secrets go to an in-memory keyring, never the real OS keyring;
* ``tests/core`` is importable by plain module name (``wb_core_testjobs``),
  so that spawned job workers and ``python -m workbench`` subprocesses can
  resolve job references defined by the tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_TESTS = REPO_ROOT / "tests" / "core"

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYTHON_KEYRING_BACKEND"] = "workbench.core.secrets.MemoryKeyring"


def _prepend_path(var: str, entry: Path) -> None:
    parts = [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    if str(entry) not in parts:
        os.environ[var] = os.pathsep.join([str(entry), *parts])


_prepend_path("PYTHONPATH", CORE_TESTS)
if str(CORE_TESTS) not in sys.path:
    sys.path.insert(0, str(CORE_TESTS))


@pytest.fixture(scope="session", autouse=True)
def _one_widgets_application():
    """A QApplication before any test runs: the report renderer alone makes a QGuiApplication
    (no widgets), and a window test that ran after it in the same process then had no style."""
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


@pytest.fixture
def tmp_project(tmp_path):
    """A freshly created project (open for writing) in tmp_path; closed afterwards."""
    from workbench.core.project import Project

    project = Project.create(tmp_path / "test.wbproj", name="test project")
    try:
        yield project
    finally:
        project.close()


# The window every GUI test uses: a real main window with its own settings folder.
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
