"""Running a job's tasks on an existing Ray cluster (``--ray ADDRESS|auto``).

The workstation stays the single writer of the project file: tasks run on the cluster and their
results stream back to the driver (this process), which commits them in batches. Nothing here
imports Ray at module import: ``ray`` enters ``sys.modules`` only when a command is given ``--ray``
(or a test starts a local instance).

Network: the offline guard (:mod:`workbench.core.netguard`) is told to allow exactly the host of
the cluster address given, nothing else. A local instance (tests, benchmarks, ``--ray local``)
binds to 127.0.0.1 only: Ray's "reachable address" detection is turned off
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), no dashboard, no usage statistics.

What travels to a worker is decided by each plugin's ``distributed`` module: our own functions by
reference (the workers run the same installed workbench), data as bytes. Never a pickle of user code.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .errors import WorkbenchError

#: the environment every Ray process we start inherits (read by Ray at import)
LOCAL_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage report leaves the machine
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # bind to loopback, not the "reachable" interface
    "RAY_DEDUP_LOGS": "0",
}
DEFAULT_RETRIES = 2
CURRENT_CLUSTER_FILE = "/tmp/ray/ray_current_cluster"

_lock = threading.Lock()
_active: "Cluster | None" = None


class ClusterError(WorkbenchError):
    """The cluster cannot be reached, or a task failed after its retries."""


class TaskFailed(ClusterError):
    def __init__(self, key, cause: BaseException):
        self.key = key
        self.cause = cause
        super().__init__(f"Ray task {key!r} failed after its retries: {_first_line(cause)}")


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc  # RayTaskError wraps the worker's exception
    text = f"{type(cause).__name__}: {cause}"
    return text.strip().splitlines()[-1] if text.strip() else type(cause).__name__


def parse_address(address: str) -> tuple[str, int | None, str]:
    """``host:port``, ``ray://host:port`` or ``auto`` → (host, port, address for ``ray.init``).

    ``auto`` is resolved here, as Ray would (``RAY_ADDRESS``, then the file a ``ray start`` on
    this machine writes), so that the guard allows the host it resolves to and no other.
    """
    address = (address or "").strip()
    if not address:
        raise ClusterError("--ray: an address is needed (HOST:PORT, ray://HOST:PORT or auto)")
    if address == "auto":
        found = os.environ.get("RAY_ADDRESS", "").strip()
        if not found and os.path.exists(CURRENT_CLUSTER_FILE):
            with open(CURRENT_CLUSTER_FILE, encoding="utf-8") as fh:
                found = fh.read().strip()
        if not found or found == "auto":
            raise ClusterError("--ray auto: no running cluster found (RAY_ADDRESS is not set and "
                               f"{CURRENT_CLUSTER_FILE} does not exist); start one with `ray start --head` "
                               "or give its address")
        return parse_address(found)
    rest = address.split("://", 1)[1] if "://" in address else address
    rest = rest.split("/", 1)[0]
    if rest.startswith("["):  # [ipv6]:port
        host, _, port_text = rest[1:].partition("]")
        port_text = port_text.lstrip(":")
    else:
        host, _, port_text = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not host:
        raise ClusterError(f"--ray {address}: not an address (HOST:PORT, ray://HOST:PORT or auto)")
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        raise ClusterError(f"--ray {address}: {port_text!r} is not a port number") from None
    return host, port, address


def _import_ray(local: bool):
    for key, value in LOCAL_ENV.items():
        if local or key == "RAY_USAGE_STATS_ENABLED":
            os.environ.setdefault(key, value)
    import ray

    if local:  # read at import: set it on the module when Ray was imported before
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    return ray


@dataclass
class Cluster:
    """A connection to a Ray cluster (one per process, as Ray allows)."""

    address: str
    host: str
    local: bool = False
    started_here: bool = False
    tasks_submitted: int = 0
    bytes_out: int = 0  # bytes this driver put in the object store for tasks
    _remote: dict = field(default_factory=dict)

    # ------------------------------------------------------------ nodes
    def nodes(self) -> list[dict]:
        """Alive nodes: {"id", "address", "cpus", "gpus", "memory_gb"}."""
        import ray

        out = []
        for n in ray.nodes():
            if not n.get("Alive"):
                continue
            res = n.get("Resources", {})
            out.append({"id": n.get("NodeID", "")[:12], "address": n.get("NodeManagerAddress", ""),
                        "cpus": int(res.get("CPU", 0)), "gpus": int(res.get("GPU", 0)),
                        "memory_gb": round(res.get("memory", 0) / 2 ** 30, 1)})
        return out

    def describe(self) -> str:
        nodes = self.nodes()
        cpus = sum(n["cpus"] for n in nodes)
        gpus = sum(n["gpus"] for n in nodes)
        per = "; ".join(f"{n['address']}: {n['cpus']} CPU, {n['gpus']} GPU" for n in nodes)
        return f"Ray cluster {self.address}: {len(nodes)} node(s), {cpus} CPU, {gpus} GPU ({per})"

    def total(self, resource: str = "CPU") -> int:
        import ray

        return int(ray.cluster_resources().get(resource, 0))

    # ------------------------------------------------------------ data
    def put(self, value: Any):
        """An object reference to *value* (bytes or plain data), counted in :attr:`bytes_out`."""
        import ray

        if isinstance(value, (bytes, bytearray)):
            self.bytes_out += len(value)
        elif isinstance(value, dict):
            self.bytes_out += sum(len(v) for v in value.values() if isinstance(v, (bytes, bytearray)))
        return ray.put(value)

    # ------------------------------------------------------------ tasks
    def _remote_fn(self, fn: Callable, num_cpus: float, num_gpus: float, max_retries: int):
        import ray

        key = (fn, num_cpus, num_gpus, max_retries)
        if key not in self._remote:
            # Only lost workers are retried (retry_exceptions=False): a task that raises the same
            # error every time stops the run at once with that error.
            self._remote[key] = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries,
                                           retry_exceptions=False)(fn)
        return self._remote[key]

    def run_tasks(self, fn: Callable, items: Iterable[tuple[Any, tuple]], *, ctx=None, num_cpus: float = 1,
                  num_gpus: float = 0, max_retries: int = DEFAULT_RETRIES, max_in_flight: int | None = None,
                  poll_s: float = 0.25) -> Iterator[tuple[Any, Any]]:
        """Run ``fn(*args)`` for each ``(key, args)`` on the cluster; yield ``(key, result)`` as each
        finishes (not in order), so the caller commits in batches while the rest runs.

        A worker that dies is replaced and its task rerun by Ray, at most *max_retries* times. A task
        that raises stops the run: the others are cancelled and :class:`TaskFailed` names the task and
        its error (what was yielded before stays the caller's). ``ctx.cancelled()`` cancels every task
        still pending or running (``ray.cancel``) and raises the job's ``Cancelled``.
        """
        import ray

        from .cancel import Cancelled  # the job's (jobs re-exports it); not from .jobs, which imports us

        remote = self._remote_fn(fn, num_cpus, num_gpus, max_retries)
        queue = list(items)
        queue.reverse()
        limit = max_in_flight or max(2, 2 * self.total("GPU" if num_gpus else "CPU"))
        pending: dict = {}
        try:
            while queue or pending:
                while queue and len(pending) < limit:
                    key, args = queue.pop()
                    pending[remote.remote(*args)] = key
                    self.tasks_submitted += 1
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
                for ref in ready:
                    key = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except (ray.exceptions.TaskCancelledError, KeyboardInterrupt):
                        raise
                    except Exception as exc:
                        raise TaskFailed(key, exc) from exc
                    yield key, result
                if ctx is not None and _cancelled(ctx):
                    raise Cancelled()
        finally:
            for ref in pending:  # cancelled, failed, or the caller stopped: nothing keeps running
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass

    def shutdown(self) -> None:
        import ray

        ray.shutdown()


# ---------------------------------------------------------------- connecting

def allow(address: str) -> tuple[str, str]:
    """Let the offline guard through to the cluster's host, and to nothing else; (host, address)."""
    from . import netguard

    host, _port, resolved = parse_address(address)
    netguard.allow_host(host)
    return host, resolved


def _probe(host: str, port: int, address: str, timeout: float = 5.0) -> None:
    """A clear error at once when nothing listens there (Ray itself keeps retrying for minutes)."""
    import socket

    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(f"--ray {address}: cannot reach {host}:{port}: {exc.strerror or exc}") from None


def connect(address: str, *, namespace: str = "workbench") -> Cluster:
    """Connect to the cluster at *address* (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``, or ``local``
    to start a two-CPU instance on loopback), allowing exactly its host through the offline guard."""
    if address == "local":
        return start_local()
    host, resolved = allow(address)
    _probe(host, parse_address(resolved)[1] or 6379, address)
    if host in ("localhost", "127.0.0.1", "::1"):
        # a cluster on this machine: keep Ray's own address detection on loopback too
        ray = _import_ray(local=True)
    else:
        ray = _import_ray(local=False)
    try:
        ray.init(address=resolved, namespace=namespace, log_to_driver=False, configure_logging=False,
                 ignore_reinit_error=True)
    except Exception as exc:
        raise ClusterError(f"--ray {address}: cannot connect: {_first_line(exc)}") from exc
    return _set_active(Cluster(address=resolved, host=host))


def start_local(num_cpus: int = 2, *, object_store_mb: int = 200) -> Cluster:
    """Start a Ray instance of *num_cpus* CPUs on this machine, on loopback only (tests, benchmarks)."""
    ray = _import_ray(local=True)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=num_cpus, num_gpus=0, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=object_store_mb * 2 ** 20, log_to_driver=False, configure_logging=False,
             namespace="workbench")
    return _set_active(Cluster(address="local", host="127.0.0.1", local=True, started_here=True))


