"""Who and when: this process, its user and host, and the time, as the project file records them.

A leaf module (it imports nothing of the workbench), so that the project lock can say who holds
it without importing the project that takes the lock.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from pathlib import Path


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def current_user() -> str:
    """getpass.getuser(), without importing getpass (and termios): its environment variables, then pwd."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        user = os.environ.get(name)
        if user:
            return user
    try:
        import pwd

        return pwd.getpwuid(os.getuid())[0]
    except Exception:  # no user name on some containers (and no pwd on Windows)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def process_start_time(pid: int) -> float | None:
    """When process *pid* started (seconds since the epoch), or None when it no longer runs."""
    import psutil

    try:
        proc = psutil.Process(pid)
        # A zombie has ended: nobody reaped it yet (an orphan in a container whose
        # init does not reap), but it runs nothing any more.
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def host_name() -> str:
    """socket.gethostname(): on POSIX that is uname's node name, read here without importing socket."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # pragma: no cover - Windows

    return socket.gethostname()


def holder_description() -> dict:
    """What a lock file says about the process holding it, for the "locked by" message."""
    return {
        "pid": os.getpid(),
        "user": current_user(),
        "host": host_name(),
        "since": now_iso(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200] if sys.argv else "",
    }
