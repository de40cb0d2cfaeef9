"""The report as one self-contained HTML file: styles inline, charts as PNG data URIs, no script,
no external resource, so it reads the same offline and cannot call anywhere."""

from __future__ import annotations

import base64
from pathlib import Path

from workbench.core.report import Report


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
    """Write the HTML report whole or not at all (core.files.atomic_write); returns its size in bytes."""
    from workbench.core.files import atomic_write
    from workbench.render.pdf import check_output_path

    final = Path(path)
    check_output_path(final, (".html", ".htm"), "HTML file")
    data = report_to_html(report).encode("utf-8")
    atomic_write(final, data)
    return len(data)
