"""Jobs: plain ``run(params, ctx) -> summary`` functions, run two ways.

* :func:`run_in_process` for the CLI and tests: the job runs here, progress
  goes to a callback (the terminal bar).
* :class:`WorkerJob` for the GUI: the job runs in a spawned process that
  opens the project itself; progress and the result come back over a queue,
  and cancel is cooperative first, then the process is terminated.

A spec names a plugin and one of its jobs (:class:`workbench.core.plugins.JobDef`);
the function is found through the plugin registry, by its dotted path, only in
the process that runs it, so the parent never imports the job's heavy
libraries (torch stays out of the GUI process). The function receives its
params dataclass, checked again in that process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import time
import traceback
import weakref
from typing import Any, Callable

from workbench.core import project_crypto, secrets
from workbench.core.cancel import Cancelled
from workbench.core.errors import WorkbenchError
from workbench.core.plugins import JobSpec, load_plugins, resolve
from workbench.core.progress import ProgressTracker

__all__ = ["Cancelled", "JobContext", "JobSpec", "NullContext", "WorkerJob", "resolve", "run_in_process"]


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when *parent_pid* does, SIGKILL included (Linux: PR_SET_PDEATHSIG).

    For the initializer of a job's process pool, and for the GUI's job workers: an orphan
    would go on writing to the project, and a forked one would keep the project's lock.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the call took effect
        os._exit(1)


def job_callable(spec: JobSpec, registry=None) -> tuple[Callable, Any]:
    """The job's function and its params dataclass instance, from the plugin registry."""
    from workbench.core.params import build_params

    registry = registry or load_plugins()
    jobdef = registry.jobdef(spec.plugin, spec.job)
    params = build_params(jobdef.params, spec.params, job=f"{spec.plugin}.{spec.job}")
    return resolve(jobdef.function), params


class JobContext:
    """What a job function sees: progress, cancel, log, its plugin's store and its run."""

    def __init__(self, project, run_id: int, *, plugin: str | None = None, on_progress=None, on_log=None,
                 cancel_check=None):
        from workbench.core.plugin_store import PluginStore

        self.project = project
        self.run_id = run_id
        self.store = PluginStore(project, plugin) if plugin and project is not None else None
        self._on_progress = on_progress
        self._on_log = on_log
        self._cancel_check = cancel_check or (lambda: False)

    def progress(self, done: float, total: float | None = None, message: str = "") -> None:
        if self._on_progress:
            self._on_progress(done, total, message)

    def check_cancelled(self) -> None:
        if self._cancel_check():
            raise Cancelled()

    @property
    def cancelled(self) -> bool:
        return bool(self._cancel_check())

    def secret(self, name: str) -> str | None:
        """A secret of the project (OS keyring, or the user's encrypted file); None without a project."""
        return self.store.get_secret(name) if self.store is not None else None

    def log(self, message: str) -> None:
        if self._on_log:
            self._on_log(message)


class NullContext(JobContext):
    """For calling an engine without a job: progress and log go to callbacks (or nowhere),
    cancel never happens, and there is no project or run."""

    def __init__(self, *, on_progress=None, on_log=None, cancel_check=None):
        super().__init__(None, 0, on_progress=on_progress, on_log=on_log, cancel_check=cancel_check)


def _execute(project, run_id: int, fn: Callable, params: Any, ctx: JobContext) -> tuple[str, Any]:
    """Run *fn* and record its outcome on the run row. Returns (status, summary or error).

    When even the outcome cannot be written (a full disk), the reason goes into the run's
    note, and the next open marks the run interrupted with it."""
    from workbench.core.errors import StorageFullError

    try:
        return _execute_and_record(project, run_id, fn, params, ctx)
    except StorageFullError as exc:
        project.note_failure(run_id, f"stopped by a full disk: {exc}")
        raise
    finally:
        _log_network_decisions(project, run_id)


