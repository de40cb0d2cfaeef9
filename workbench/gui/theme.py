"""Light and dark palettes on the Fusion style, following the system by default."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QAbstractButton, QDockWidget


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


_SIZES = (10, 12, 14, 16, 20, 24, 32)  # the title-bar glyph's sizes (px), as Qt asks for a few


def _paint_title_bar_icon(kind: str, normal: QColor, disabled: QColor):
    """The glyph painted at the usual sizes, in *normal* and (disabled state) *disabled*: a QIcon."""
    from PySide6.QtCore import QPointF, QRectF
    from PySide6.QtGui import QIcon, QPainter, QPen, QPixmap  # (~2 ms of enums: not before a dock shows)

    icon = QIcon()
    for mode, color in ((QIcon.Normal, normal), (QIcon.Disabled, disabled)):
        for size in _SIZES:
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


#: painted glyphs by (kind, normal rgba, disabled rgba): one pair per theme, shared by every dock
#: (QIcon copies share their pixmaps)
_painted: dict = {}


def title_bar_icon(kind: str, palette: QPalette | None = None):
    """A dock title-bar glyph ('close' or 'float') in the palette's text colour (the
    disabled text colour for the disabled state), at the usual sizes: a QIcon.

    Only a dock's WorkbenchStyle asks for it, from when the dock is first shown (both docks start
    collapsed), and a theme change; each theme's glyphs are painted once."""
    palette = palette or QGuiApplication.palette()
    normal = palette.color(QPalette.Active, QPalette.WindowText)
    disabled = palette.color(QPalette.Disabled, QPalette.WindowText)
    key = (kind, normal.rgba(), disabled.rgba())
    icon = _painted.get(key)
    if icon is None:
        icon = _painted[key] = _paint_title_bar_icon(kind, normal, disabled)
    return type(icon)(icon)  # a copy (sharing the pixmaps): the caller may change it


#: Qt's names for a dock widget's title-bar buttons
DOCK_BUTTONS = {"qt_dockwidget_closebutton": "close", "qt_dockwidget_floatbutton": "float"}


#: the application style's name: the docks draw with WorkbenchStyle, a proxy of it
BASE_STYLE = "Fusion"


def _style_class():
    """WorkbenchStyle, defined on first use: PySide6 builds QStyle's many enums (~5-8 ms) when
    QProxyStyle is first imported, and no dock shows at start-up (both start collapsed)."""
    global _WorkbenchStyle
    if _WorkbenchStyle is None:
        from PySide6.QtWidgets import QProxyStyle, QStyle

        class WorkbenchStyle(QProxyStyle):
            """Fusion, with the dock title-bar buttons drawn in the palette's text colour: Fusion's
            own are fixed dark-grey bitmaps, hard to see on the dark palette."""

            _GLYPHS = {QStyle.SP_TitleBarCloseButton: "close", QStyle.SP_DockWidgetCloseButton: "close",
                       QStyle.SP_TitleBarNormalButton: "float"}

            def __init__(self):
                super().__init__(BASE_STYLE)

            def standardIcon(self, standard, option=None, widget=None):
                kind = self._GLYPHS.get(standard)
                if kind is None:
                    return super().standardIcon(standard, option, widget)
                return title_bar_icon(kind)

        _WorkbenchStyle = WorkbenchStyle
    return _WorkbenchStyle


_WorkbenchStyle = None


def __getattr__(name: str):
    if name == "WorkbenchStyle":  # theme.WorkbenchStyle, as before it was made lazy
        return _style_class()
    raise AttributeError(name)


def apply_theme(app, mode: str = "system") -> str:
    """Apply 'light', 'dark' or 'system'; returns the one in effect."""
    if not app.property("workbench_styled"):  # set once (make_app passes it to QApplication itself)
        app.setStyle(BASE_STYLE)
        app.setProperty("workbench_styled", True)
    dark = system_is_dark() if mode == "system" else mode == "dark"
    app.setProperty("workbench_theme_mode", mode)
    app.setProperty("workbench_theme", "dark" if dark else "light")
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    _recolor_dock_buttons(app)
    return "dark" if dark else "light"


class _StyleWhenShown(QObject):
    """Gives a dock its WorkbenchStyle when it is first shown (before it is painted)."""

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Show:
            obj.removeEventFilter(self)
            self.deleteLater()
            style = _style_class()()
            style.setParent(obj)  # the widget does not own its style: this dies with it
            obj.setStyle(style)  # the dock asks it for its title buttons' icons again
        return False


#: the docks alive now, by id: each leaves when Qt destroys it
_docks: dict[int, QDockWidget] = {}


def track_dock(dock: QDockWidget) -> QDockWidget:
    """Have *dock*'s title buttons drawn by WorkbenchStyle (from when it is first shown) and
    follow theme changes.

    Only docks registered here are touched: walking ``app.allWidgets()`` reached widgets of
    windows being destroyed and crashed the process now and then.
    """
    key = id(dock)
    _docks[key] = dock
    dock.installEventFilter(_StyleWhenShown(dock))
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
