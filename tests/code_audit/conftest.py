"""Fixtures for the code audit engine tests: real projects, real trees."""

from __future__ import annotations

import os
import shutil
import types
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "examples"


@pytest.fixture
def project(tmp_path):
    from workbench.core.project import Project
    from workbench_plugins.code_audit import store

    plugin = types.SimpleNamespace(id="code_audit", migrations=store.MIGRATIONS)
    proj = Project.create(tmp_path / "audit.wbproj", plugins=[plugin])
    yield proj
    proj.close()


@pytest.fixture
def run_audit(project):
    """Run the audit job like the CLI does; returns (run_id, summary)."""
    from workbench.core.jobs import JobContext
    from workbench_plugins.code_audit import engine

    def _run(params, cancel_check=None):
        run_id = project.create_run("code_audit", "audit", params, target=params["target"])
        ctx = JobContext(project, run_id, cancel_check=cancel_check)
        project.start_run(run_id)
        summary = engine.run(params, ctx)
        project.finish_run(run_id, "done", summary=summary)
        return run_id, summary

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
