"""WCAG 2 contrast, written here independently of the code under test."""

from __future__ import annotations

from collections import Counter

from PySide6.QtGui import QColor


def luminance(color: QColor) -> float:
    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(color.redF()) + 0.7152 * lin(color.greenF()) + 0.0722 * lin(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def rendered_contrast(widget) -> float:
    """Contrast of what a widget really draws: its most common colour (the background) against
    the pixel that stands out most from it (the glyph)."""
    image = widget.grab().toImage()
    pixels = Counter(image.pixel(x, y) for x in range(image.width()) for y in range(image.height()))
    background = QColor.fromRgb(pixels.most_common(1)[0][0])
    return max(contrast(background, QColor.fromRgb(p)) for p in pixels)
