"""Overlapping the streaming pipeline's stages on threads, order kept.

Keyed hashing holds the GIL (hashlib releases it only for inputs of 2 KiB or more),
while pyarrow's CSV parsing, IPC reads and writes, `take` and CSV writing release it.
Reading the next block and writing the previous one on their own threads therefore
runs them on another core while the main thread hashes, with no pickling and no
extra process. Each stage is a single thread fed in order, so the output is the
same, byte for byte, as the sequential loop; errors surface in the main thread.
"""

from __future__ import annotations

import queue
import threading
from collections import deque

_END = object()


def prefetch(iterable, depth: int = 1, name: str = "anonymise-read"):
    """Yield the items of `iterable`, produced up to `depth` ahead on a thread.

    An exception in the producer is raised here, after the items produced before it,
    just where the plain loop would have raised it. Leaving early (an error or a cancel
    in the consumer) stops the producer and closes the iterable.
    """
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run():
        it = iter(iterable)
        try:
            for item in it:
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as exc:  # handed to the consumer, who raises it
            put((False, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None and stop.is_set():
                close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


class InOrder:
    """Calls run one after another on a thread, in the order submitted.

    At most `depth` calls wait; submitting more waits for the oldest, so memory stays
    a few blocks. The first error of a call is raised by the next `submit` or by
    `drain`. Use as a context manager: leaving it drains (or, on an error, waits for
    the calls in flight and drops their results, so nothing still writes afterwards).
    """

    def __init__(self, depth: int = 1, name: str = "anonymise-write"):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending: deque = deque()
        self._depth = depth

    def submit(self, fn, *args):
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()

    def drain(self):
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.drain()
            else:
                for f in self._pending:
                    f.cancel()
                for f in self._pending:
                    if not f.cancelled():
                        f.exception()  # waits; its error is secondary to the one in flight
                self._pending.clear()
        finally:
            self._pool.shutdown(wait=True)
        return False

