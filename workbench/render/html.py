"""The report as one self-contained HTML file: styles inline, charts as PNG data URIs, no script,
no external resource, so it reads the same offline and cannot call anywhere."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

from workbench.core.report import Report


def check_html_path(path: Path) -> None:
    if path.suffix.lower() not in (".html", ".htm"):
        raise OSError(f"{path}: an HTML report needs a .html name")
    if not path.parent.is_dir():
        raise OSError(f"{path}: the folder {path.parent} does not exist")
    if path.exists():
        if not path.is_file():
            raise OSError(f"{path}: exists and is not a regular file")
        with open(path, "rb") as fh:
            if fh.read(16) == b"SQLite format 3\x00":
                raise OSError(f"{path}: is a SQLite database (a project?); refusing to overwrite it")


def _png_data_uri(image) -> str:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return "data:image/png;base64," + base64.b64encode(bytes(data)).decode()


def report_to_html(report: Report) -> str:
    from workbench.render.pdf import _ensure_app, report_html

    _ensure_app()
    charts: list = []
    text = report_html(report, charts, 800, browser=True)
    for i, image in enumerate(charts):
        text = text.replace(f"src='chart://{i}'", f"src='{_png_data_uri(image)}'", 1)
    return text


def render_html(report: Report, path: str | Path) -> int:
    """Write the HTML report whole or not at all; returns its size in bytes."""
    final = Path(path)
    check_html_path(final)
    data = report_to_html(report).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".html.part", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)
