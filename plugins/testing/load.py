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


def _one_request(url: str, body: bytes, headers: dict, timeout: float, stream: bool,
                 allowed_hosts) -> tuple[float, float | None]:
    """(latency, time to first token or None); raises on any failure (HTTP error, non-JSON, too slow)."""
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
        size = 0
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            if first is None and stream:
                first = time.monotonic() - started  # the first streamed token arrives with the first chunk
            size += len(chunk)
            if not stream:
                chunks.append(chunk)
            if time.monotonic() - started > timeout or size > 4 * 1024 * 1024:
                raise TestingError("the answer did not end in time")
    finally:
        conn.close()
    if not stream:
        json.loads(b"".join(chunks))  # a non-JSON answer is an error
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
