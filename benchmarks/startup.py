"""Time to a shown main window with a project open, against a bare PySide6 window.

``python benchmarks/startup.py [RUNS]`` prints the median of RUNS (default 5)
fresh processes for each, and the ratio. Each process measures from its own
start (interpreter start-up included, via the process's creation time).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WORKBENCH = """
import time, psutil, sys
t0 = psutil.Process().create_time()
from workbench.gui.app import create_window
app, win = create_window(sys.argv[1], reopen_last=False)
win.show(); app.processEvents()
print(time.time() - t0, "torch" in sys.modules)
"""
BARE = """
import time, psutil
t0 = psutil.Process().create_time()
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([]); win = QMainWindow(); win.resize(1280, 820)
win.show(); app.processEvents()
print(time.time() - t0, False)
"""


def measure(code: str, arg: str, env: dict) -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, env=env, check=True)
    seconds, torch = out.stdout.split()
    return float(seconds), torch == "True"


def main(runs: int = 5) -> None:
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    tmp = Path(tempfile.mkdtemp(prefix="wb-startup-"))
    project = tmp / "bench.wbproj"
    Project.create(project, plugins=load_plugins().plugins).close()
    env = dict(os.environ, WORKBENCH_SETTINGS_DIR=str(tmp / "settings"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    wb, bare = [], []
    for _ in range(runs):
        seconds, torch = measure(WORKBENCH, str(project), env)
        assert not torch, "torch was imported at start-up"
        wb.append(seconds)
        bare.append(measure(BARE, "", env)[0])
    m_wb, m_bare = statistics.median(wb), statistics.median(bare)
    print(f"workbench window shown: median {m_wb:.3f} s over {runs} runs  ({', '.join(f'{x:.2f}' for x in wb)})")
    print(f"bare PySide6 window:    median {m_bare:.3f} s over {runs} runs  ({', '.join(f'{x:.2f}' for x in bare)})")
    print(f"ratio workbench / bare: {m_wb / m_bare:.2f}x;  torch imported at start-up: no")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
