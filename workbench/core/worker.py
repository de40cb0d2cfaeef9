"""Running a plugin's job from a test or a script, as the CLI and the window run it.

:func:`run_in_process` runs the job here (the CLI's way); :func:`run_in_worker` runs it in a
worker process started with ``spawn`` (the window's way: a fresh interpreter that imports the
job's module by name, gets its progress and cancel over a queue). A script that starts a worker
must keep its own work under ``if __name__ == "__main__":``: the worker imports the script's
main module again, and without the guard would run the script a second time.
"""

from __future__ import annotations

from typing import Any, Callable

from workbench.core.plugins import JobSpec


def run_in_process(project, spec: JobSpec, *, on_progress: Callable | None = None,
                   on_log: Callable[[str], None] | None = None) -> tuple[int, str, Any]:
    """Run *spec* here and now; returns (run id, status, summary or error text). The run is
    recorded in *project* (a writable project) like any other."""
    from workbench.core import jobs

    return jobs.run_in_process(project, spec, on_progress=on_progress, on_log=on_log)


def run_in_worker(project, spec: JobSpec, *, timeout: float | None = 600.0,
                  on_progress: Callable[[float, float | None, str], None] | None = None) -> tuple[int, str, Any]:
    """Run *spec* in a worker process, as the window does, and wait for it: (run id, status,
    summary or error text). *on_progress(done, total, message)* sees the job's progress.

    Past *timeout* seconds the job is cancelled (cooperatively, then its process is ended) and
    the status says so. Returns only once the worker process has ended.
    """
    from workbench.core.jobs import WorkerJob

    job = WorkerJob(project, spec)

    def progress(message: tuple) -> None:
        if on_progress is not None and message[0] == "progress":
            on_progress(*message[1:])

    run_id = job.start()
    try:
        job.wait(timeout, on_message=progress)
        if not job.finished:  # past the timeout: cancel; poll() ends the worker after its grace period
            job.cancel()
            job.wait(on_message=progress)
    except BaseException:
        job.terminate()
        raise
    job.terminate()  # already ended: a no-op; left over (a stuck exit): ended here
    return run_id, job.status, job.result
