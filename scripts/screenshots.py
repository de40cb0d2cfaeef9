"""Screenshots of the main window on a project, light and dark, for looking at by eye.

``QT_QPA_PLATFORM=offscreen python scripts/screenshots.py PROJECT OUTDIR``
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main(project: str, out: str) -> None:
    os.environ.setdefault("WORKBENCH_SETTINGS_DIR", tempfile.mkdtemp(prefix="wb-shots-"))
    from PySide6.QtWidgets import QApplication

    from workbench.gui.app import create_window
    from workbench.gui.theme import apply_theme

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    app, window = create_window(project, theme="light", reopen_last=False)
    window.resize(1400, 900)
    window.show()
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        for i in range(window.tabs.count()):
            window.tabs.setCurrentIndex(i)
            tab = window.tabs.widget(i)
            if hasattr(tab, "table") and tab.model.rowCount():
                tab.table.selectRow(0)
            for _ in range(5):
                app.processEvents()
            name = window.tabs.tabText(i).lower().replace(" ", "_")
            window.grab().save(str(out_dir / f"{theme}_{name}.png"))
    window.close()
    QApplication.processEvents()
    print("\n".join(sorted(str(p) for p in out_dir.glob("*.png"))))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
