"""Small real target projects, written by the tests, and the interpreter that runs them.

The target runs with this venv's Python (it has pytest and coverage.py), passed
explicitly as the runner never defaults to the workbench's own interpreter.
Plugin autoloading is off in the targets' pytest, so that the workbench's own
pytest plugins (pytest-qt, pytest-socket...) do not slow every target run.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

PYTHON = sys.executable


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _quiet_target_pytest(monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


CALC = '''
    def add(a, b):
        return a + b


    def sign(x):
        if x > 0:
            return 1
        elif x < 0:
            return -1
        return 0


    def never_called():  # a range of missing lines
        y = 1
        y += 1
        return y


    def excluded():  # pragma: no cover
        return "excluded by the target's own config"
'''

CALC_TESTS = '''
    import pytest
    from calc import add, sign


    def test_add():
        assert add(1, 2) == 3


    def test_wrong():
        api_key = "key-value-that-must-not-be-stored"
        assert add(1, 1) == 3, f"api_key={api_key}"


    @pytest.mark.parametrize("x,expected", [(5, 1), (-5, -1)])
    def test_sign(x, expected):
        assert sign(x) == expected


    @pytest.mark.skip(reason="not today")
    def test_skipped():
        pass


    class TestGroup:
        def test_in_class(self):
            assert add(0, 0) == 0
'''

COVERAGERC = '''
    [run]
    branch = True
    source = calc
    [report]
    exclude_lines =
        pragma: no cover
'''


@pytest.fixture
def calc_target(tmp_path) -> Path:
    return write_tree(tmp_path / "calc_project", {
        "calc.py": CALC, "tests/test_calc.py": CALC_TESTS, ".coveragerc": COVERAGERC,
    })


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """The plugin registered through its entry point, as pyproject will do it (job workers too)."""
    from workbench.core.plugins import load_plugins

    if load_plugins(refresh=True).get("testing") is not None:
        yield
        return
    site = tmp_path / "site"
    info = site / "wb_testing_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-testing-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[workbench.plugins]\ntesting = workbench_plugins.testing:plugin\n")
    sys.path.insert(0, str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))
    importlib.invalidate_caches()
    load_plugins(refresh=True)
    try:
        yield
    finally:
        sys.path.remove(str(site))
        importlib.invalidate_caches()
        load_plugins(refresh=True)
