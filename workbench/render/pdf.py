"""Lay a :class:`workbench.core.report.Report` out as HTML and print it to PDF.

QTextDocument does the typesetting and pagination; charts are painted with
QPainter into high-resolution images that the document embeds. Each page gets
a footer with the project, the page number and the state hash, so a printed
page can be matched to the project file it came from.
"""

from __future__ import annotations

import html
import re
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
table.grid th { background-color: #dfe6ee; font-weight: bold; text-align: left; white-space: nowrap; }
table.grid td { vertical-align: top; }
p.subtitle { font-size: 14pt; color: #1b2a41; }
p.formula { font-family: 'DejaVu Sans Mono', monospace; font-size: 8pt; color: #333; }
td.num { text-align: right; }
.caption { color: #555; font-size: 8.5pt; }
.mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 8.5pt; }
"""
SEVERITY_BADGE = {"HIGH": "#c0392b", "MEDIUM": "#d35400", "LOW": "#f1c40f"}
_BROWSER_CSS = """
body { max-width: 60em; margin: 0 auto; padding: 0 1em 3em 1em; }
div.runninghead { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #999; color: #666;
                  font-size: 8pt; padding: 3px 0; }
table.grid { border-collapse: collapse; }
table.grid td, table.grid th { border: 1px solid #999; vertical-align: top; }
@media print { div.runninghead { position: running(header); } thead { display: table-header-group; } }
"""


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


def score_color(score: float | None) -> str:
    if score is None:
        return "#7f8c8d"
    return "#1e8449" if score >= 80 else "#b9770e" if score >= 50 else "#b03a2e"


_RULE_TITLE = re.compile(r"^(B\d{3}) ([a-z0-9]+(?:_[a-z0-9]+)+)$")
_STATUS_WORDS = {"false_positive": "false positive", "accepted_risk": "accepted risk"}


def humanise(value: str) -> str:
    """Identifiers a reader should not have to decode: bandit's "B615 huggingface_unsafe_download"
    reads "B615 huggingface unsafe download", triage statuses lose their underscores."""
    if value in _STATUS_WORDS:
        return _STATUS_WORDS[value]
    m = _RULE_TITLE.match(value)
    if m:
        return f"{m.group(1)} {m.group(2).replace('_', ' ')}"
    return value


def _cell_text(value) -> str:
    text = humanise(value) if isinstance(value, str) else ("" if value is None else str(value))
    return "<br>".join(_esc(line) for line in text.split("\n"))


def severity_badge(severity: str) -> str:
    # Colour on the text's own background, not the cell's: a row that continues on the next
    # page then leaves no empty coloured cell behind.
    bg = SEVERITY_BADGE[severity]
    fg = "#222" if severity == "LOW" else "#fff"
    return f"<span style='background-color:{bg}; color:{fg}; font-weight:bold'>&nbsp;{severity}&nbsp;</span>"


def _kv_html(items, mono_keys=frozenset()) -> str:
    rows = "".join(
        f"<tr><td width='28%'><b>{_esc(k)}</b></td><td{' class=mono' if k in mono_keys else ''}>{_cell_text(v)}</td></tr>"
        for k, v in items)
    return f"<table class='kv' cellpadding='3' cellspacing='0' width='100%'>{rows}</table>"


def _table_html(columns, rows, widths=None, max_rows=None) -> str:
    widths = widths or [None] * len(columns)
    head = "".join(f"<th{f' width={w}%' if w else ''}>{_esc(c)}</th>" for c, w in zip(columns, widths))
    shown = rows if max_rows is None else rows[:max_rows]
    # Long tables go out as consecutive tables of CHUNK_ROWS rows: QTextDocument walks every row
    # of a table to draw each page, so one 100,000-row table would cost pages × rows.
    parts = []
    for start in range(0, max(len(shown), 1), CHUNK_ROWS):
        if start and start % PART_ROWS == 0:
            parts.append(_SPLIT)
        parts.append(_table_chunk(head, shown[start:start + CHUNK_ROWS]))
    return "".join(parts)


CHUNK_ROWS = 60


def _table_chunk(head: str, shown) -> str:
    body = []
    for row in shown:
        cells = []
        for value in row:
            if isinstance(value, str) and value in SEVERITY_BADGE:
                cells.append(f"<td style='white-space:nowrap'>{severity_badge(value)}</td>")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f"<td class='num' align='right'>{_esc(value)}</td>")
            else:
                cells.append(f"<td>{_cell_text(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # <thead>: QTextDocument repeats header rows at the top of each page the table continues on.
    return (f"<table class='grid' border='1' cellspacing='0' cellpadding='4' width='100%'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _cover_html(report: Report) -> list[str]:
    out = [f"<h1>{_esc(report.title)}</h1>",
           f"<p class='subtitle'>{_esc(report.project_name)}</p>",
           f"<p class='note'>Generated {_esc(report.generated)} · {_esc(report.template)} report"
           + (f" · filtered: {_esc(report.filters)}" if report.filters else "") + "</p>"]
    color = score_color(report.posture)
    out.append(f"<table width='100%' cellpadding='10' cellspacing='0'><tr><td bgcolor='{color}'>"
               f"<span style='color:#fff; font-size:15pt; font-weight:bold'>Verdict: {_esc(report.verdict)}</span>"
               f"</td></tr></table>")
    if report.scores:
        out.append("<h3>Pillar scores (0 worst, 100 best)</h3>")
        rows = []
        for s in report.scores:
            value = ("<span style='color:#7f8c8d'>not assessed</span>" if s.score is None else
                     f"<span style='color:{score_color(s.score)}; font-weight:bold'>{s.score:.0f} / 100</span>")
            rows.append(f"<tr><td>{_esc(s.title)}</td><td>{value}</td><td align='right'>{s.weight:g}</td>"
                        f"<td align='right'>{s.runs}</td></tr>")
        posture = "not assessed" if report.posture is None else f"{report.posture:.0f} / 100"
        rows.append(f"<tr><td><b>Overall posture</b></td><td><span style='color:{color}; font-weight:bold'>"
                    f"{posture}</span></td><td colspan='2'></td></tr>")
        out.append("<table class='grid' border='1' cellspacing='0' cellpadding='4' width='100%'><thead><tr>"
                   "<th width='40%'>Pillar</th><th width='30%'>Score</th><th width='15%'>Weight</th>"
                   "<th width='15%'>Runs</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        out.append(f"<p class='formula'>{_esc(report.posture_formula)}</p>")
    for line in report.summary:
        out.append(f"<p>{_esc(line)}</p>")
    cover = [("Project file", report.project_path), ("Project state SHA-256", report.state_sha256)]
    intact, chain_message, head = report.audit_log
    if intact:
        cover.append(("Audit log", f"{chain_message}; newest entry {head[:16]}…"))
    sig = report.signature or {}
    if sig.get("signer"):
        cover.append(("Signed by", f"{sig.get('signer')} (Ed25519 key {sig.get('fingerprint')})"))
    elif sig:
        cover.append(("Signed by", "not signed" + (f": {sig['unsigned_reason']}" if sig.get("unsigned_reason") else "")))
    out.append("<h3>Integrity</h3>")
    out.append(_kv_html(cover, mono_keys={"Project state SHA-256"}))
    if not intact:
        out.append(f"<p class='warning'>WARNING — the audit log of this project was tampered with: "
                   f"{_esc(chain_message)}. Results below may have been altered outside the workbench.</p>")
    return out


def report_html(report: Report, charts: list[QImage], content_width: int, toc_pages: dict | None = None,
                browser: bool = False) -> str:
    """The report as one HTML text (for a browser with *browser*); chart images are appended to
    *charts* and referenced as ``chart://N``."""
    head, bodies = report_parts(report, charts, content_width, toc_pages, browser=browser)
    return head + "".join(bodies) + "</body></html>"


def report_parts(report: Report, charts: list[QImage], content_width: int, toc_pages: dict | None = None,
                 browser: bool = False) -> tuple[str, list[str]]:
    """(head, [body part, ...]): each part starts on a new page. The PDF lays each part out in its
    own QTextDocument, so memory stays bounded by the largest part, not by the whole report
    (100,000 findings would otherwise need several GiB)."""
    css = _CSS + (_BROWSER_CSS if browser else "")
    head = (f"<html><head><meta charset='utf-8'><title>{_esc(report.title)} — {_esc(report.project_name)}</title>"
            f"<style>{css}</style></head><body>")
    out = []
    if browser:
        out.append(f"<div class='runninghead'>{_esc(report.project_name)} · {_esc(report.generated)}</div>")
    out += _cover_html(report)
    out.append(_PAGE_BREAK)
    executive = report.template == "executive"
    out.append("<h2>Contents</h2><table width='100%' cellpadding='3' cellspacing='0'>")
    for i, title in enumerate(_section_titles(report)):
        page = (toc_pages or {}).get(i, "")
        out.append(f"<tr><td>{_esc(title)}</td><td align='right' width='12%'>{page}</td></tr>")
    out.append("</table>")
    if report.audit_log[0]:
        out.append("<p class='note'>The SHA-256 covers every table of the project file at the moment this report "
                   "was made; <span class='mono'>workbench info PROJECT</span> prints the same hash for an "
                   "unchanged project, and <span class='mono'>workbench verify-report REPORT --project PROJECT"
                   "</span> checks this report's signature and whether the project still matches.</p>")
    all_sections = list(report.sections) + list(report.appendix)
    titles = _section_titles(report)
    for i, section in enumerate(all_sections):
        # Each plugin's section and each appendix starts on a new page; short core sections flow on.
        # (the executive template flows on: it must stay within a few pages).
        if not executive and (i == 0 or i >= len(report.sections) or section.title == "All findings"
                              or (section.plugin and _is_long(section))):
            out.append(_PAGE_BREAK)
        out.append(f"<h2>{_esc(titles[i])}</h2>")
        for block in section.blocks:
            out.append(_block_html(block, charts, content_width))
    out.append(_signature_html(report))
    text = "".join(out)
    if browser:
        return head, [text.replace(_SPLIT, "")]
    return head, [part for part in text.replace(_SPLIT, _PAGE_BREAK).split(_PAGE_BREAK) if part.strip()]


def _is_long(section) -> bool:
    return any(isinstance(b, (Table, BarChart, LineChart)) for b in section.blocks)


_PAGE_BREAK = "<div style='page-break-before: always'></div>"
#: between two parts of a very long table: a new page in the PDF, nothing in HTML
_SPLIT = "<!--split-->"
PART_ROWS = 1200


def _section_titles(report: Report) -> list[str]:
    titles = [s.title for s in report.sections]
    titles += [f"Appendix {chr(65 + i)} — {s.title}" for i, s in enumerate(report.appendix)]
    return titles


def _signature_html(report: Report) -> str:
    sig = report.signature or {}
    items = [("Project state SHA-256", report.state_sha256),
             ("Report content SHA-256", sig.get("content_sha256", "not computed")),
             ("Audit log head", report.audit_log[2] or "—")]
    if sig.get("signer"):
        items += [("Signed by", sig["signer"]), ("Ed25519 public key", sig.get("public_key", "")),
                  ("Key fingerprint", sig.get("fingerprint", ""))]
        note = ("The signature itself is in the file REPORT.sig beside this report (a signature over a "
                "file's bytes cannot be inside them). Check it offline with "
                "workbench verify-report REPORT [--project PROJECT] [--public-key KEY.pem].")
    else:
        note = "This report is not signed: " + sig.get("unsigned_reason", "no signing key was available") + "."
    return ("<h3>Signature and integrity</h3>"
            + _kv_html(items, mono_keys={"Project state SHA-256", "Report content SHA-256", "Audit log head",
                                         "Ed25519 public key"})
            + f"<p class='note'>{_esc(note)}</p>")


def _block_html(block, charts: list[QImage], content_width: int) -> str:
    if isinstance(block, Paragraph):
        if block.style == "heading":
            return f"<h3>{_esc(block.text)}</h3>"
        cls = f" class='{block.style}'" if block.style != "normal" else ""
        return f"<p{cls}>{_cell_text(block.text)}</p>"
    if isinstance(block, KeyValues):
        return _kv_html(block.items)
    if isinstance(block, Table):
        more = ""
        if len(block.rows) > block.max_rows:
            more = f"<p class='caption'>… and {len(block.rows) - block.max_rows} more rows (see the project file).</p>"
        caption = f"<p class='caption'>{_esc(block.caption)}</p>" if block.caption else ""
        return caption + _table_html(block.columns, block.rows, block.widths, block.max_rows) + more
    if isinstance(block, (BarChart, LineChart)):
        charts.append(draw_bar_chart(block) if isinstance(block, BarChart) else draw_line_chart(block))
        return f"<p><img src='chart://{len(charts) - 1}' width='{int(content_width * 0.9)}'></p>"
    return f"<p class='warning'>(unknown block {type(block).__name__})</p>"


def check_output_path(path: Path, suffixes: tuple[str, ...] = (".pdf",), kind: str = "PDF") -> None:
    """Refuse to write a report where it would destroy something: a project, any SQLite file, a
    folder, a missing folder (core.files' rules), or a name without the report's suffix."""
    from workbench.core.errors import WorkbenchError
    from workbench.core.files import check_writable_target

    if path.suffix.lower() not in suffixes:
        raise OSError(f"{path}: a report is a {kind}; give the file a {suffixes[0]} name")
    try:
        check_writable_target(path)
    except WorkbenchError as exc:
        raise OSError(str(exc)) from exc


def render_pdf(report: Report, path: str | Path) -> int:
    """Write *report* to *path* (whole or not at all: a temporary file renamed at the end);
    returns the number of pages."""
    from workbench.core.files import atomic_path

    _ensure_app()
    final = Path(path)
    check_output_path(final)
    with atomic_path(final) as tmp:
        return _render(report, Path(tmp), final)


def _render(report: Report, path: Path, final: Path | None = None) -> int:
    """Write the PDF to *path*; errors name *final*, the file the user asked for (*path* is its
    temporary twin, removed on an error)."""
    shown = final or path
    writer = QPdfWriter(str(path))
    writer.setTitle(f"{report.title} — {report.project_name}")
    writer.setCreator("AI Security Workbench")
    sig = report.signature or {}
    if sig.get("signer"):
        writer.setAuthor(sig["signer"])
    writer.setDocumentXmpMetadata(_xmp(report))
    writer.setResolution(300)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.A4), QPageLayout.Portrait,
                                     QMarginsF(16, 12, 16, 12), QPageLayout.Millimeter))
    body = writer.pageLayout().paintRectPixels(writer.resolution())
    header_h = footer_h = int(writer.resolution() * 0.35)
    page_h = body.height() - header_h - footer_h

    # <img width> is read in 96-dpi pixels whatever the device's resolution.
    css_width = int(body.width() * 96 / writer.logicalDpiX())

    def layout(part: str, charts: list[QImage]) -> QTextDocument:
        doc = QTextDocument()
        doc.documentLayout().setPaintDevice(writer)
        doc.setDocumentMargin(0)
        for i, image in enumerate(charts):
            if f"chart://{i}'" in part:
                doc.addResource(QTextDocument.ImageResource, QUrl(f"chart://{i}"), image)
        doc.setHtml(head + part + "</body></html>")
        doc.setPageSize(QSizeF(body.width(), page_h))
        return doc

    # Two passes: the first counts each part's pages and finds the page of each heading, the
    # second prints those pages in the contents (same lines, so nothing moves) and draws.
    titles = _section_titles(report)
    charts: list[QImage] = []
    head, parts = report_parts(report, charts, css_width, None)
    toc: dict[int, int] = {}
    counts = []
    for part in parts:
        doc = layout(part, charts)
        for i, page in _heading_pages(doc, page_h, titles).items():
            toc.setdefault(i, page + sum(counts))
        counts.append(doc.pageCount())
        del doc
    charts = []
    head, parts = report_parts(report, charts, css_width, toc)
    pages = sum(counts)

    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"{shown}: cannot write the PDF (is the folder writable and the disk not full?)")
    try:
        page = -1
        for part, count in zip(parts, counts):
            doc = layout(part, charts)  # one part's document alive at a time
            for local in range(count):
                page += 1
                if page:
                    writer.newPage()
                painter.save()
                painter.translate(0, header_h)
                painter.setClipRect(QRectF(0, 0, body.width(), page_h))
                painter.translate(0, -local * page_h)
                doc.drawContents(painter, QRectF(0, local * page_h, body.width(), page_h))
                painter.restore()
                _page_furniture(painter, report, page, pages, body.width(), header_h, page_h, footer_h)
    finally:
        if not painter.end():
            raise OSError(f"{shown}: writing the PDF failed (is the disk full?)")
    if not _complete_pdf(path):
        raise OSError(f"{shown}: the PDF was not written completely (is the disk full or the path not a file?)")
    return pages


