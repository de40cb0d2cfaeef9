"""Lay a :class:`workbench.core.report.Report` out as HTML and print it to PDF.

QTextDocument does the typesetting and pagination; charts are painted with
QPainter into high-resolution images that the document embeds. Each page gets
a footer with the project, the page number and the state hash, so a printed
page can be matched to the project file it came from.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QTextDocument,
)

from workbench.core.report import BarChart, KeyValues, LineChart, Paragraph, Report, Table

DEFAULT_SERIES_COLORS = ["#2e86de", "#10ac84", "#ee5253", "#ff9f43", "#8395a7", "#5f27cd"]
_CSS = """
body { font-family: 'DejaVu Sans', 'Helvetica', sans-serif; font-size: 9.5pt; color: #222; }
h1 { font-size: 20pt; color: #1b2a41; margin-bottom: 4px; }
h2 { font-size: 14pt; color: #1b2a41; margin-top: 16px; border-bottom: 1px solid #888; }
h3 { font-size: 11pt; color: #1b2a41; margin-top: 10px; }
p.note { color: #555; font-style: italic; }
p.warning { color: #a00; font-weight: bold; }
table.grid { border-collapse: collapse; margin-top: 4px; margin-bottom: 8px; }
table.grid th { background-color: #dfe6ee; font-weight: bold; text-align: left; }
td.num { text-align: right; }
.caption { color: #555; font-size: 8.5pt; }
.mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 8.5pt; }
"""
SEVERITY_CELL = {"HIGH": "#f5b7b1", "MEDIUM": "#fad7a0", "LOW": "#fcf3cf"}


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _ensure_app() -> None:
    if QGuiApplication.instance() is None:
        # Kept alive for the process: Qt needs the application object while painting.
        global _app
        _app = QGuiApplication([])


def _canvas(width: int, height: int, dark: bool, font_share: float):
    """A blank chart image in the theme's colours, its painter (font set) and (ink, soft, grid)."""
    image = QImage(width, height, QImage.Format_ARGB32)
    inks = ("#e2e4e8", "#b8bcc4", "#4a4e55") if dark else ("#222", "#444", "#ccc")
    image.fill(QColor("#202226") if dark else QColor("white"))
    p = QPainter(image)
    p.setRenderHint(QPainter.Antialiasing)
    font = QFont("DejaVu Sans")
    font.setPixelSize(int(height * font_share))
    p.setFont(font)
    return image, p, font, inks


def draw_bar_chart(chart: BarChart, width: int = 1800, height: int = 720, dark: bool = False) -> QImage:
    """Paint a (stacked) bar chart; plain QPainter keeps it crisp at print resolution."""
    image, p, font, (ink, soft, grid) = _canvas(width, height, dark, 0.045)
    names = list(chart.series)
    n = len(chart.categories)
    totals = [sum(chart.series[s][i] for s in names) if chart.stacked else
              max((chart.series[s][i] for s in names), default=0) for i in range(n)]
    vmax = max(totals + [1.0])
    step = _nice_step(vmax)
    ymax = step * (int(vmax / step) + (1 if vmax % step else 0)) or step
    metrics = QFontMetrics(font)
    # Margins follow the text they hold: long tick values and series names are never clipped.
    left = max(int(width * 0.08), metrics.horizontalAdvance(_tick(ymax)) + 24)
    right = min(int(width * 0.4), max(int(width * 0.2), max((metrics.horizontalAdvance(str(s)) for s in names),
                                                            default=0) + 110))
    top, bottom = int(height * 0.12), int(height * 0.16)
    plot = QRectF(left, top, width - left - right, height - top - bottom)
    title_font = QFont(font)
    title_font.setBold(True)
    title_font.setPixelSize(int(height * 0.055))
    p.setFont(title_font)
    p.setPen(QColor(ink))
    p.drawText(QRectF(0, 0, width, top), Qt.AlignCenter, chart.title)
    p.setFont(font)
    # Grid and y labels
    p.setPen(QPen(QColor(grid), 2))
    ticks = int(round(ymax / step))
    for k in range(ticks + 1):
        y = plot.bottom() - plot.height() * k / ticks
        p.drawLine(int(plot.left()), int(y), int(plot.right()), int(y))
        p.setPen(QColor(soft))
        p.drawText(QRectF(0, y - 20, left - 10, 40), Qt.AlignRight | Qt.AlignVCenter, _tick(k * step))
        p.setPen(QPen(QColor(grid), 2))
    colors = {s: QColor(chart.colors.get(s) or DEFAULT_SERIES_COLORS[i % len(DEFAULT_SERIES_COLORS)])
              for i, s in enumerate(names)}
    slot = plot.width() / max(n, 1)
    bar_w = min(slot * 0.6, width * 0.12) if chart.stacked else slot * 0.8 / max(len(names), 1)
    for i, cat in enumerate(chart.categories):
        x0 = plot.left() + slot * i + (slot - (bar_w if chart.stacked else bar_w * len(names))) / 2
        base = 0.0
        for j, s in enumerate(names):
            v = chart.series[s][i]
            if v <= 0:
                continue
            h = plot.height() * v / ymax
            if chart.stacked:
                rect = QRectF(x0, plot.bottom() - plot.height() * base / ymax - h, bar_w, h)
                base += v
            else:
                rect = QRectF(x0 + j * bar_w, plot.bottom() - h, bar_w * 0.95, h)
            p.fillRect(rect, colors[s])
        p.setPen(QColor(ink))
        p.drawText(QRectF(plot.left() + slot * i, plot.bottom() + 8, slot, bottom - 10),
                   Qt.AlignHCenter | Qt.AlignTop | Qt.TextWordWrap, str(cat))
    # Legend
    lx, ly = plot.right() + 30, plot.top()
    for s in names:
        p.fillRect(QRectF(lx, ly, 34, 34), colors[s])
        p.drawText(QRectF(lx + 46, ly - 6, right - 80, 46), Qt.AlignLeft | Qt.AlignVCenter, s)
        ly += 54
    p.setPen(QPen(QColor(soft), 3))
    p.drawLine(int(plot.left()), int(plot.bottom()), int(plot.right()), int(plot.bottom()))
    p.end()
    return image


def draw_line_chart(chart: LineChart, width: int = 1800, height: int = 760, dark: bool = False) -> QImage:
    """Paint curves over a numeric x axis, with a legend; QPainter keeps it sharp in print."""
    image, p, font, (ink, soft, grid) = _canvas(width, height, dark, 0.042)
    metrics = QFontMetrics(font)
    names_width = max((metrics.horizontalAdvance(str(n)) for n in chart.series), default=0)
    # Room for the rotated y label, then the widest tick value; the legend as wide as its names.
    left = int(metrics.height() * 1.6) + metrics.horizontalAdvance("-0.000e+00") + 16
    right = min(int(width * 0.42), max(int(width * 0.18), names_width + 110))
    top, bottom = int(height * 0.12), int(height * 0.18)
    plot = QRectF(left, top, width - left - right, height - top - bottom)
    title_font = QFont(font)
    title_font.setBold(True)
    title_font.setPixelSize(int(height * 0.052))
    p.setFont(title_font)
    p.setPen(QColor(ink))
    p.drawText(QRectF(0, 0, width, top), Qt.AlignCenter, chart.title)
    p.setFont(font)
    points = [pt for pts in chart.series.values() for pt in pts]
    xs = [x for x, _ in points] or [0.0, 1.0]
    ys = [y for _, y in points] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x1 = x0 + 1.0
    y0, y1 = chart.y_range or (min(0.0, min(ys)), max(ys) if max(ys) > min(0.0, min(ys)) else 1.0)
    if y1 == y0:
        y1 = y0 + 1.0

    def to_px(x: float, y: float) -> QPointF:
        return QPointF(plot.left() + plot.width() * (x - x0) / (x1 - x0),
                       plot.bottom() - plot.height() * (y - y0) / (y1 - y0))

    for k in range(6):
        y = plot.bottom() - plot.height() * k / 5
        p.setPen(QPen(QColor(grid), 2))
        p.drawLine(int(plot.left()), int(y), int(plot.right()), int(y))
        p.setPen(QColor(soft))
        p.drawText(QRectF(0, y - 20, left - 10, 40), Qt.AlignRight | Qt.AlignVCenter, f"{y0 + (y1 - y0) * k / 5:.3g}")
        x = plot.left() + plot.width() * k / 5
        p.drawText(QRectF(x - 80, plot.bottom() + 6, 160, 40), Qt.AlignHCenter | Qt.AlignTop,
                   f"{x0 + (x1 - x0) * k / 5:.3g}")
    p.setPen(QColor(ink))
    p.drawText(QRectF(plot.left(), height - bottom * 0.5, plot.width(), bottom * 0.5), Qt.AlignCenter, chart.x_label)
    p.save()
    p.translate(6, plot.center().y())
    p.rotate(-90)
    p.drawText(QRectF(-plot.height() / 2, 0, plot.height(), metrics.height() * 1.4), Qt.AlignCenter, chart.y_label)
    p.restore()
    ly = plot.top()
    for i, (name, pts) in enumerate(chart.series.items()):
        color = QColor(chart.colors.get(name) or DEFAULT_SERIES_COLORS[i % len(DEFAULT_SERIES_COLORS)])
        p.setPen(QPen(color, 5))
        pts = sorted(pts)
        for a, b in zip(pts, pts[1:]):
            p.drawLine(to_px(*a), to_px(*b))
        p.setBrush(color)
        for pt in pts:
            p.drawEllipse(to_px(*pt), 7, 7)
        p.fillRect(QRectF(plot.right() + 30, ly, 34, 34), color)
        p.setPen(QColor(ink))
        p.drawText(QRectF(plot.right() + 76, ly - 6, right - 80, 46), Qt.AlignLeft | Qt.AlignVCenter, name)
        ly += 54
    p.end()
    return image


def _tick(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:g}"


def _nice_step(vmax: float) -> float:
    raw = vmax / 5
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return max(m * mag, 1)
    return mag * 10


def report_html(report: Report, charts: list[QImage], content_width: int) -> str:
    """The report as HTML for QTextDocument; chart images are appended to *charts*."""
    out = [f"<html><head><style>{_CSS}</style></head><body>"]
    out.append(f"<h1>{_esc(report.title)}</h1>")
    out.append(f"<h3>{_esc(report.project_name)}</h3>")
    cover = [("Project file", report.project_path), ("Generated", report.generated),
             ("Project state SHA-256", report.state_sha256)]
    intact, chain_message, head = report.audit_log
    if intact:
        cover.append(("Audit log", f"{chain_message}; newest entry {head[:16]}…"))
    out.append(_kv_html(cover, mono_keys={"Project state SHA-256"}))
    if not intact:
        out.append(f"<p class='warning'>WARNING — the audit log of this project was tampered with: "
                   f"{_esc(chain_message)}. Results below may have been altered outside the workbench.</p>")
    out.append("<p class='note'>The SHA-256 covers every table of the project file at the moment this report "
               "was made; <span class='mono'>workbench info PROJECT</span> prints the same hash for an "
               "unchanged project.</p>")
    out.append("<h3>Versions</h3>")
    out.append(_kv_html(list(report.versions.items())))
    out.append("<h3>Contents</h3><ol>" + "".join(f"<li>{_esc(s.title)}</li>" for s in report.sections) + "</ol>")
    out.append("<p style='page-break-after: always'>&nbsp;</p>")
    for section in report.sections:
        out.append(f"<h2>{_esc(section.title)}</h2>")
        for block in section.blocks:
            out.append(_block_html(block, charts, content_width))
    out.append("</body></html>")
    return "".join(out)


def _kv_html(items, mono_keys=frozenset()) -> str:
    rows = "".join(
        f"<tr><td><b>{_esc(k)}</b></td><td{' class=mono' if k in mono_keys else ''}>{_esc(v)}</td></tr>"
        for k, v in items)
    return f"<table cellpadding='3' cellspacing='0'>{rows}</table>"


def _block_html(block, charts: list[QImage], content_width: int) -> str:
    if isinstance(block, Paragraph):
        cls = f" class='{block.style}'" if block.style != "normal" else ""
        return f"<p{cls}>{_esc(block.text)}</p>"
    if isinstance(block, KeyValues):
        return _kv_html(block.items)
    if isinstance(block, Table):
        widths = block.widths or [None] * len(block.columns)
        head = "".join(f"<th{f' width={w}%' if w else ''}>{_esc(c)}</th>" for c, w in zip(block.columns, widths))
        body = []
        for row in block.rows[: block.max_rows]:
            cells = []
            for value in row:
                style = ""
                if isinstance(value, str) and value in SEVERITY_CELL:
                    style = f" bgcolor='{SEVERITY_CELL[value]}'"
                num = " class='num'" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
                cells.append(f"<td{style}{num}>{_esc(value)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        more = ""
        if len(block.rows) > block.max_rows:
            more = f"<p class='caption'>… and {len(block.rows) - block.max_rows} more rows (see the project file).</p>"
        caption = f"<p class='caption'>{_esc(block.caption)}</p>" if block.caption else ""
        return (f"{caption}<table class='grid' border='1' cellspacing='0' cellpadding='4' width='100%'>"
                f"<tr>{head}</tr>{''.join(body)}</table>{more}")
    if isinstance(block, (BarChart, LineChart)):
        charts.append(draw_bar_chart(block) if isinstance(block, BarChart) else draw_line_chart(block))
        return f"<p><img src='chart://{len(charts) - 1}' width='{int(content_width * 0.9)}'></p>"
    return f"<p class='warning'>(unknown block {type(block).__name__})</p>"


def check_output_path(path: Path) -> None:
    """Refuse to write a PDF where it would destroy something: a project, any SQLite file,
    a folder, a missing folder, or a name that does not end in .pdf."""
    if path.suffix.lower() != ".pdf":
        raise OSError(f"{path}: a report is a PDF; give the file a .pdf name")
    if not path.parent.is_dir():
        raise OSError(f"{path}: the folder {path.parent} does not exist")
    if path.exists():
        if not path.is_file():
            raise OSError(f"{path}: exists and is not a regular file")
        with open(path, "rb") as fh:
            if fh.read(16) == b"SQLite format 3\x00":
                raise OSError(f"{path}: is a SQLite database (a project?); refusing to overwrite it")


def render_pdf(report: Report, path: str | Path) -> int:
    """Write *report* to *path* (whole or not at all: a temporary file renamed at the end);
    returns the number of pages."""
    import os
    import tempfile

    _ensure_app()
    final = Path(path)
    check_output_path(final)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".pdf.part", dir=final.parent)
    os.close(fd)
    path = Path(tmp)
    try:
        pages = _render(report, path)
        os.replace(path, final)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return pages


def _render(report: Report, path: Path) -> int:
    writer = QPdfWriter(str(path))
    writer.setTitle(f"{report.title} — {report.project_name}")
    writer.setCreator("AI Security Workbench")
    writer.setResolution(300)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.A4), QPageLayout.Portrait,
                                     QMarginsF(16, 14, 16, 14), QPageLayout.Millimeter))
    body = writer.pageLayout().paintRectPixels(writer.resolution())
    footer_h = int(writer.resolution() * 0.35)
    page_h = body.height() - footer_h

    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(writer)
    doc.setDocumentMargin(0)
    charts: list[QImage] = []
    # <img width> is read in 96-dpi pixels whatever the device's resolution.
    css_width = int(body.width() * 96 / writer.logicalDpiX())
    html_text = report_html(report, charts, css_width)
    for i, image in enumerate(charts):
        doc.addResource(QTextDocument.ImageResource, QUrl(f"chart://{i}"), image)
    doc.setHtml(html_text)
    doc.setPageSize(QSizeF(body.width(), page_h))
    pages = doc.pageCount()

    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"{path}: cannot write the PDF (is the folder writable and the disk not full?)")
    footer_font = QFont("DejaVu Sans", 7)
    try:
        for page in range(pages):
            if page:
                writer.newPage()
            painter.save()
            painter.setClipRect(QRectF(0, 0, body.width(), page_h))
            painter.translate(0, -page * page_h)
            doc.drawContents(painter, QRectF(0, page * page_h, body.width(), page_h))
            painter.restore()
            painter.setFont(footer_font)
            painter.setPen(QColor("#666"))
            footer = QRectF(0, page_h + footer_h * 0.3, body.width(), footer_h * 0.7)
            painter.drawText(footer, Qt.AlignLeft | Qt.AlignVCenter,
                             f"{report.project_name} · state {report.state_sha256[:16]}…")
            painter.drawText(footer, Qt.AlignRight | Qt.AlignVCenter, f"page {page + 1} of {pages}")
    finally:
        if not painter.end():
            raise OSError(f"{path}: writing the PDF failed (is the disk full?)")
    if not _complete_pdf(path):
        raise OSError(f"{path}: the PDF was not written completely (is the disk full or the path not a file?)")
    return pages


def _complete_pdf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 64))
            return size > 0 and b"%%EOF" in fh.read()
    except OSError:
        return False
