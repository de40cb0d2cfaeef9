"""Versions of what we run on, read from package metadata: importing torch to ask
its version would cost seconds at start-up, so we never do."""

from __future__ import annotations

import platform
from importlib import metadata

from workbench import __version__

_DISTRIBUTIONS = {
    "Qt bindings (PySide6)": "PySide6-Essentials",
    "torch": "torch",
    "bandit": "bandit",
    "SQLCipher driver": "sqlcipher3-binary",
    "keyring": "keyring",
    "pyqtgraph": "pyqtgraph",
}


def dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    import sqlite3

    out = {
        "AI Security Workbench": __version__,
        "Python": platform.python_version(),
        "Platform": platform.platform(terse=True),
        "SQLite": sqlite3.sqlite_version,
    }
    from workbench.core import project_crypto

    if project_crypto.available():
        conn = project_crypto.cipher_module().connect(":memory:")
        out["SQLCipher (encrypted projects)"] = conn.execute("PRAGMA cipher_version").fetchone()[0]
        conn.close()
    for label, dist in _DISTRIBUTIONS.items():
        out[label] = dist_version(dist)
    return out
