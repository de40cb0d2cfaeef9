"""A small, bounded load run against a chat endpoint, as JMeter would measure it.

``load_run(url, concurrency=4, duration_s=10, max_requests=200)`` keeps
``concurrency`` requests in flight until the duration or the request cap is
reached (both bounded: at most 64 workers, 600 s, 10,000 requests), and
records throughput, latency p50/p95/p99, time to first token for streamed
answers and the error rate. Loopback or explicitly allowed hosts only.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlsplit

from .endpoint import chat_url, check_allowed
from .errors import TestingError

MAX_CONCURRENCY = 64
MAX_DURATION_S = 600
MAX_REQUESTS = 10_000


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def _error_text(obj) -> str | None:
    """The message of an OpenAI-style ``{"error": ...}`` object, or None when ``obj`` is no error."""
    if not isinstance(obj, dict) or obj.get("error") in (None, "", False):
        return None
    err = obj["error"]
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or json.dumps(err))[:300]
    return str(err)[:300]


class _Stream:
    """Server-sent events of a streamed chat completion, fed chunk by chunk.

    ``first_token`` is set by the first chunk that carries content (a role-only
    first chunk, as OpenAI-style servers send, is no token); an ``event: error``,
    an ``error`` object or data that is not JSON fail the request.
    """

    def __init__(self):
        self.buffer = b""
        self.event = ""
        self.data: list[str] = []
        self.tokens = 0
        self.done = False
        self.finished = False

    def feed(self, chunk: bytes) -> bool:
        """Takes raw bytes; returns True once the first content token has arrived in them."""
        self.buffer += chunk
        got_token = False
        while True:
            line, sep, rest = self.buffer.partition(b"\n")
            if not sep:
                return got_token
            self.buffer = rest
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            if text == "":
                got_token |= self._dispatch()
            elif text.startswith(":"):
                continue  # an SSE comment (keep-alive)
            else:
                field, _, value = text.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    self.event = value
                elif field == "data":
                    self.data.append(value)

    def _dispatch(self) -> bool:
        event, data = self.event, "\n".join(self.data)
        self.event, self.data = "", []
        if event == "error":
            raise TestingError(f"the stream sent an error event: {data[:300]}")
        if not data:
            return False
        if data.strip() == "[DONE]":
            self.done = True
            return False
        try:
            obj = json.loads(data)
        except ValueError:
            raise TestingError(f"the stream sent data that is not JSON: {data[:200]!r}") from None
        message = _error_text(obj)
        if message is not None:
            raise TestingError(f"the stream sent an error: {message}")
        token = False
        for choice in (obj.get("choices") or []) if isinstance(obj, dict) else []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            if content or choice.get("text"):  # chat deltas, or legacy completions
                token = True
            if choice.get("finish_reason"):
                self.finished = True
        self.tokens += token
        return token

    def end(self) -> None:
        if self.data or self.event:
            self._dispatch()  # a last event without its blank line
        if not self.done and not self.finished:
            raise TestingError("the stream ended before [DONE] or a finish_reason (cut off?)")
        if not self.tokens:
            raise TestingError("the stream ended without any content")


def _one_request(url: str, body: bytes, headers: dict, timeout: float, stream: bool,
                 allowed_hosts) -> tuple[float, float | None]:
    """(latency, time to first token or None); raises on any failure.

    A failure is an HTTP error, an answer that is not a completion (not JSON, an
    ``error`` object, no choices), a stream with an error event or cut off, or an
    answer that does not end in time. The time to first token is the arrival of
    the first chunk with content, not of the first bytes.
    """
    scheme, host, port = check_allowed(url, allowed_hosts)
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = cls(host, port, timeout=timeout)
    started = time.monotonic()
    first = None
    chunks = []
    try:
        conn.request("POST", urlsplit(url).path or "/", body=body, headers=headers)
        response = conn.getresponse()
        if response.status >= 400:
            raise TestingError(f"HTTP {response.status}")
        sse = stream and "text/event-stream" in (response.getheader("Content-Type") or "")
        events = _Stream() if sse else None
        size = 0
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if events is not None:
                if events.feed(chunk) and first is None:
                    first = time.monotonic() - started
                if events.done:
                    break
            else:
                chunks.append(chunk)
            if time.monotonic() - started > timeout or size > 4 * 1024 * 1024:
                raise TestingError("the answer did not end in time")
    finally:
        conn.close()
    if events is not None:
        events.end()
    else:
        try:
            answer = json.loads(b"".join(chunks))
        except ValueError:
            raise TestingError("the answer is not JSON") from None
        message = _error_text(answer)
        if message is not None:
            raise TestingError(f"the answer is an error: {message}")
        if not isinstance(answer, dict) or not answer.get("choices"):
            raise TestingError("the answer has no choices (not a chat completion)")
        if stream:
            # Asked to stream, answered in one piece: the whole answer is the first token.
            first = time.monotonic() - started
    return time.monotonic() - started, first


def load_run(url: str, *, concurrency: int = 4, duration_s: float = 10.0, max_requests: int = 200,
             stream: bool = False, model: str = "default", prompt: str = "Say hello in five words.",
             api_key: str | None = None, allowed_hosts=(), timeout: float = 30.0, check_cancelled=None) -> dict:
    url = chat_url(url)
    check_allowed(url, allowed_hosts)
    if not (1 <= concurrency <= MAX_CONCURRENCY):
        raise TestingError(f"concurrency must be 1-{MAX_CONCURRENCY}")
    if not (0 < duration_s <= MAX_DURATION_S):
        raise TestingError(f"duration must be more than 0 and at most {MAX_DURATION_S} s")
    if not (1 <= max_requests <= MAX_REQUESTS):
        raise TestingError(f"max_requests must be 1-{MAX_REQUESTS}")
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}],
                       "stream": stream, "max_tokens": 32, "temperature": 0}).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    lock = threading.Lock()
    latencies: list[float] = []
    ttfts: list[float] = []
    errors: list[str] = []
    issued = 0
    stop = threading.Event()
    started = time.monotonic()

    def worker():
        nonlocal issued
        while not stop.is_set():
            with lock:
                if issued >= max_requests or time.monotonic() - started >= duration_s:
                    return
                issued += 1
            try:
                latency, first = _one_request(url, body, headers, timeout, stream, allowed_hosts)
                with lock:
                    latencies.append(latency)
                    if first is not None:
                        ttfts.append(first)
            except Exception as exc:  # every failure is counted, none stops the run
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            if check_cancelled is not None:
                check_cancelled()
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout + 1)
    elapsed = time.monotonic() - started
    done = len(latencies) + len(errors)
    return {"kind": "load", "url": url, "concurrency": concurrency, "duration_s": duration_s,
            "max_requests": max_requests, "stream": stream, "requests": done, "ok": len(latencies),
            "errors": len(errors), "error_rate": len(errors) / done if done else None,
            "throughput_rps": len(latencies) / elapsed if elapsed > 0 else None, "elapsed_s": elapsed,
            "latency_p50_s": percentile(latencies, 50), "latency_p95_s": percentile(latencies, 95),
            "latency_p99_s": percentile(latencies, 99), "ttft_p50_s": percentile(ttfts, 50),
            "ttft_p95_s": percentile(ttfts, 95), "first_errors": errors[:5]}
