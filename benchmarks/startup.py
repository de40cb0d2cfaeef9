"""Time to a shown main window with the demo project open, against a bare PySide6 window.

``python benchmarks/startup.py [-n RUNS] [--project P]`` starts RUNS fresh processes of each
kind, alternating, and prints the medians and the ratio. The clock is the parent's: it starts
before the child process is created and stops when the child's "shown" line arrives, so
interpreter start-up, imports, opening the project and the first paint all count, and no child
clock (a process start time read from /proc can be a second off) is trusted. Without
``--project`` the demo project is built once first (``workbench demo --headless``), as a new
user's first window shows it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKBENCH = """
import sys
from PySide6.QtWidgets import QApplication
from workbench.gui.app import create_window
app, win = create_window(sys.argv[1], reopen_last=False)
win.show(); app.processEvents()
print("shown", "torch" in sys.modules, flush=True)
"""
BARE = """
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([]); win = QMainWindow(); win.resize(1280, 820)
win.show(); app.processEvents()
print("shown", False, flush=True)
"""


def measure(code: str, arg: str, env: dict) -> tuple[float, bool]:
    """Seconds from before the child is created to its "shown" line, and whether torch loaded."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, arg], stdout=subprocess.PIPE, text=True, env=env)
    line = child.stdout.readline()
    seconds = time.perf_counter() - start
    child.stdout.close()
    child.wait(timeout=60)
    word, torch = line.split()
    assert word == "shown", line
    return seconds, torch == "True"


def demo_project(folder: Path, env: dict) -> Path:
    subprocess.run([sys.executable, "-m", "workbench", "demo", "--headless", "-o", str(folder)], env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return folder / "demo.wbproj"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=7)
    parser.add_argument("--project", help="the project to open (default: a demo project built now)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-startup-"))
    env = dict(os.environ, WORKBENCH_SETTINGS_DIR=str(tmp / "settings"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("PYTHON_KEYRING_BACKEND", "workbench.core.secrets.MemoryKeyring")
    project = Path(args.project) if args.project else demo_project(tmp / "demo", env)
    measure(WORKBENCH, str(project), env)  # warm the file cache once for both
    wb, bare = [], []
    for _ in range(args.runs):
        seconds, torch = measure(WORKBENCH, str(project), env)
        assert not torch, "torch was imported at start-up"
        wb.append(seconds)
        bare.append(measure(BARE, "", env)[0])
    m_wb, m_bare = statistics.median(wb), statistics.median(bare)
    print(f"project: {project}")
    print(f"workbench window shown: median {m_wb:.3f} s over {args.runs} runs  ({', '.join(f'{x:.2f}' for x in wb)})")
    print(f"bare PySide6 window:    median {m_bare:.3f} s over {args.runs} runs  ({', '.join(f'{x:.2f}' for x in bare)})")
    print(f"ratio workbench / bare: {m_wb / m_bare:.2f}x;  torch imported at start-up: no;  "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
