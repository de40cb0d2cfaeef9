"""A plugin that fails to load is reported with its error; the others still load."""

from __future__ import annotations

import importlib
import os
import sys

import pytest

from wb_core_helpers import run_cli
from workbench.core.plugins import load_plugins


def _dist(root, name: str, module_source: str, entry: str, *, ep_name: str) -> None:
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[workbench.plugins]\n{ep_name} = {entry}\n")
    (root / f"{name}.py").write_text(module_source)


@pytest.fixture
def plugin_dir(tmp_path):
    _dist(tmp_path, "broken_wb_plugin",
          "raise ImportError('needs the frobnicator library, which is not installed')\n",
          "broken_wb_plugin:plugin", ep_name="broken")
    _dist(tmp_path, "good_wb_plugin",
          "from workbench.core.plugins import Plugin\n\n"
          "class GoodPlugin(Plugin):\n    id = 'good'\n    title = 'Good test plugin'\n    version = '1.2.3'\n\n"
          "plugin = GoodPlugin()\n",
          "good_wb_plugin:plugin", ep_name="good")
    _dist(tmp_path, "faceless_wb_plugin", "plugin = object()\n", "faceless_wb_plugin:plugin", ep_name="faceless")
    return tmp_path


def test_cli_plugins_reports_the_broken_one(plugin_dir):
    env_path = os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])
    result = run_cli("plugins", env_extra={"PYTHONPATH": env_path})
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "FAILED" in lines["broken"]
    assert "ImportError: needs the frobnicator library" in lines["broken"]
    assert "loaded" in lines["good"] and "1.2.3" in lines["good"] and "Good test plugin" in lines["good"]
    assert "FAILED" in lines["faceless"]
    assert "code_audit" in lines  # the built-in plugin is listed, loaded or not
    assert "plugin 'broken' failed to load" in result.stderr


def test_cli_plugins_without_broken_plugins(tmp_path):
    result = run_cli("plugins")
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert "code_audit" in listed
    assert result.returncode == (1 if "FAILED" in result.stdout else 0)


def test_load_plugins_in_process(plugin_dir):
    sys.path.insert(0, str(plugin_dir))
    importlib.invalidate_caches()
    try:
        registry = load_plugins(refresh=True)
        by_name = {s.name: s for s in registry.statuses}
        broken = by_name["broken"]
        assert broken.loaded is False
        assert broken.error == "ImportError: needs the frobnicator library, which is not installed"
        assert "Traceback" in broken.traceback
        assert broken.distribution == "broken_wb_plugin" and broken.version == "0.1"
        assert by_name["faceless"].loaded is False and "lacks id, title, version" in by_name["faceless"].error
        good = registry.get("good")
        assert good is not None and good.title == "Good test plugin"
        assert by_name["good"].version == "1.2.3"
        assert "code_audit" in by_name
        assert {s.name for s in registry.failed} >= {"broken", "faceless"}
        assert "good" not in {s.name for s in registry.failed}
        assert load_plugins() is registry  # cached
        errors = []
        load_plugins(refresh=True, on_error=errors.append)
        assert {s.name for s in errors} >= {"broken", "faceless"}
    finally:
        sys.path.remove(str(plugin_dir))
        for mod in ("broken_wb_plugin", "good_wb_plugin", "faceless_wb_plugin"):
            sys.modules.pop(mod, None)
        importlib.invalidate_caches()
        load_plugins(refresh=True)
    assert "broken" not in {s.name for s in load_plugins().statuses}
