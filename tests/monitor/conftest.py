"""Fixtures for the monitor tests: the plugin registered through an entry point, real projects."""

from __future__ import annotations

import importlib
import os
import sys
from importlib import metadata

import pytest


@pytest.fixture(scope="module")
def monitor_registered(tmp_path_factory):
    """Register ``monitor = workbench_plugins.monitor:plugin`` in the ``workbench.plugins`` group
    (a dist-info on the path, seen by this process and its subprocesses) unless pyproject already does.
    Module-scoped, so other test folders never see the extra plugin."""
    from workbench.core.plugins import load_plugins

    already = any(ep.name == "monitor" for ep in metadata.entry_points(group="workbench.plugins"))
    if already:
        yield None
        return
    site = tmp_path_factory.mktemp("monitor_ep")
    info = site / "wb_monitor_entry-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-monitor-entry\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[workbench.plugins]\nmonitor = workbench_plugins.monitor:plugin\n")
    sys.path.insert(0, str(site))
    old = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), old]) if old else str(site)
    importlib.invalidate_caches()
    load_plugins(refresh=True)
    yield site
    sys.path.remove(str(site))
    os.environ["PYTHONPATH"] = old
    importlib.invalidate_caches()
    load_plugins(refresh=True)


@pytest.fixture
def project(tmp_path, monitor_registered):
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    p = Project.create(tmp_path / "mon.wbproj", plugins=load_plugins().plugins)
    try:
        yield p
    finally:
        p.close()
