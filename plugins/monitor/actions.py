"""What an alert does: notify, pause or cancel a job, or run the user's command; every outcome is recorded.

Action specs are dicts, as stored with the rule:

* ``{"type": "notify"}`` - handed to the ``notify`` callback (the GUI shows a
  desktop notification and the status bar; the CLI prints it);
* ``{"type": "cancel_job", "job": ID}`` / ``{"type": "pause_job", "job": ID}``
  - handed to the ``cancel_job`` / ``pause_job`` callback with the job id
  (``"current"`` when omitted);
* ``{"type": "command", "argv": ["/path/prog", "arg"], "timeout_s": 10}`` -
  runs the program (no shell) with the alert as JSON on its standard input.

Commands run on a small pool of threads so a slow command never delays
sampling; a command still running at its timeout is killed. Each action ends
in one outcome dict passed to ``record`` (the monitor stores it in the audit
log): ``{"action", "alert_id", "rule", "ok", "detail", ...}``.
"""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from .rules import Alert

ACTION_TYPES = ("notify", "cancel_job", "pause_job", "command")
_TAIL = 2000


def check_action(spec: dict, where: str = "action") -> dict:
    if not isinstance(spec, dict) or spec.get("type") not in ACTION_TYPES:
        raise ValueError(f"{where}: action must be a mapping with 'type' one of {ACTION_TYPES}, got {spec!r}")
    if spec["type"] == "command":
        argv = spec.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError(f"{where}: a command action needs 'argv', a non-empty list of strings")
    return spec


class ActionRunner:
    def __init__(self, *, record, notify=None, cancel_job=None, pause_job=None, max_workers: int = 2,
                 default_timeout_s: float = 10.0):
        self.record = record
        self.notify = notify
        self.cancel_job = cancel_job
        self.pause_job = pause_job
        self.default_timeout_s = default_timeout_s
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="monitor-action")
        self._pending: list[Future] = []
        self._lock = threading.Lock()

    def run(self, alert: Alert, actions=None) -> None:
        for spec in (alert.actions if actions is None else actions):
            try:
                check_action(spec, f"rule {alert.rule}")
            except ValueError as exc:
                self._emit(alert, spec, False, str(exc))
                continue
            kind = spec["type"]
            if kind == "command":
                fut = self._pool.submit(self._command, alert, spec)
                with self._lock:
                    self._pending = [f for f in self._pending if not f.done()] + [fut]
            else:
                self._callback(alert, spec)

    def _callback(self, alert: Alert, spec: dict) -> None:
        kind = spec["type"]
        fn = {"notify": self.notify, "cancel_job": self.cancel_job, "pause_job": self.pause_job}[kind]
        if fn is None:
            self._emit(alert, spec, False, f"no {kind} handler in this session")
            return
        try:
            if kind == "notify":
                result = fn(alert)
            else:
                result = fn(spec.get("job", "current"), alert)
        except Exception as exc:  # noqa: BLE001 - a failing handler is an outcome to record, not a crash
            self._emit(alert, spec, False, f"{type(exc).__name__}: {exc}")
            return
        self._emit(alert, spec, result is not False, "done" if result in (None, True) else str(result))

    def _command(self, alert: Alert, spec: dict) -> None:
        argv = spec["argv"]
        timeout = float(spec.get("timeout_s", self.default_timeout_s))
        start = time.monotonic()
        try:
            proc = subprocess.run(argv, input=alert.to_json().encode(), capture_output=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            self._emit(alert, spec, False, f"killed after {timeout:g} s", duration_s=time.monotonic() - start,
                       stdout=_tail(exc.stdout), stderr=_tail(exc.stderr))
            return
        except OSError as exc:
            self._emit(alert, spec, False, f"could not start {argv[0]}: {exc.strerror or exc}")
            return
        self._emit(alert, spec, proc.returncode == 0, f"exit code {proc.returncode}", rc=proc.returncode,
                   duration_s=round(time.monotonic() - start, 3), stdout=_tail(proc.stdout),
                   stderr=_tail(proc.stderr))

    def _emit(self, alert: Alert, spec, ok: bool, detail: str, **extra) -> None:
        outcome = {"action": spec.get("type") if isinstance(spec, dict) else None, "spec": spec,
                   "alert_id": alert.id, "rule": alert.rule, "ok": ok, "detail": detail, **extra}
        self.record(outcome)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the commands already started (used at shutdown and by tests)."""
        with self._lock:
            pending = list(self._pending)
        for f in pending:
            f.result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _tail(data) -> str:
    if not data:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return text[-_TAIL:]
