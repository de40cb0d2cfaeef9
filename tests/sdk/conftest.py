"""The example plugin of docs/plugins.md, installed with pip into a folder and found through
its own entry point, as a user's plugin would be."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "example_plugin"


def _put_on_path(folder: Path) -> None:
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    importlib.invalidate_caches()


def _take_off_path(folder: Path) -> None:
    from workbench.core.plugins import load_plugins

    sys.path.remove(str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(folder))
    importlib.invalidate_caches()
    load_plugins(refresh=True)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory):
    """pip-installs docs/example_plugin (no index, no network) into a folder put on the path."""
    from workbench.core.plugins import load_plugins

    site = tmp_path_factory.mktemp("example_site")
    build = tmp_path_factory.mktemp("example_build")
    src = build / "example_plugin"
    import shutil

    shutil.copytree(EXAMPLE, src)  # pip builds in place: keep the checkout clean
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", str(site), str(src)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert list(site.glob("wb_example_plugin-*.dist-info")), list(site.iterdir())
    _put_on_path(site)
    load_plugins(refresh=True)
    yield site
    _take_off_path(site)


def write_dist(root: Path, name: str, module_source: str, ep_name: str) -> None:
    """A plugin module plus the dist-info that registers its entry point."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[workbench.plugins]\n{ep_name} = {name}:plugin\n")
    (root / f"{name}.py").write_text(module_source)


BROKEN_MIGRATION = '''
from workbench.api import Plugin

class BrokenMigration(Plugin):
    id = "brokenmig"
    title = "Broken migration"
    version = "0.1"
    tab = "brokenmig_tab:Tab"
    migrations = ((1, "CREATE TABLE brokenmig_items (id INTEGER);\\nTHIS IS NOT SQL;"),)

    def add_cli(self, cli):
        p = cli.command("brokenmig-hello", "say hello")
        p.add_argument("-p", "--project", required=True)
        p.set_defaults(func=self.hello)

    def hello(self, args):
        from workbench.api import open_project
        with open_project(args.project, plugin_id=self.id):
            print("hello")
        return 0

plugin = BrokenMigration()
'''


@pytest.fixture
def broken_migration_site(tmp_path):
    from workbench.core.plugins import load_plugins

    site = tmp_path / "broken_site"
    site.mkdir()
    write_dist(site, "brokenmig_plugin", BROKEN_MIGRATION, "brokenmig")
    (site / "brokenmig_tab.py").write_text(
        "from workbench.gui.api import PluginTab\n\nclass Tab(PluginTab):\n    pass\n")
    _put_on_path(site)
    load_plugins(refresh=True)
    yield site
    _take_off_path(site)
