"""Python's ``re`` with a deadline: the log rules' engine when google-re2 is not installed.

``re`` backtracks, and a pattern like ``(a+)+$`` on a line of forty ``a`` takes
longer than the universe; it also holds the GIL, so a thread cannot be stopped
and would freeze the whole job. Matching therefore runs in one small helper
process (a plain ``python -c`` child, so it works inside a daemonic job
worker too); the caller waits at most ``timeout`` seconds for its answer,
then kills it, counts the line as no match and starts a fresh helper on the
next line. Lines are cut to ``max_chars`` first, which bounds the cost of
every sane pattern. Slower than RE2 (one round trip per line and pattern),
but it never stalls.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading

DEFAULT_TIMEOUT = 0.25
DEFAULT_MAX_CHARS = 8192

# The helper: one JSON request per line in, one JSON answer per line out.
_HELPER = r"""
import json, re, sys
cache = {}
for raw in sys.stdin:
    req = json.loads(raw)
    key = (req["p"], req["i"])
    rx = cache.get(key)
    if rx is None:
        rx = cache[key] = re.compile(req["p"], re.IGNORECASE if req["i"] else 0)
    m = rx.search(req["t"])
    out = None if m is None else {k: v for k, v in m.groupdict().items()}
    sys.stdout.write(json.dumps({"m": m is not None, "g": out}) + "\n")
    sys.stdout.flush()
"""


class PatternTimeout(RuntimeError):
    """A pattern ran past its deadline on one line (the line counts as no match)."""


class _Helper:
    """The matching process and a reader thread that hands its answers over with a timeout."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", _HELPER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     encoding="utf-8", errors="surrogatepass", bufsize=1)
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def ask(self, request: dict, timeout: float) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        try:
            line = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise PatternTimeout from None
        if line is None:
            raise PatternTimeout  # the helper died (out of memory on a monstrous match)
        return json.loads(line)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class _Shared:
    helper: _Helper | None = None
    lock = threading.Lock()


class GuardedMatch:
    def __init__(self, groups: dict | None):
        self._groups = groups or {}

    def group(self, name):
        return self._groups.get(name)


class GuardedPattern:
    """``search(text)`` like a compiled pattern, in the helper process under a deadline.

    ``timeouts`` counts the lines given up on; ``last_timeout`` says on which (its length)."""

    def __init__(self, pattern: str, ignore_case: bool = False, *, timeout: float = DEFAULT_TIMEOUT,
                 max_chars: int = DEFAULT_MAX_CHARS):
        compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)  # re.error: caller names the file
        self.pattern = pattern
        self.ignore_case = ignore_case
        self.groupindex = dict(compiled.groupindex)
        self.timeout = timeout
        self.max_chars = max_chars
        self.timeouts = 0
        self.last_timeout: str | None = None

    def search(self, text: str) -> GuardedMatch | None:
        text = text[:self.max_chars]
        with _Shared.lock:
            if _Shared.helper is None or _Shared.helper.proc.poll() is not None:
                _Shared.helper = _Helper()
            helper = _Shared.helper
            try:
                answer = helper.ask({"p": self.pattern, "i": self.ignore_case, "t": text}, self.timeout)
            except PatternTimeout:
                helper.kill()
                _Shared.helper = None
                self.timeouts += 1
                self.last_timeout = (f"pattern {self.pattern!r} gave up after {self.timeout:g} s on a line of "
                                     f"{len(text)} characters (Python's re backtracking; install google-re2)")
                return None
        return GuardedMatch(answer["g"]) if answer["m"] else None


def shutdown() -> None:
    """Stop the helper process (the monitor calls this when it stops)."""
    with _Shared.lock:
        if _Shared.helper is not None:
            _Shared.helper.kill()
            _Shared.helper = None
