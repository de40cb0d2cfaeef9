"""Light and dark palettes on the Fusion style, following the system by default."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette


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


def apply_theme(app, mode: str = "system") -> str:
    """Apply 'light', 'dark' or 'system'; returns the one in effect."""
    app.setStyle("Fusion")
    dark = system_is_dark() if mode == "system" else mode == "dark"
    app.setProperty("workbench_theme", "dark" if dark else "light")
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return "dark" if dark else "light"


def follow_system(app) -> None:
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda *_: apply_theme(app, "system"))


def is_dark() -> bool:
    app = QGuiApplication.instance()
    return bool(app) and app.property("workbench_theme") == "dark"
