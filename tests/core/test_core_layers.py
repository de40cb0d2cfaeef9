"""Layering: the core, the CLI and the plugins' engines import no Qt and no torch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from wb_core_helpers import REPO_ROOT

IMPORT_ALL = textwrap.dedent("""
    import importlib, json, pkgutil, sys

    import workbench.api, workbench.cli, workbench.core
    import workbench_plugins
    from workbench.core.plugins import load_plugins

    load_plugins()  # every plugin's package, as at start-up
    heavy = lambda tops: sorted(m for m in sys.modules if m.split(".")[0] in tops)
    at_startup = heavy(("PySide6", "torch", "pyqtgraph", "shiboken6", "pandas", "polars"))

    names = ["workbench.cli"]
    for pkg, prefix in ((workbench.core, "workbench.core."), (workbench_plugins, "workbench_plugins.")):
        for info in pkgutil.walk_packages(pkg.__path__, prefix, onerror=lambda name: None):
            names.append(info.name)
    names = sorted(n for n in set(names) if not (n.endswith(".tab") or ".tab." in n))
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"imported": names, "failed": failed, "at_startup": at_startup,
                      "qt": heavy(("PySide6", "pyqtgraph", "shiboken6"))}))
""")


def test_start_up_imports_no_qt_or_torch_and_engines_no_qt():
    """The core, the SDK, the CLI and every plugin's package import neither Qt nor heavy libraries;
    the engines (imported by jobs only) may import torch or pandas, but never Qt."""
    import json

    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=300,
                            cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "workbench.core.project" in report["imported"]
    assert "workbench.core.jobs" in report["imported"]
    assert any(n.startswith("workbench_plugins.") for n in report["imported"])
    assert report["failed"] == {}, report["failed"]
    assert report["at_startup"] == []
    assert report["qt"] == [], f"imported by {report['imported']}"


def test_cli_start_imports_no_qt_or_torch():
    code = ("import sys; from workbench import cli; cli.build_parser(cli._registry()); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'pyqtgraph')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).parent / "lint-imports"
    assert exe.exists() or shutil.which("lint-imports"), "import-linter is not installed"
    result = subprocess.run([str(exe if exe.exists() else "lint-imports")], capture_output=True, text=True,
                            timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_report_command_renders_without_the_gui_package(tmp_path):
    from workbench.core.project import Project

    with Project.create(tmp_path / "p.wbproj"):
        pass
    code = ("import sys; from workbench import cli; "
            f"rc = cli.main(['report', {str(tmp_path / 'p.wbproj')!r}, '-o', {str(tmp_path / 'r.pdf')!r}]); "
            "print(rc, sorted(m for m in sys.modules if m.startswith(('workbench.gui', 'PySide6.QtWidgets'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 []"
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
