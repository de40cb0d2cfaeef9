"""Rate and ETA of a running job, shared by the terminal bar and the jobs dock."""

from __future__ import annotations

import sys
import time


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressTracker:
    """Rate over the work done since the first report, so that a jump at the start
    (results taken from a cache, say) does not make the rate or the ETA absurd."""

    MIN_WINDOW = 0.5  # seconds of measured work before a rate is shown

    def __init__(self):
        self.started: float | None = None
        self.done = 0.0
        self.total: float | None = None
        self._base_t: float | None = None
        self._base_done = 0.0
        self._last_t: float | None = None

    def start(self) -> None:
        self.started = time.monotonic()

    def update(self, done: float, total: float | None) -> None:
        now = time.monotonic()
        if self.started is None:
            self.start()
        if self._base_t is None or done < self._base_done:
            self._base_t, self._base_done = now, done
        self._last_t = now
        self.done, self.total = done, total

    @property
    def rate(self) -> float | None:
        if self._base_t is None or self._last_t is None:
            return None
        window = self._last_t - self._base_t
        if window < self.MIN_WINDOW or self.done <= self._base_done:
            return None
        return (self.done - self._base_done) / window

    @property
    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def eta(self) -> float | None:
        rate = self.rate
        if not self.total or not rate:
            return None
        return max(0.0, (self.total - self.done) / rate)


class TerminalProgress:
    """A one-line progress bar with rate and ETA for the CLI (stderr)."""

    def __init__(self, title: str, stream=None, width: int = 28, unit: str = "items"):
        self.title = title
        self.stream = stream or sys.stderr
        self.width = width
        self.unit = unit
        self.tracker = ProgressTracker()
        self.tracker.start()
        self._last_draw = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._drawn = False

    def __call__(self, done: float, total: float | None, message: str = "") -> None:
        self.tracker.update(done, total)
        now = time.monotonic()
        final = bool(total) and done >= total
        # Non-terminals (CI logs) get a line every few seconds, not a flood.
        interval = 0.1 if self._tty else 5.0
        if now - self._last_draw < interval and not final:
            return
        self._last_draw = now
        self.stream.write(("\r" if self._tty else "") + self.line(message) + ("" if self._tty else "\n"))
        self.stream.flush()
        self._drawn = True

    def line(self, message: str = "") -> str:
        t = self.tracker
        frac = t.fraction
        if frac is None:
            bar = "·" * self.width
            count = f"{t.done:g} {self.unit}"
        else:
            filled = int(round(frac * self.width))
            bar = "█" * filled + "░" * (self.width - filled)
            count = f"{t.done:g}/{t.total:g} {self.unit}"
        rate = f"{t.rate:.1f}/s" if t.rate else "-/s"
        text = f"{self.title} {bar} {count} {rate} {format_duration(t.elapsed)} ETA {format_duration(t.eta)}"
        if message:
            text += f"  {message[:40]}"
        return text[:160].ljust(160 if self._tty else 0)

    def close(self) -> None:
        if self._drawn and self._tty:
            self.stream.write("\n")
            self.stream.flush()
