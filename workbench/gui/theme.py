"""Light and dark palettes on the Fusion style, following the system by default."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QAbstractButton, QDockWidget, QProxyStyle, QStyle


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    # Unknown (e.g. offscreen): judge by the default window colour.
    return QGuiApplication.palette().color(QPalette.Window).lightness() < 128


def dark_palette() -> QPalette:
    p = QPalette()
    base, alt, text = QColor(32, 34, 38), QColor(43, 46, 51), QColor(226, 228, 232)
    p.setColor(QPalette.Window, QColor(40, 42, 46))
    p.setColor(QPalette.WindowText, text)
    p.setColor(QPalette.Base, base)
    p.setColor(QPalette.AlternateBase, alt)
    p.setColor(QPalette.ToolTipBase, alt)
    p.setColor(QPalette.ToolTipText, text)
    p.setColor(QPalette.Text, text)
    p.setColor(QPalette.Button, QColor(48, 51, 56))
    p.setColor(QPalette.ButtonText, text)
    p.setColor(QPalette.BrightText, QColor(255, 90, 90))
    p.setColor(QPalette.Link, QColor(90, 160, 255))
    p.setColor(QPalette.Highlight, QColor(45, 110, 200))
    p.setColor(QPalette.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.PlaceholderText, QColor(140, 143, 150))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        p.setColor(QPalette.Disabled, role, QColor(120, 122, 128))
    return p


def title_bar_icon(kind: str, palette: QPalette | None = None) -> QIcon:
    """A dock title-bar glyph ('close' or 'float') in the palette's text colour (the
    disabled text colour for the disabled state), at the usual sizes."""
    palette = palette or QGuiApplication.palette()
    icon = QIcon()
    for mode, group in ((QIcon.Normal, QPalette.Active), (QIcon.Disabled, QPalette.Disabled)):
        color = palette.color(group, QPalette.WindowText)
        for size in (10, 12, 14, 16, 20, 24, 32):
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.Antialiasing)
            pen = QPen(color, max(1.5, size / 9))
            pen.setCapStyle(Qt.RoundCap)
            painter.setPen(pen)
            m = size * 0.22
            if kind == "close":
                painter.drawLine(QPointF(m, m), QPointF(size - m, size - m))
                painter.drawLine(QPointF(size - m, m), QPointF(m, size - m))
            else:  # float: two overlapping windows
                side = size * 0.42
                painter.drawRect(QRectF(m + size * 0.14, m, side, side))
                painter.drawRect(QRectF(m, m + size * 0.14, side, side))
            painter.end()
            icon.addPixmap(pixmap, mode)
    return icon


#: Qt's names for a dock widget's title-bar buttons
DOCK_BUTTONS = {"qt_dockwidget_closebutton": "close", "qt_dockwidget_floatbutton": "float"}


class WorkbenchStyle(QProxyStyle):
    """Fusion, with the dock title-bar buttons drawn in the palette's text colour: Fusion's own
    are fixed dark-grey bitmaps, hard to see on the dark palette."""

    _GLYPHS = {QStyle.SP_TitleBarCloseButton: "close", QStyle.SP_DockWidgetCloseButton: "close",
               QStyle.SP_TitleBarNormalButton: "float"}

    def __init__(self):
        super().__init__("Fusion")

    def standardIcon(self, standard, option=None, widget=None):
        kind = self._GLYPHS.get(standard)
        if kind is None:
            return super().standardIcon(standard, option, widget)
        return title_bar_icon(kind)


def apply_theme(app, mode: str = "system") -> str:
    """Apply 'light', 'dark' or 'system'; returns the one in effect."""
    if not isinstance(app.style(), WorkbenchStyle):  # set once: the application owns it from then on
        app.setStyle(WorkbenchStyle())
    dark = system_is_dark() if mode == "system" else mode == "dark"
    app.setProperty("workbench_theme_mode", mode)
    app.setProperty("workbench_theme", "dark" if dark else "light")
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    _recolor_dock_buttons(app)
    return "dark" if dark else "light"


#: the docks alive now, by id: each leaves when Qt destroys it
_docks: dict[int, QDockWidget] = {}


def track_dock(dock: QDockWidget) -> QDockWidget:
    """Have *dock*'s title buttons follow theme changes.

    Only docks registered here are touched: walking ``app.allWidgets()`` reached widgets of
    windows being destroyed and crashed the process now and then.
    """
    key = id(dock)
    _docks[key] = dock
    dock.destroyed.connect(lambda *_: _docks.pop(key, None))
    return dock


def _recolor_dock_buttons(app) -> None:
    """Dock title buttons got their icons when the dock was built: give them the new theme's."""
    for dock in list(_docks.values()):
        for name, kind in DOCK_BUTTONS.items():
            button = dock.findChild(QAbstractButton, name)
            if button is not None:
                button.setIcon(title_bar_icon(kind))


def follow_system(app) -> None:
    """Re-apply the system theme when the system's changes, while 'system' is the choice."""
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorSchemeChanged") and not app.property("workbench_follows_system"):
        app.setProperty("workbench_follows_system", True)  # connect once per application

        def changed(*_):
            if app.property("workbench_theme_mode") in (None, "system"):
                apply_theme(app, "system")
        hints.colorSchemeChanged.connect(changed)


def is_dark() -> bool:
    app = QGuiApplication.instance()
    return bool(app) and app.property("workbench_theme") == "dark"
