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


def copy_samples(dest: Path, name: str = "samples") -> Path:
    """Copy the shipped samples into *dest*/*name* (a fresh copy each time)."""
    target = dest / name
    if target.exists():
        shutil.rmtree(target)
    with resources.as_file(samples_root()) as src:
        shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def free_demo_path(out: Path) -> tuple[Path, str]:
    """``demo.wbproj`` with ``samples/``, or the first free ``demo-N.wbproj`` with ``samples-N/``:
    an earlier demo project, and the triage done in it, is never replaced."""
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        path = out / f"demo{suffix}.wbproj"
        if not any(path.with_name(path.name + side).exists() for side in ("", "-wal", "-shm", ".lock")):
            return path, f"samples{suffix}"
        n += 1


def create_demo(out_dir: str | Path, registry, *, on_job=None, progress_factory=None) -> Path:
    """Build ``out_dir/demo.wbproj`` from scratch and run every plugin's demo jobs on it.

    ``on_job(spec, status, result)`` is called after each job; ``progress_factory(spec)``
    returns a progress callback for it. Returns the project path.
    """
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    path, samples_name = free_demo_path(out)
    samples = copy_samples(out, samples_name)
    with Project.create(path, name="Demo: credit-scoring model", plugins=registry.plugins) as project:
        project.set_meta("demo_samples", str(samples))
        for plugin in registry.plugins:
            for spec in plugin.demo_jobs(samples):
                progress = progress_factory(spec) if progress_factory else None
                _, status, result = run_in_process(project, spec, on_progress=progress)
                if on_job:
                    on_job(spec, status, result)
    return path