def _log_network_decisions(project, run_id: int) -> list[str]:
    """Every connection the offline guard refused (or let through to an allowed host) during the
    job, in this process or one it started, becomes an entry of the audit log. Returns the
    refusals in words, for the run's summary."""
    from workbench.core import netguard

    decisions = netguard.take_decisions()
    for d in decisions:
        verb = "allowed" if d["allowed"] else "refused"
        try:
            project.log_event("network", f"{verb} connection to {d['host']}:{d['port']} (run {run_id}; "
                              f"{d.get('via', 'socket')}, pid {d.get('pid', '?')})", data={**d, "run_id": run_id})
        except Exception:  # the log is best effort here: the job's own outcome is already recorded
            pass
    return netguard.describe([d for d in decisions if not d["allowed"]])


def _refusals(project, run_id: int) -> str | None:
    """A failed run's message: the connections the guard refused while it ran (logged first)."""
    refused = _log_network_decisions(project, run_id)
    return ("network refused: " + "; ".join(refused)) if refused else None


def _execute_and_record(project, run_id: int, fn: Callable, params: Any, ctx: JobContext) -> tuple[str, Any]:
    project.start_run(run_id)
    try:
        summary = fn(params, ctx)
    except (Cancelled, KeyboardInterrupt):
        project.finish_run(run_id, "cancelled", message="cancelled by the user")
        return "cancelled", None
    except WorkbenchError as exc:
        project.finish_run(run_id, "failed", error=str(exc), message=_refusals(project, run_id))
        return "failed", str(exc)
    except Exception as exc:  # a job's bug must not take the host down
        project.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                           message=_refusals(project, run_id))
        return "failed", f"{type(exc).__name__}: {exc}"
    stored = summary if isinstance(summary, dict) else {"result": summary}
    refused = _log_network_decisions(project, run_id)  # before the run is sealed: shown in its summary
    if refused:
        stored = {**stored, "network_refused": refused}
        summary = stored if isinstance(summary, dict) else summary
    project.finish_run(run_id, "done", summary=stored)
    return "done", summary


def run_in_process(project, spec: JobSpec, *, on_progress=None, on_log=None, cancel_check=None,
                   registry=None) -> tuple[int, str, Any]:
    """Run a job here and now. Returns (run_id, status, summary-or-error)."""
    fn, params = job_callable(spec, registry)
    run_id = project.create_run(spec.plugin, spec.job, spec.params, title=spec.title, target=spec.target)
    ctx = JobContext(project, run_id, plugin=spec.plugin, on_progress=on_progress, on_log=on_log,
                     cancel_check=cancel_check)
    status, result = _execute(project, run_id, fn, params, ctx)
    return run_id, status, result


# ------------------------------------------------------------ worker process
def _worker_main(project_path: str, run_id: int, spec: JobSpec, out_q, cancel_event, parent_pid: int,
                 keys: dict | None = None, unlocked: dict | None = None, in_q=None,
                 cluster_address: str | None = None) -> None:
    from workbench.core.project import Project

    from workbench.core import netguard, project_crypto, secrets

    netguard.install()
    project_crypto.remember(keys or {})  # an encrypted project's key, from the parent through the pipe
    # The encrypted secrets file as unlocked in the window, now or later (Credentials → Unlock).
    with contextlib.suppress(Exception):  # a stale state: the job meets the usual "locked" message
        secrets.adopt_unlocked_state(unlocked)
    if in_q is not None:
        secrets.set_parent_unlock(lambda: _latest_message(in_q))
    if hasattr(os, "setpgrp"):
        # Own process group: a forced cancel ends the job's own helper processes too.
        os.setpgrp()
    die_with_parent(parent_pid)
    try:
        project = Project.open(project_path, worker=True)
    except Exception as exc:  # the parent records the failure: we could not open the file
        out_q.put(("failed", f"the worker could not open the project: {exc}"))
        return
    try:
        last = [0.0]

        def on_progress(done, total, message):
            now = time.monotonic()
            # Coalesce: the GUI repaints at most ~20 times a second anyway.
            if now - last[0] >= 0.05 or (total and done >= total):
                last[0] = now
                out_q.put(("progress", done, total, message))

        ctx = JobContext(project, run_id, plugin=spec.plugin, on_progress=on_progress,
                         on_log=lambda m: out_q.put(("log", m)), cancel_check=cancel_event.is_set)
        if cluster_address:
            _use_cluster_when_asked(cluster_address, out_q)
        try:
            fn, params = job_callable(spec)
        except Exception as exc:
            why = f"cannot load job {spec.plugin}.{spec.job}: {exc}"
            project.start_run(run_id)
            project.finish_run(run_id, "failed", error=why)
            out_q.put(("failed", why))
            return
        status, result = _execute(project, run_id, fn, params, ctx)
        if cluster_address and "workbench.core.cluster" in sys.modules:
            with contextlib.suppress(Exception):  # the last count of tasks; the outcome matters more
                _report_cluster(out_q)
        out_q.put((status, result))
    finally:
        project.close()


