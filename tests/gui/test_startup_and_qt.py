"""Start-up stays light, and the Qt bindings survive many void calls."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from workbench.core.plugins import load_plugins
from workbench.core.project import Project


def run_python(code: str, tmp_path) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, WORKBENCH_SETTINGS_DIR=str(tmp_path / "settings"))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_window_appears_without_importing_torch(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path, plugins=load_plugins().plugins).close()
    out = run_python(f"""
        import sys
        from workbench.gui.app import create_window
        app, win = create_window({str(path)!r}, reopen_last=False)
        win.show()
        app.processEvents()
        print("VISIBLE", win.isVisible(), win.project is not None)
        print("TORCH", "torch" in sys.modules)
        print("PANDAS", "pandas" in sys.modules)
        win.close()
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "VISIBLE True True" in out.stdout
    assert "TORCH False" in out.stdout


def test_twenty_thousand_void_qt_calls_do_not_abort(tmp_path):
    # PySide6 6.12.0 on Python < 3.12 drops a reference to None on each void
    # call and aborts with "none_dealloc" after a few thousand of them.
    out = run_python("""
        import sys
        from PySide6.QtWidgets import QApplication, QLabel, QProgressBar
        app = QApplication([])
        label, bar = QLabel(), QProgressBar()
        refs = sys.getrefcount(None)
        for i in range(20_000):
            label.setText("x")          # void
            bar.setValue(i % 100)       # void
            label.setEnabled(i % 2 == 0)  # void
        print("DONE", sys.getrefcount(None) - refs)
    """, tmp_path)
    assert out.returncode == 0, f"aborted: {out.returncode}\\n{out.stderr[-2000:]}"
    assert "DONE" in out.stdout
