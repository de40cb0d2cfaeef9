"""Kills the first Ray worker process seen running a given task (SIGKILL), as a lost node would."""

from __future__ import annotations

import os
import signal
import threading


class killing_first:
    """``with killing_first("ray::attack_task") as killed:`` — while the block runs, SIGKILL the first
    process whose title starts with the task's; ``killed`` (also ``.killed``) lists the pids."""

    def __init__(self, task_title: str, every: float = 0.02):
        self.task_title, self.every = task_title, every
        self.killed: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        import psutil

        while not self._stop.is_set() and not self.killed:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                title = " ".join(proc.info.get("cmdline") or [])
                if title.startswith(self.task_title) and proc.info["pid"] != os.getpid():
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    self.killed.append(proc.info["pid"])
                    break
            self._stop.wait(self.every)

    def __enter__(self) -> list[int]:
        self._thread.start()
        return self.killed

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