def _page_furniture(painter, report: Report, page: int, pages: int, width: int, header_h: int, page_h: int,
                    footer_h: int) -> None:
    """Running header (project, template, date; not on the cover) and footer (state hash, page N of M)."""
    painter.setFont(QFont("DejaVu Sans", 7))
    painter.setPen(QColor("#666"))
    if page:
        top = QRectF(0, 0, width, header_h * 0.7)
        painter.drawText(top, Qt.AlignLeft | Qt.AlignVCenter, f"{report.project_name} — security assessment")
        painter.drawText(top, Qt.AlignRight | Qt.AlignVCenter, f"{report.template} report · {report.generated}")
        painter.setPen(QPen(QColor("#999"), 2))
        painter.drawLine(0, int(header_h * 0.75), width, int(header_h * 0.75))
        painter.setPen(QColor("#666"))
    footer = QRectF(0, header_h + page_h + footer_h * 0.3, width, footer_h * 0.7)
    painter.drawText(footer, Qt.AlignLeft | Qt.AlignVCenter, f"{report.project_name} · state {report.state_sha256[:16]}…")
    painter.drawText(footer, Qt.AlignRight | Qt.AlignVCenter, f"page {page + 1} of {pages}")


def _heading_pages(doc: QTextDocument, page_h: float, titles: list[str]) -> dict[int, int]:
    """{index of a section title: its page number}, from where the laid-out heading landed."""
    wanted = {t: i for i, t in enumerate(titles)}
    out: dict[int, int] = {}
    layout = doc.documentLayout()
    block = doc.begin()
    while block.isValid():
        if block.blockFormat().headingLevel() == 2:
            i = wanted.get(block.text().strip())
            if i is not None and i not in out:
                out[i] = int(layout.blockBoundingRect(block).top() // page_h) + 1
        block = block.next()
    return out


def _xmp(report: Report) -> bytes:
    """XMP metadata: the hashes and the signer, readable by any PDF tool without the workbench."""
    sig = report.signature or {}
    desc = (f"project={report.project_name}; project_id={report.project_id}; state_sha256={report.state_sha256}; "
            f"content_sha256={sig.get('content_sha256', '')}; signer={sig.get('signer', 'unsigned')}; "
            f"ed25519_public_key={sig.get('public_key', '')}; signature=see REPORT.sig")
    return ("<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>"
            "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
            "<rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
            f"<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>{_esc(report.title)}</rdf:li></rdf:Alt></dc:title>"
            f"<dc:description><rdf:Alt><rdf:li xml:lang='x-default'>{_esc(desc)}</rdf:li></rdf:Alt></dc:description>"
            "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>").encode()


def _complete_pdf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 64))
            return size > 0 and b"%%EOF" in fh.read()
    except OSError:
        return False


def render_html(report: Report, path: str | Path) -> int:
    """The self-contained HTML report (see :mod:`workbench.render.html`); here so that the CLI's
    one allowed way into Qt rendering (``commands -> pdf``) covers both formats."""
    from workbench.render.html import render_html as _render_html

    return _render_html(report, path)