#: how often a job on a cluster reports the cluster's nodes (they come and go)
NODES_EVERY_S = 5.0


def _use_cluster_when_asked(address: str, out_q) -> None:
    """The window's Cluster setting: the job runs its tasks on *address* as the CLI's ``--ray`` does,
    connecting when the job first asks for the cluster (a job that never asks never imports Ray).
    Once connected, the nodes go to the parent now and every few seconds: the jobs dock shows them."""
    import threading

    from workbench.core import cluster

    def report(c) -> None:
        _report_cluster(out_q)
        out_q.put(("log", c.describe()))

        def keep_reporting() -> None:
            while cluster.connected() is c:
                time.sleep(NODES_EVERY_S)
                try:
                    _report_cluster(out_q)
                except Exception:  # the run is ending or the cluster went away: the job says why
                    return

        threading.Thread(target=keep_reporting, daemon=True, name="cluster-nodes").start()

    cluster.use_when_asked(address, report)


def _report_cluster(out_q) -> None:
    """The connected cluster's address, nodes and the tasks this job sent it, to the parent."""
    from workbench.core import cluster

    c = cluster.connected()
    if c is not None:
        out_q.put(("cluster", {"address": c.address, "nodes": c.nodes(), "tasks": c.tasks_submitted}))


class WorkerJob:
    """A job in a separate process. Poll it from the GUI's timer with :meth:`poll`.

    *cluster*: a Ray address (the window's Cluster setting); the job's tasks run there when the
    job can use a cluster, as with the CLI's ``--ray``. :attr:`cluster` then holds the address
    and the nodes (``{"address", "nodes": [...]}``) as the worker last reported them."""

    GRACE_SECONDS = 3.0

    def __init__(self, project, spec: JobSpec, cluster: str | None = None):
        self.project = project
        self.spec = spec
        self.cluster_address = (cluster or "").strip() or None
        self.cluster: dict | None = None
        self.run_id: int | None = None
        self.status = "queued"
        self.result: Any = None
        self.tracker = ProgressTracker()
        self.message = ""
        self.logs: list[str] = []
        import multiprocessing as mp  # here, not at import: the window starts without it

        self._ctx = mp.get_context("spawn")
        self._queue = self._ctx.Queue()
        self._cancel = self._ctx.Event()
        self._inbox = self._ctx.Queue()  # parent → worker: the secrets file unlocked after the start
        self._process = None
        self._cancel_requested_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def finished(self) -> bool:
        return self.status not in ("queued", "running")

    def start(self) -> int:
        self.run_id = self.project.create_run(self.spec.plugin, self.spec.job, self.spec.params,
                                              title=self.spec.title, target=self.spec.target)
        self._process = self._ctx.Process(
            target=_worker_main,
            args=(str(self.project.path), self.run_id, self.spec, self._queue, self._cancel, os.getpid(),
                  project_crypto.keys_for_worker(self.project), secrets.unlocked_state_for_worker(),
                  self._inbox, self.cluster_address),
            name=f"workbench-job-{self.run_id}",
            # Not a daemon: a job may start its own process pool (bandit, detect-secrets).
            # _terminate_leftovers() ends any still running when this process exits.
            daemon=False,
        )
        self._process.start()
        _live_workers.add(self)
        self.status = "running"
        self.tracker.start()
        return self.run_id

    def send_unlocked_secrets(self) -> None:
        """Hand the secrets file, unlocked in this process since the job started, to the worker."""
        state = secrets.unlocked_state_for_worker()
        if state is not None and not self.finished:
            self._inbox.put(state)

    def cancel(self) -> None:
        if self.finished:
            return
        self._cancel.set()
        self._cancel_requested_at = time.monotonic()

    def poll(self) -> list[tuple]:
        """Drain messages; detect a dead or stuck worker. Returns the messages seen."""
        import queue as _queue

        seen = []
        while True:
            try:
                msg = self._queue.get_nowait()
            except _queue.Empty:
                break
            except (EOFError, OSError):
                break
            seen.append(msg)
            self._apply(msg)
        if self.finished or self._process is None:
            return seen
        if not self._process.is_alive():
            # Messages may still be in flight after exit; give the pipe one last look.
            self._process.join(0.1)
            for msg in self._drain_blocking(0.2):
                seen.append(msg)
                self._apply(msg)
            if not self.finished:
                code = self._process.exitcode
                self._finish_dead(code)
                seen.append(("interrupted", code))
        elif self._cancel_requested_at and time.monotonic() - self._cancel_requested_at > self.GRACE_SECONDS:
            self.terminate()
            self.project.finish_run(self.run_id, "cancelled", message="cancelled by the user (worker terminated)")
            self.status = "cancelled"
            seen.append(("cancelled", None))
        return seen

    def terminate(self) -> None:
        """End the worker and every process it started (its process group)."""
        proc = self._process
        if proc is None or not proc.is_alive():
            return
        _signal_group(proc.pid, "SIGTERM", proc.terminate)
        proc.join(2)
        if proc.is_alive():
            _signal_group(proc.pid, "SIGKILL", proc.kill)
            proc.join(2)

    def wait(self, timeout: float | None = None, interval: float = 0.05,
             on_message: Callable[[tuple], None] | None = None) -> str:
        """Poll until the job ends or *timeout* seconds pass; *on_message* sees each message."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            for message in self.poll():
                if on_message is not None:
                    on_message(message)
            if end is not None and time.monotonic() > end:
                break
            time.sleep(interval)
        return self.status

    def _drain_blocking(self, timeout: float):
        import queue as _queue

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                yield self._queue.get(timeout=0.05)
            except _queue.Empty:
                if not self._process.is_alive():
                    return
            except (EOFError, OSError):
                return

    def _apply(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "progress":
            _, done, total, message = msg
            self.tracker.update(done, total)
            if message:
                self.message = message
        elif kind == "log":
            self.logs.append(msg[1])
        elif kind == "cluster":
            self.cluster = msg[1]
        elif kind in ("done", "failed", "cancelled"):
            self.status = kind
            self.result = msg[1]
            if kind == "failed":
                # Normally the worker recorded this itself; if it never could, record it here.
                self.project.finish_run(self.run_id, "failed", error=str(msg[1]))
            if self._process is not None:
                self._process.join(2)

    def _finish_dead(self, exitcode) -> None:
        why = f"the worker process ended unexpectedly (exit code {exitcode})"
        if exitcode is not None and exitcode < 0:
            import signal

            try:
                why = f"the worker process was killed by {signal.Signals(-exitcode).name}"
            except ValueError:
                pass
        self.project.finish_run(self.run_id, "interrupted", message=why)
        self.status = "interrupted"
        self.result = why


def _signal_group(pid: int, name: str, fallback) -> None:
    import signal

    if hasattr(os, "killpg"):
        try:
            os.killpg(pid, getattr(signal, name))
            return
        except (ProcessLookupError, PermissionError):
            pass
    fallback()


_live_workers: "weakref.WeakSet[WorkerJob]" = weakref.WeakSet()


def _latest_message(q):
    """The newest message waiting on *q*, or None (never blocks)."""
    import queue as _queue

    latest = None
    while True:
        try:
            latest = q.get_nowait()
        except (_queue.Empty, EOFError, OSError):
            return latest


def share_unlocked_secrets() -> None:
    """After an unlock here: running workers get the derived key too (future ones get it at start)."""
    for job in list(_live_workers):
        job.send_unlocked_secrets()


@atexit.register
def _terminate_leftovers() -> None:
    """Registered after multiprocessing's own exit hook, so it runs first: workers
    are not daemons, and without this the exit would wait for them to finish."""
    for job in list(_live_workers):
        job.terminate()
