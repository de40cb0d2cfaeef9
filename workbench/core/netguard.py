"""No network: an audit hook that refuses every send and every name lookup outside loopback.

Installed at start-up in the CLI, the window and every job worker, and carried into every process
the workbench starts (test targets, fuzz workers, drivers, spawned workers): :func:`install` puts a
start-up hook on ``PYTHONPATH`` for child processes (a folder holding only a ``sitecustomize.py``
that loads this file by its path, so it works in a project's own venv where the workbench is not
installed) and names this file, the allowed hosts and a decisions file in environment variables.
A child appends each decision to that file; the process that installed the guard reads them back
with its own (:func:`take_decisions`), and the job runner writes each into the audit log and the
run's summary.

Guarded: ``connect`` and ``connect_ex``, ``sendto``, ``sendmsg``, ``getaddrinfo``,
``gethostbyname`` and ``gethostbyname_ex``, ``gethostbyaddr``, ``getnameinfo``. A feature that
needs a host (a local LLM endpoint on another machine the user names) allows it with
:func:`allow_host` (``--allow-network HOST``); the children inherit the allowance.

For tests, ``WORKBENCH_NETGUARD_TREAT_AS_REMOTE=ADDRESS[,NAME…]`` makes loopback addresses and names
(``127.0.0.2``, ``localhost``) count as remote, so that a test proves a refusal with a listener of
its own on that address and never aims a packet off the machine.

An audit hook cannot be removed, and C extensions that open sockets without going through Python's
``socket`` module are not seen; a child that clears its environment or runs ``python -I`` / ``-S``
starts without the hook. This is a guard for the workbench's own code and the Python code it runs,
not a sandbox.

Only the standard library is imported here: the start-up hook loads this file in foreign interpreters.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import os
import sys
import tempfile
import threading
import time

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_allowed: set[str] = set()
_decisions: collections.deque = collections.deque(maxlen=1000)
_lock = threading.Lock()
_installed = False
#: set in a child that got the guard from the start-up hook: its decisions go to the parent's file
_child_log: str | None = None

ENV_ON = "WORKBENCH_NETGUARD"
ENV_MODULE = "WORKBENCH_NETGUARD_MODULE"
ENV_ALLOW = "WORKBENCH_NETGUARD_ALLOW"
ENV_LOG = "WORKBENCH_NETGUARD_LOG"
ENV_REMOTE = "WORKBENCH_NETGUARD_TREAT_AS_REMOTE"
BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netguard_boot")


class NetworkRefused(PermissionError):
    """A connection the workbench's offline policy refused."""


def _norm(host) -> str:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return str(host).strip("[]").split("%", 1)[0].lower()


def _treated_as_remote() -> set[str]:
    return {_norm(h) for h in os.environ.get(ENV_REMOTE, "").split(",") if h.strip()}


def is_loopback(host) -> bool:
    if host is None or host == "" or host == b"":
        return True  # a bind or a lookup of no host: nothing leaves the machine
    name = _norm(host)
    if name in _treated_as_remote():
        return False  # the tests' setting: this loopback address or name counts as remote
    if name in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allow_host(host: str) -> None:
    """Let this process, and the processes it starts from now on, reach *host* (a name or an address
    the user entered)."""
    with _lock:
        _allowed.add(_norm(host))
        hosts = sorted(_allowed)
    if _installed:
        os.environ[ENV_ALLOW] = ",".join(hosts)


def allowed_hosts() -> list[str]:
    with _lock:
        return sorted(_allowed)


def take_decisions() -> list[dict]:
    """The decisions since the last call, this process's and its children's:
    {"time", "host", "port", "allowed", "via", "pid"}."""
    with _lock:
        out = list(_decisions)
        _decisions.clear()
    out.extend(_take_child_decisions())
    out.sort(key=lambda d: d.get("time", 0))
    return out


