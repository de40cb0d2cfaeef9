"""The built-in demo: a project made from the samples shipped in ``workbench_resources``."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from workbench.core.jobs import run_in_process
from workbench.core.project import Project

DEMO_PROJECT_NAME = "demo.wbproj"


def samples_root():
    return resources.files("workbench_resources") / "demo"


def copy_samples(dest: Path) -> Path:
    """Copy the shipped samples into *dest*/samples (a fresh copy each time)."""
    target = dest / "samples"
    if target.exists():
        shutil.rmtree(target)
    with resources.as_file(samples_root()) as src:
        shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def create_demo(out_dir: str | Path, registry, *, on_job=None, progress_factory=None) -> Path:
    """Build ``out_dir/demo.wbproj`` from scratch and run every plugin's demo jobs on it.

    ``on_job(spec, status, result)`` is called after each job; ``progress_factory(spec)``
    returns a progress callback for it. Returns the project path.
    """
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    path = out / DEMO_PROJECT_NAME
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if stale.exists():
            stale.unlink()
    samples = copy_samples(out)
    with Project.create(path, name="Demo: credit-scoring model", plugins=registry.plugins) as project:
        project.set_meta("demo_samples", str(samples))
        for plugin in registry.plugins:
            for spec in plugin.demo_jobs(samples):
                progress = progress_factory(spec) if progress_factory else None
                _, status, result = run_in_process(project, spec, on_progress=progress)
                if on_job:
                    on_job(spec, status, result)
    return path