def _cancelled(ctx) -> bool:
    flag = getattr(ctx, "cancelled", False)
    return bool(flag() if callable(flag) else flag)


def _set_active(cluster: Cluster) -> Cluster:
    global _connected
    with _lock:
        _connected = cluster
    return cluster


_connected: "Cluster | None" = None


def connected() -> Cluster | None:
    """The cluster this process is connected to (Ray allows one), whether a command uses it or not."""
    return _connected


def active() -> Cluster | None:
    """The cluster the command running now uses (its ``--ray``), or None: run locally. With an
    address set by :func:`use_when_asked`, the first call connects (a job that never asks never does)."""
    global _pending
    if _active is None and _pending is not None:
        address, on_connect = _pending
        _pending = None  # one try: a failed connection fails the job that asked, with its reason
        c = use(address)
        if on_connect is not None:
            on_connect(c)
    return _active


_pending: "tuple[str, Callable[[Cluster], None] | None] | None" = None


def use_when_asked(address: str | None, on_connect: Callable[[Cluster], None] | None = None) -> None:
    """The window's Cluster setting in a job's worker process: connect to *address* only when the job
    asks for :func:`active` (audit, sweeps, anonymisation do; other jobs never import Ray), then call
    *on_connect* with the cluster. None: run locally."""
    global _pending
    _pending = (address, on_connect) if address else None