def _take_child_decisions() -> list[dict]:
    path = os.environ.get(ENV_LOG) if _installed and _child_log is None else None
    if not path or not os.path.exists(path):
        return []
    taking = f"{path}.{os.getpid()}.taking"
    try:
        os.replace(path, taking)  # children append to a new file from here on
        with open(taking, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
        os.unlink(taking)
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and "host" in d:
            out.append(d)
    return out


def _record(decision: dict) -> None:
    if _child_log:
        try:  # one short O_APPEND write per decision: whole lines even with many children
            fd = os.open(_child_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (json.dumps(decision) + "\n").encode())
            finally:
                os.close(fd)
            return
        except OSError:
            pass
    with _lock:
        _decisions.append(decision)


def _check(host, port, via: str) -> None:
    if is_loopback(host):
        return
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    with _lock:
        allowed = _norm(name) in _allowed
    _record({"time": time.time(), "host": name, "port": port, "allowed": allowed, "via": via, "pid": os.getpid()})
    if not allowed:
        raise NetworkRefused(f"network access to {name}:{port} refused: the workbench works offline "
                             "(only loopback, and hosts you allow for a feature that needs one)")


def _address(value):
    if isinstance(value, tuple) and value:
        return value[0], (value[1] if len(value) > 1 else None)
    return None


def _hook(event: str, args) -> None:
    if not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        # connect_ex raises socket.connect too; sendmsg on a connected socket has no address (None)
        address = _address(args[1]) if len(args) > 1 else None
        if address is not None:
            _check(address[0], address[1], event)
    elif event == "socket.getaddrinfo":
        _check(args[0], args[1], event)
    elif event in ("socket.gethostbyname", "socket.gethostbyaddr"):
        # gethostbyname_ex raises socket.gethostbyname
        _check(args[0], None, event)
    elif event == "socket.getnameinfo":
        address = _address(args[0])
        if address is not None:
            _check(address[0], address[1], event)


def _add_hook() -> bool:
    global _installed
    with _lock:
        if _installed:
            return False
        _installed = True
    sys.addaudithook(_hook)
    return True


def install() -> None:
    """Install the hook in this process (once; it stays for the life of the process), and carry it
    into every process started from here on (see the module's docstring). This process then keeps
    its decisions, and its children's, for :func:`take_decisions`."""
    global _child_log
    first = _add_hook()
    if not (first or _child_log is not None or not os.environ.get(ENV_LOG)):
        return  # installed and exported already
    # (A child started by a workbench process that installs the guard itself, a job worker, logs
    # its own decisions from now on, and collects its children's.)
    _child_log = None
    for host in os.environ.get(ENV_ALLOW, "").split(","):
        if host.strip():
            allow_host(host)
    _export()


def _export() -> None:
    """The environment every child inherits: the start-up hook first on PYTHONPATH, and the settings."""
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOT_DIR]
    os.environ["PYTHONPATH"] = os.pathsep.join([BOOT_DIR, *parts])
    os.environ[ENV_ON] = "1"
    os.environ[ENV_MODULE] = os.path.abspath(__file__)
    os.environ[ENV_LOG] = os.path.join(tempfile.gettempdir(),
                                       f"workbench-netguard-{os.getpid()}-{int(time.time() * 1000)}.jsonl")
    os.environ[ENV_ALLOW] = ",".join(allowed_hosts())


def child_env(env: dict | None = None) -> dict:
    """*env* (a child's environment, e.g. one built from scratch) with the guard carried into it:
    the start-up hook first on PYTHONPATH, this file, the allowed hosts, and where the decisions go
    (when this process collects them). The child is guarded even if this process is not."""
    out = dict(env if env is not None else os.environ)
    for key in (ENV_LOG, ENV_ALLOW, ENV_REMOTE):
        if key in os.environ:
            out[key] = os.environ[key]
    out[ENV_ON] = "1"
    out[ENV_MODULE] = os.path.abspath(__file__)
    parts = [p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOT_DIR]
    out["PYTHONPATH"] = os.pathsep.join([BOOT_DIR, *parts])
    return out


def install_from_boot() -> None:
    """Called by the start-up hook in a child: guard it, allow what the parent allowed, and send the
    decisions to the parent's file."""
    global _child_log
    if _add_hook():
        _child_log = os.environ.get(ENV_LOG) or None
    for host in os.environ.get(ENV_ALLOW, "").split(","):
        if host.strip():
            with _lock:
                _allowed.add(_norm(host))


def installed() -> bool:
    return _installed


def status_line() -> str:
    hosts = allowed_hosts()
    extra = f"; allowed in this process: {', '.join(hosts)}" if hosts else ""
    state = "blocked outside loopback" if _installed else "not guarded in this process"
    return f"network: {state}{extra}"


def describe(decisions: list[dict]) -> list[str]:
    """Decisions in words, for a run's summary: ``refused 127.0.0.2:9 (socket.sendmsg, pid 42)``."""
    return [f"{'allowed' if d.get('allowed') else 'refused'} {d.get('host')}:{d.get('port')} "
            f"({d.get('via')}, pid {d.get('pid', '?')})" for d in decisions]


# A process started with the start-up hook holds the guard already, under the hook's name: importing
# workbench.core.netguard then gives that same module (an import uses what sys.modules holds at its end).
_BOOT_NAME = "_workbench_netguard_boot"
if __name__ != _BOOT_NAME and _BOOT_NAME in sys.modules:
    sys.modules[__name__] = sys.modules[_BOOT_NAME]
