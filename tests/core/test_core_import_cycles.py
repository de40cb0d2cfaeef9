"""The core's module graph has no cycles, imports inside functions included (a function-level
import hides a cycle from Python at import time, not from a reader or from a refactoring).

The check itself is import-linter's ``acyclic_siblings`` contract on ``workbench.core``
(pyproject.toml; run by ``tests/core/test_core_layers.py::test_import_linter_contracts_hold``).
This test shows that the contract sees what the old code did: a cycle closed only by an import
inside a function."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CONTRACT = """
[importlinter]
root_package = cyclepkg

[importlinter:contract:1]
name = no cycles
type = acyclic_siblings
ancestors = cyclepkg
"""


def _lint(tmp_path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"
    (tmp_path / "lint.ini").write_text(CONTRACT)
    return subprocess.run([str(exe), str(tmp_path / "lint.ini"), "--no-cache"], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)


def test_a_cycle_through_an_import_inside_a_function_breaks_the_contract(tmp_path):
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg.b import helper\n")
    (pkg / "b.py").write_text(textwrap.dedent("""
        def helper():
            from cyclepkg.c import thing
            return thing
    """))
    (pkg / "c.py").write_text("import cyclepkg.a\nthing = 1\n")
    (pkg / "leaf.py").write_text("import os\n")
    result = _lint(tmp_path)
    assert result.returncode != 0 and "no cycles BROKEN" in result.stdout, result.stdout[-2000:]
    # without the import inside the function the same package keeps it
    (pkg / "b.py").write_text("def helper():\n    return 1\n")
    result = _lint(tmp_path)
    assert result.returncode == 0 and "no cycles KEPT" in result.stdout, result.stdout[-2000:]
