"""Jobs in worker processes and in-process: done, failed, cancelled, killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from workbench.core.jobs import JobSpec, WorkerJob, run_in_process
from workbench.core.project import Project, validate

BATCH = 100
HANG_GUARD = 120  # seconds: only stops a broken test from hanging, never judges speed


def _spec(fn: str, **params) -> JobSpec:
    from wb_core_testjobs import plugin

    return plugin.job_spec(fn, **params)


def _poll_until(job: WorkerJob, condition) -> None:
    end = time.monotonic() + HANG_GUARD
    while not condition():
        job.poll()
        if job.finished and not condition():
            raise AssertionError(f"job ended early: {job.status}: {job.result}")
        assert time.monotonic() < end, f"gave up waiting (status {job.status}, done {job.tracker.done})"
        time.sleep(0.01)


def _finding_count(project, run_id) -> int:
    return project.conn.execute("SELECT COUNT(*) FROM findings WHERE run_id=?", (run_id,)).fetchone()[0]


# ------------------------------------------------------------------ SIGKILL
def test_sigkill_worker_keeps_committed_batches_and_marks_interrupted(tmp_path):
    path = tmp_path / "kill.wbproj"
    project = Project.create(path)
    job = WorkerJob(project, _spec("write_batches", batches=10_000, size=BATCH, pause=0.05))
    run_id = job.start()
    try:
        _poll_until(job, lambda: job.tracker.done >= 3)
        reported = job.tracker.done
        assert job.status == "running"
        os.kill(job.pid, signal.SIGKILL)
        _poll_until(job, lambda: job.finished)
    finally:
        if job._process is not None and job._process.is_alive():
            job._process.kill()
    assert job.status == "interrupted"
    assert "SIGKILL" in job.result
    assert job._process.exitcode == -signal.SIGKILL
    project.close()

    validate(path)  # the file is healthy after the kill
    with Project.open(path) as reopened:
        run = reopened.run(run_id)
        assert run["status"] == "interrupted"
        assert "SIGKILL" in run["message"]
        assert run["finished"]
        n = _finding_count(reopened, run_id)
        assert n % BATCH == 0, f"{n} findings: a batch was half-written"
        assert n >= reported * BATCH >= 3 * BATCH
        # every committed batch is complete and in order
        messages = {f["message"] for f in reopened.findings(run_id)}
        for b in range(n // BATCH):
            assert {f"batch {b} item {i}" for i in range(BATCH)} <= messages
        assert reopened.verify_events().ok


PARENT = textwrap.dedent("""
    import sys, time
    from workbench.core.jobs import JobSpec, WorkerJob
    from workbench.core.project import Project

    project = Project.open(sys.argv[1])
    job = WorkerJob(project, JobSpec(plugin="testplugin", job="write_batches",
                                     params={"batches": 10000, "size": int(sys.argv[2]), "pause": 0.05}))
    run_id = job.start()
    print("started", run_id, job.pid, flush=True)
    last = 0
    while True:
        job.poll()
        if job.tracker.done != last:
            last = job.tracker.done
            print("progress", int(last), flush=True)
        time.sleep(0.01)
