"""Painting reports and charts with QtGui only (no widgets, no window): ``workbench report``
runs it headless without importing the GUI package."""
