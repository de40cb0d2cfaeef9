"""Task functions the Ray tests send to workers (imported there by name)."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    return x * x


def die_once(x: int, marker: str) -> int:
    """The first attempt kills its own worker process (a lost worker); Ray's retry then succeeds."""
    if not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        os._exit(1)
    return x * x


def fail(x: int) -> int:
    raise ValueError(f"bad item {x}")


def slow(x: int, marker_dir: str) -> int:
    with open(os.path.join(marker_dir, f"started-{x}"), "w"):
        pass
    time.sleep(30)
    with open(os.path.join(marker_dir, f"finished-{x}"), "w"):
        pass
    return x