""")


def _wait_gone(pid: int) -> None:
    """Wait until *pid* has exited (gone, or a zombie whose parent is dead)."""
    end = time.monotonic() + HANG_GUARD
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not end")


def test_parent_and_worker_killed_reopen_marks_interrupted(tmp_path):
    path = tmp_path / "orphan.wbproj"
    Project.create(path).close()
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(path), str(BATCH)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker_pid = None
    try:
        first = parent.stdout.readline().split()
        assert first and first[0] == "started", parent.stderr.read()
        run_id, worker_pid = int(first[1]), int(first[2])
        reported = 0
        while reported < 3:
            line = parent.stdout.readline()
            assert line, parent.stderr.read()
            reported = int(line.split()[1])
        # The parent first, so that it cannot notice the worker's death and record it itself.
        parent.kill()
        parent.wait(timeout=60)
        os.kill(worker_pid, signal.SIGKILL)
        _wait_gone(worker_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=60)
        if worker_pid is not None:
            try:
                os.kill(worker_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    with Project.open(path, readonly=True) as ro:  # read-only: nothing is marked yet
        assert ro.run(run_id)["status"] == "running"
        assert ro.run(run_id)["pid"] == worker_pid
    with Project.open(path) as reopened:  # a writer's open runs _mark_interrupted_runs
        run = reopened.run(run_id)
        assert run["status"] == "interrupted", run
        assert "ended without finishing" in run["message"]
        n = _finding_count(reopened, run_id)
        assert n % BATCH == 0
        assert n >= reported * BATCH >= 3 * BATCH
        assert reopened.verify_events().ok


def test_reopen_does_not_interrupt_a_run_whose_process_lives(tmp_project):
    """_mark_interrupted_runs only marks runs whose process is gone."""
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        live_run = tmp_project.create_run("testplugin", "live", {})
        tmp_project.start_run(live_run, pid=alive.pid)
        dead_run = tmp_project.create_run("testplugin", "dead", {})
        tmp_project.start_run(dead_run, pid=alive.pid)
        # a recycled pid: same number, another start time
        tmp_project.conn.execute("UPDATE runs SET pid_started = pid_started - 1000 WHERE id=?", (dead_run,))
        queued_run = tmp_project.create_run("testplugin", "queued", {})
        path = tmp_project.path
        tmp_project.close()
        with Project.open(path) as reopened:
            assert reopened.run(live_run)["status"] == "running"
            assert reopened.run(dead_run)["status"] == "interrupted"
            assert reopened.run(queued_run)["status"] == "interrupted"
    finally:
        alive.stdin.close()
        alive.wait(timeout=60)


# ------------------------------------------------------------------- cancel
def test_worker_cooperative_cancel(tmp_project):
    job = WorkerJob(tmp_project, _spec("write_batches", batches=10_000, size=10, pause=0.05))
    job.GRACE_SECONDS = HANG_GUARD  # the cooperative path only: never terminate here
    run_id = job.start()
    _poll_until(job, lambda: job.tracker.done >= 1)
    job.cancel()
    _poll_until(job, lambda: job.finished)
    assert job.status == "cancelled"
    job._process.join(HANG_GUARD)
    assert job._process.exitcode == 0  # it ended on its own
    run = tmp_project.run(run_id)
    assert run["status"] == "cancelled"
    assert run["message"] == "cancelled by the user"
    assert any("committed" in m for m in job.logs)
    n = _finding_count(tmp_project, run_id)
    assert n % 10 == 0 and n >= 10


def test_worker_ignoring_cancel_is_terminated(tmp_project):
    job = WorkerJob(tmp_project, _spec("ignore_cancel"))
    job.GRACE_SECONDS = 0.5
    run_id = job.start()
    _poll_until(job, lambda: job.tracker.done >= 1)
    job.cancel()
    _poll_until(job, lambda: job.finished)
    assert job.status == "cancelled"
    assert not job._process.is_alive()
    assert job._process.exitcode in (-signal.SIGTERM, -signal.SIGKILL)
    run = tmp_project.run(run_id)
    assert run["status"] == "cancelled"
    assert "terminated" in run["message"]
    assert run["finished"]


def test_cancel_after_finish_is_a_no_op(tmp_project):
    job = WorkerJob(tmp_project, _spec("write_batches", batches=2, size=5, pause=0))
    run_id = job.start()
    assert job.wait(timeout=HANG_GUARD) == "done"
    job.cancel()
    job.poll()
    assert job.status == "done"
    assert tmp_project.run(run_id)["status"] == "done"


# ------------------------------------------------------------- done / failed
def test_worker_done_stores_summary_and_findings(tmp_project):
    job = WorkerJob(tmp_project, _spec("write_batches", batches=3, size=7, pause=0))
    run_id = job.start()
    assert job.wait(timeout=HANG_GUARD) == "done"
    assert job.result == {"batches": 3, "findings": 21}
    run = tmp_project.run(run_id)
    assert run["status"] == "done"
    assert run["summary"] == {"batches": 3, "findings": 21}
    assert run["pid"] == job.pid and run["started"] and run["finished"]
    assert _finding_count(tmp_project, run_id) == 21
    assert job.tracker.done == 3 and job.tracker.total == 3  # the final progress is never coalesced away


def test_worker_failing_job_stores_error(tmp_project):
    job = WorkerJob(tmp_project, _spec("fail", code=4242))
    run_id = job.start()
    assert job.wait(timeout=HANG_GUARD) == "failed"
    assert job.result == "ValueError: boom 4242"
    run = tmp_project.run(run_id)
    assert run["status"] == "failed"
    assert "ValueError: boom 4242" in run["error"]
    assert "Traceback" in run["error"]
    assert tmp_project.verify_events().ok
    assert any("failed" in e["message"] for e in tmp_project.events())


def test_worker_unknown_job_reference_fails(tmp_project):
    job = WorkerJob(tmp_project, _spec("missing_function"))
    run_id = job.start()
    assert job.wait(timeout=HANG_GUARD) == "failed"
    assert "cannot load job testplugin.missing_function" in job.result
    assert "does_not_exist" in job.result
    assert tmp_project.run(run_id)["status"] == "failed"


def test_worker_unknown_job_name_fails(tmp_project):
    job = WorkerJob(tmp_project, JobSpec(plugin="testplugin", job="nope"))
    run_id = job.start()
    assert job.wait(timeout=HANG_GUARD) == "failed"
    assert "has no job 'nope'" in job.result
    assert tmp_project.run(run_id)["status"] == "failed"


def test_params_are_checked_before_a_run_is_created(tmp_project):
    from workbench.api import ParamsError

    with pytest.raises(ParamsError, match="unknown parameter.*batchez"):
        _spec("write_batches", batchez=3)
    with pytest.raises(ParamsError, match="expected a whole number"):
        _spec("write_batches", batches="three")
    assert tmp_project.runs() == []


# --------------------------------------------------------------- in process
def test_run_in_process_done_with_progress(tmp_project):
    seen, logs = [], []
    run_id, status, result = run_in_process(
        tmp_project, _spec("write_batches", batches=4, size=3, pause=0),
        on_progress=lambda d, t, m: seen.append((d, t, m)), on_log=logs.append)
    assert status == "done"
    assert result == {"batches": 4, "findings": 12}
    assert seen == [(b, 4, f"batch {b}") for b in range(1, 5)]
    assert len(logs) == 4
    run = tmp_project.run(run_id)
    assert run["status"] == "done" and run["summary"] == result and run["pid"] == os.getpid()


def test_run_in_process_scalar_summary_is_wrapped(tmp_project):
    run_id, status, result = run_in_process(tmp_project, _spec("return_scalar"))
    assert (status, result) == ("done", 7)
    assert tmp_project.run(run_id)["summary"] == {"result": 7}


def test_run_in_process_failed(tmp_project):
    run_id, status, result = run_in_process(tmp_project, _spec("fail", code=7))
    assert (status, result) == ("failed", "ValueError: boom 7")
    assert "boom 7" in tmp_project.run(run_id)["error"]


def test_run_in_process_workbench_error_is_stored_plainly(tmp_project):
    run_id, status, result = run_in_process(tmp_project, _spec("fail_clearly"))
    assert (status, result) == ("failed", "the target folder vanished")
    assert tmp_project.run(run_id)["error"] == "the target folder vanished"


def test_run_in_process_cancelled(tmp_project):
    run_id, status, _ = run_in_process(tmp_project, _spec("write_batches", batches=5, size=2, pause=0),
                                       cancel_check=lambda: True)
    assert status == "cancelled"
    assert tmp_project.run(run_id)["status"] == "cancelled"
    assert _finding_count(tmp_project, run_id) == 0


def test_run_in_process_keyboard_interrupt_is_cancelled(tmp_project):
    run_id, status, _ = run_in_process(tmp_project, _spec("interrupt"))
    assert status == "cancelled"
    assert tmp_project.run(run_id)["status"] == "cancelled"


def test_finish_run_rejects_active_statuses_and_is_final(tmp_project):
    run_id = tmp_project.create_run("testplugin", "x", {})
    for bad in ("queued", "running", "bogus"):
        with pytest.raises(ValueError):
            tmp_project.finish_run(run_id, bad)
    tmp_project.finish_run(run_id, "done", summary={"a": 1})
    tmp_project.finish_run(run_id, "failed", error="late")  # ignored: already final
    run = tmp_project.run(run_id)
    assert run["status"] == "done" and run["error"] is None
    with pytest.raises(ValueError):
        tmp_project.finish_run(9999, "done")
