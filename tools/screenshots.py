"""Screenshots of the Overview and every tab after ``workbench demo``, at several sizes, light and dark.

``python tools/screenshots.py [--project P] [--out docs/screenshots] [--sizes 1280x800,1920x1080]
[--themes light,dark]`` builds the demo project first (``workbench demo --headless``, a few minutes)
unless ``--project`` names one, opens a copy of it in the window (offscreen, settings of its own, so
that neither the project nor the user's settings change) and writes one PNG per tab, size and theme:
``<tab>-<theme>-<W>x<H>.png``, the tab's title in lower case with dashes (``overview``, ``findings``,
``code-audit``, …). The names are stable, so that a rerun replaces the images in place and a diff of
``docs/screenshots`` shows what changed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: time for a tab's deferred work (lazy plots, a chart redrawn after a resize) before it is grabbed
SETTLE_MS = 400


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "tab"


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--sizes: {text!r} is not WIDTHxHEIGHT") from None
    return w, h


def build_demo(folder: Path, env: dict) -> Path:
    print(f"building the demo project in {folder} (workbench demo --headless)…", flush=True)
    subprocess.run([sys.executable, "-m", "workbench", "demo", "--headless", "-o", str(folder)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    return folder / "demo.wbproj"


def shoot(project: Path, out: Path, sizes: list[tuple[int, int]], themes: list[str]) -> list[Path]:
    """Every tab of a window on *project*, per size and theme, into *out*; the files written."""
    from PySide6.QtCore import QSize
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from workbench.gui.api import open_window
    from workbench.gui.theme import apply_theme

    window = open_window(project, theme=themes[0])
    app = QApplication.instance()
    written = []
    try:
        # The offscreen screen is smaller than a large window: let the window be as large as asked.
        window.setMaximumSize(QSize(16777215, 16777215))
        for theme in themes:
            apply_theme(app, theme)
            for w, h in sizes:
                window.resize(w, h)
                for index in range(window.tabs.count()):
                    title = window.tabs.tabText(index).replace("&", "")
                    window.tabs.setCurrentIndex(index)  # builds a tab never shown
                    QTest.qWait(SETTLE_MS)
                    # A transient message of the opening (a plugin's notice) would sit in every image.
                    window.statusBar().clearMessage()
                    image = window.grab()
                    if (image.width(), image.height()) != (w, h):
                        print(f"  note: {title} at {w}x{h} came out {image.width()}x{image.height()}", flush=True)
                    path = out / f"{slug(title)}-{theme}-{w}x{h}.png"
                    image.save(str(path))
                    written.append(path)
                    print(f"  {path.relative_to(out.parent) if out.parent in path.parents else path}", flush=True)
    finally:
        window.jobs.wait_all()
        window.close_project()
        window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", help="a project to show (default: a demo project built now)")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"), help="folder for the PNGs")
    parser.add_argument("--sizes", default="1280x800,1920x1080", help="window sizes, comma-separated")
    parser.add_argument("--themes", default="light,dark", help="themes, comma-separated (light, dark)")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    themes = [t.strip() for t in args.themes.split(",") if t.strip()]
    bad = [t for t in themes if t not in ("light", "dark")]
    if bad:
        raise SystemExit(f"--themes: {', '.join(bad)}: light or dark")
    tmp = Path(tempfile.mkdtemp(prefix="wb-shots-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["WORKBENCH_SETTINGS_DIR"] = str(tmp / "settings")  # the user's settings stay as they are
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "workbench.core.secrets.MemoryKeyring")
    try:
        source = Path(args.project) if args.project else build_demo(tmp / "demo", dict(os.environ))
        if not source.is_file():
            raise SystemExit(f"--project {source}: no such file")
        project = tmp / source.name  # a copy: opening a project writes to its audit log
        shutil.copy2(source, project)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        written = shoot(project, out, sizes, themes)
        print(f"{len(written)} screenshots in {out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
