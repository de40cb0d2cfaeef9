"""Shared fixtures: the digits CNN is trained once per test session (a few seconds on a CPU)."""

from __future__ import annotations

import copy

import pytest


@pytest.fixture(scope="session")
def digits_demo():
    from workbench_plugins.robustness import device, models

    device.select("cpu", threads=1)  # one thread: steadier on a shared machine
    loaded, train_set, test_set = models.demo_model(seed=0)
    return loaded, train_set, test_set


@pytest.fixture
def demo_copy(digits_demo):
    """A private copy of the trained model, for tests that change it."""
    loaded, train_set, test_set = digits_demo
    return copy.deepcopy(loaded.module), train_set, test_set


@pytest.fixture(scope="module")
def robustness_registered(tmp_path_factory):
    """Make the `workbench.plugins` entry point of this plugin visible, here and in subprocesses.

    Until the lead registers it in pyproject, a minimal dist-info folder put on
    sys.path and PYTHONPATH declares it (the real entry point mechanism). When
    it is registered already, nothing is added.
    """
    import importlib
    import os
    import sys
    from importlib import metadata

    from workbench.core.plugins import load_plugins

    if any(ep.name == "robustness" for ep in metadata.entry_points(group="workbench.plugins")):
        yield dict(os.environ)
        return
    site = tmp_path_factory.mktemp("robustness_ep")
    info = site / "wb_robustness_entry-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-robustness-entry\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[workbench.plugins]\nrobustness = workbench_plugins.robustness:plugin\n")
    old_path = os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), old_path])
    importlib.invalidate_caches()
    load_plugins(refresh=True)
    try:
        yield dict(os.environ)
    finally:
        sys.path.remove(str(site))
        os.environ["PYTHONPATH"] = old_path
        importlib.invalidate_caches()
        load_plugins(refresh=True)


@pytest.fixture
def project(tmp_path):
    from workbench.core.project import Project
    from workbench_plugins.robustness import plugin

    proj = Project.create(tmp_path / "rb.wbproj", plugins=[plugin])
    yield proj
    proj.close()


def robustness_registry():
    """A registry holding only this plugin, for run_in_process and build_report."""
    from workbench.core.plugins import PluginStatus, Registry
    from workbench_plugins.robustness import plugin

    return Registry([PluginStatus("robustness", "workbench_plugins.robustness:plugin", None, None, True,
                                  plugin=plugin)])
