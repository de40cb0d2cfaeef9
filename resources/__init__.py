"""Data shipped with the workbench (demo samples, report assets), read with importlib.resources."""