def nodes() -> list[dict]:
    """The connected cluster's alive nodes ({"id", "address", "cpus", "gpus", "memory_gb"}); [] when
    this process is not connected (Ray is then not imported)."""
    c = _connected
    return c.nodes() if c is not None else []


def use(address: str | None) -> Cluster | None:
    """A command's ``--ray`` value: connect (once per process; a local instance already running
    here serves ``local``) and make it the one the command's jobs use; None: run locally."""
    global _active
    if not address:
        with _lock:
            _active = None
        return None
    c = _connected
    if c is None or not (c.address == address or (address == "local" and c.local)
                         or parse_address(address)[2] == c.address):
        if c is not None:
            release()
        c = connect(address)
    with _lock:
        _active = c
    return c


@contextlib.contextmanager
def session(address: str | None, say: Callable[[str], None] | None = None):
    """A command's ``--ray ADDRESS``: its jobs run on that cluster while the block runs (connected
    once per process; *say* is told the nodes). Without an address: nothing, Ray not imported."""
    if not address:
        yield None
        return
    c = use(address)
    if say is not None:
        say(c.describe())
    try:
        yield c
    finally:
        use(None)


def release() -> None:
    """Disconnect (and stop the instance when this process started it)."""
    global _active, _connected
    with _lock:
        cluster, _connected, _active = _connected, None, None
    if cluster is not None:
        cluster.shutdown()


def test_connection(address: str) -> tuple[bool, str]:
    """(ok, text) for the window's "test connection": the nodes with their CPUs and GPUs."""
    global _active
    before = _active
    try:
        return True, use(address).describe()
    except Exception as exc:  # shown to the user as is
        return False, str(exc)
    finally:
        with _lock:
            _active = before  # testing a connection does not send a running command's tasks there


def batched(pairs: Iterable, size: int) -> Iterator[list]:
    """Groups of *size* from *pairs* as they arrive (the driver commits one group at a time)."""
    group: list = []
    for pair in pairs:
        group.append(pair)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group

