"""Fixtures for the code audit engine tests: real projects, real trees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "examples"


@pytest.fixture
def project(tmp_path):
    from workbench.core.project import Project
    from workbench_plugins.code_audit import plugin

    proj = Project.create(tmp_path / "audit.wbproj", plugins=[plugin])
    yield proj
    proj.close()


@pytest.fixture
def store(project):
    return project.store("code_audit")


@pytest.fixture
def run_audit(project):
    """Run the audit job as the CLI does; returns (run_id, summary)."""
    from workbench.core.jobs import Cancelled, run_in_process
    from workbench_plugins.code_audit import plugin

    def _run(params, cancel_check=None):
        run_id, status, result = run_in_process(project, plugin.job_spec("audit", **params),
                                                cancel_check=cancel_check)
        if status == "cancelled":
            raise Cancelled()
        assert status == "done", result
        return run_id, result

    return _run


@pytest.fixture(scope="session")
def demo_tree(tmp_path_factory):
    from workbench_plugins.code_audit import engine

    return engine.prepare_demo(str(tmp_path_factory.mktemp("demo") / "vulnerable_ml"))


def copy_tree(src: str, dest: Path) -> str:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return str(dest)


def bandit_exe() -> str:
    import sys

    return os.path.join(os.path.dirname(sys.executable), "bandit")
