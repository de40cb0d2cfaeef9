"""No network: an audit hook that refuses every connection outside loopback.

Installed at start-up in the CLI, the window and every job worker. A feature
that needs a host (a local LLM endpoint on another machine the user names)
allows it for its own process with :func:`allow_host`. Every refusal, and
every connection to an allowed non-loopback host, is kept as a decision that
the job runner writes into the project's audit log.

An audit hook cannot be removed, and C extensions that open sockets without
going through Python's ``socket`` module are not seen: this is a guard for
the workbench's own code and its Python dependencies, not a sandbox.
"""

from __future__ import annotations

import collections
import ipaddress
import sys
import threading
import time

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_allowed: set[str] = set()
_decisions: collections.deque = collections.deque(maxlen=1000)
_lock = threading.Lock()
_installed = False


class NetworkRefused(PermissionError):
    """A connection the workbench's offline policy refused."""


def is_loopback(host) -> bool:
    if host is None or host == "":
        return True  # a bind or a lookup of no host: nothing leaves the machine
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%", 1)[0].lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allow_host(host: str) -> None:
    """Let this process connect to *host* (a name or an address the user entered)."""
    with _lock:
        _allowed.add(str(host).strip("[]").lower())


def allowed_hosts() -> list[str]:
    with _lock:
        return sorted(_allowed)


def take_decisions() -> list[dict]:
    """The decisions since the last call: {"time", "host", "port", "allowed", "via"}."""
    with _lock:
        out = list(_decisions)
        _decisions.clear()
    return out


def _check(host, port, via: str) -> None:
    if is_loopback(host):
        return
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    with _lock:
        allowed = name.strip("[]").lower() in _allowed
        _decisions.append({"time": time.time(), "host": name, "port": port, "allowed": allowed, "via": via})
    if not allowed:
        raise NetworkRefused(f"network access to {name}:{port} refused: the workbench works offline "
                             "(only loopback, and hosts you allow for a feature that needs one)")


def _hook(event: str, args) -> None:
    if event == "socket.connect" or event == "socket.sendto":
        address = args[1]
        if isinstance(address, tuple) and address:
            _check(address[0], address[1] if len(address) > 1 else None, event)
    elif event == "socket.getaddrinfo":
        _check(args[0], args[1], event)


def install() -> None:
    """Install the hook in this process (once; it stays for the life of the process)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    sys.addaudithook(_hook)


def installed() -> bool:
    return _installed


def status_line() -> str:
    hosts = allowed_hosts()
    extra = f"; allowed in this process: {', '.join(hosts)}" if hosts else ""
    state = "blocked outside loopback" if _installed else "not guarded in this process"
    return f"network: {state}{extra}"
