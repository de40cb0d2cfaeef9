"""Time to a shown main window with the demo project open, against a bare PySide6 window.

``python benchmarks/startup.py [-n RUNS] [--project P]`` starts RUNS fresh processes of each
kind, alternating, and prints the medians and the ratios. The clock is the parent's: it starts
before the child process is created and stops when the child's lines arrive, so interpreter
start-up, imports, opening the project and painting all count, and no child clock (a process
start time read from /proc can be a second off) is trusted. The window starts as `workbench gui`
does: it paints first ("first paint": menus, tabs, an empty Overview), then opens the project
and paints its Overview ("project shown"); the audit log's check comes after that. The children
may write bytecode (``__pycache__``, as an installed package has it) even where the environment
says ``PYTHONDONTWRITEBYTECODE``. Without
``--project`` the demo project is built once first (``workbench demo --headless``), as a new
user's first window shows it. A third kind, the "mock", is a window with the Overview's kind of
widgets and one SQLite read of the project but no workbench code: the floor that PySide6 and the
interpreter set for any window like ours.
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

CPU = "import resource; cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])\n"
WORKBENCH = CPU + """
import sys
from workbench.gui.app import create_window
app, win = create_window(sys.argv[1], reopen_last=False, open_after_paint=True)  # as `workbench gui` starts
from PySide6.QtCore import QEvent, QObject

class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint:
            obj.removeEventFilter(self)
            print("painted", cpu(), flush=True)
        return False

def opened(project):
    if project is not None:
        win.repaint()  # the project's Overview, painted now
        print("ready", cpu(), "torch" in sys.modules, flush=True)
        app.quit()

painted = Painted()
win.tabs.tabBar().installEventFilter(painted)
win.project_changed.connect(opened)
win.show()
app.exec()
"""
BARE = CPU + """
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([]); win = QMainWindow(); win.resize(1280, 820)
win.show(); app.processEvents()
print("painted", cpu(), flush=True)
print("ready", cpu(), False, flush=True)
"""
# The floor: a window with the Overview's kind of widgets (tabs, menus, a status bar, five score
# cards in rich text, a 12-row table filled from one SQLite read of the project) and no workbench
# code: what PySide6 and CPython cost before a window like ours can show anything.
MOCK = CPU + """
import sqlite3, sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QApplication, QGridLayout, QLabel, QMainWindow, QTableWidget,
                               QTableWidgetItem, QTabWidget, QWidget)
app = QApplication([]); win = QMainWindow(); win.resize(1280, 820)
tabs = QTabWidget(); win.setCentralWidget(tabs)
page = QWidget(); grid = QGridLayout(page)
for column in range(5):
    card = QLabel(f"<b>Pillar {column}</b><br><span style='font-size:large'>74 / 100</span>")
    card.setAlignment(Qt.AlignCenter); grid.addWidget(card, 0, column)
table = QTableWidget(12, 5); grid.addWidget(table, 1, 0, 1, 5)
tabs.addTab(page, "Overview")
for name in ("Findings", "Code audit", "Anonymisation", "Robustness", "Monitoring", "Testing"):
    tabs.addTab(QWidget(), name)
for name in ("&File", "&Edit", "&View", "&Run", "&Settings", "&Help"):
    menu = win.menuBar().addMenu(name)
    for k in range(5):
        menu.addAction(QAction(f"Item {k}", win))
win.statusBar().showMessage("ready")
rows = sqlite3.connect(sys.argv[1]).execute("SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master").fetchall()
for r in range(12):
    for c in range(5):
        table.setItem(r, c, QTableWidgetItem(str(rows[r % len(rows)][c])[:40]))
win.show(); app.processEvents()
print("painted", cpu(), flush=True)
print("ready", cpu(), False, flush=True)
"""


def measure(code: str, arg: str, env: dict) -> tuple[float, float, bool, float, float]:
    """Seconds from before the child is created to its first paint and to its project shown
    (the "painted" and "ready" lines), whether torch was loaded by then, and the CPU seconds the
    child had used at each line (its own rusage, from the kernel: on a shared machine steadier than
    the wall clock, which counts the time other processes hold the cores)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, arg], stdout=subprocess.PIPE, text=True, env=env)
    first = child.stdout.readline()
    painted = time.perf_counter() - start
    line = child.stdout.readline()
    ready = time.perf_counter() - start
    child.stdout.close()
    child.wait(timeout=60)
    word, cpu_painted = first.split()
    assert word == "painted", first
    word, cpu_ready, torch = line.split()
    assert word == "ready", line
    return painted, ready, torch == "True", float(cpu_painted), float(cpu_ready)


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
    # An installed workbench runs from compiled bytecode (pip compiles at install); a session that
    # forbids writing it would time the compiler on every start. The warm-up run below writes it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("PYTHON_KEYRING_BACKEND", "workbench.core.secrets.MemoryKeyring")
    project = Path(args.project) if args.project else demo_project(tmp / "demo", env)
    measure(WORKBENCH, str(project), env)  # warm the file cache once for both
    wb_paint, wb_ready, bare, cpu_paint, cpu_ready, cpu_bare = [], [], [], [], [], []
    mock, cpu_mock = [], []
    for _ in range(args.runs):
        painted, ready, torch, c_paint, c_ready = measure(WORKBENCH, str(project), env)
        assert not torch, "torch was imported at start-up"
        wb_paint.append(painted)
        wb_ready.append(ready)
        cpu_paint.append(c_paint)
        cpu_ready.append(c_ready)
        _, shown, _, _, c_bare = measure(BARE, "", env)
        bare.append(shown)
        cpu_bare.append(c_bare)
        _, shown, _, _, c_mock = measure(MOCK, str(project), env)
        mock.append(shown)
        cpu_mock.append(c_mock)
    m_paint, m_ready, m_bare, m_mock = (statistics.median(x) for x in (wb_paint, wb_ready, bare, mock))
    c_paint, c_ready, c_bare, c_mock = (statistics.median(x) for x in (cpu_paint, cpu_ready, cpu_bare, cpu_mock))

    def runs(xs):
        return ", ".join(f"{x:.2f}" for x in xs)

    print(f"project: {project}")
    print(f"workbench first paint:     median {m_paint:.3f} s over {args.runs} runs  ({runs(wb_paint)})")
    print(f"workbench project shown:   median {m_ready:.3f} s over {args.runs} runs  ({runs(wb_ready)})")
    print(f"bare PySide6 window shown: median {m_bare:.3f} s over {args.runs} runs  ({runs(bare)})")
    print(f"mock window (no workbench): median {m_mock:.3f} s over {args.runs} runs  ({runs(mock)})  "
          f"{m_mock / m_bare:.2f}x bare")
    print(f"CPU seconds (median):      first paint {c_paint:.3f}, project shown {c_ready:.3f}, bare {c_bare:.3f}, "
          f"mock {c_mock:.3f} ({c_paint / c_bare:.2f}x, {c_ready / c_bare:.2f}x, {c_mock / c_bare:.2f}x)")
    print(f"ratio first paint / bare: {m_paint / m_bare:.2f}x;  project shown / bare: {m_ready / m_bare:.2f}x;  "
          f"torch imported at start-up: no;  load average {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
