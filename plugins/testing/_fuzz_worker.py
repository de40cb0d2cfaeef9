"""Calls the fuzzed entry point, in a worker process of its own.

Started by ``fuzz.py`` as a script with the target's interpreter (stdlib
only; numpy only when the inputs are arrays), never imported. Usage:

    python _fuzz_worker.py READ_FD WRITE_FD ENTRY PATH MEMORY_MB REPEAT

Messages are length-prefixed: inputs arrive pickled (they come from the
workbench), answers go back as JSON (they come from the target's code, which
must not be able to hand the workbench a pickle). ``MEMORY_MB`` caps the
address space this process may grow by after importing the target
(RLIMIT_AS), so a memory blow-up becomes a MemoryError instead of taking the
machine. ``REPEAT`` = 2 calls each input twice to spot non-determinism.
"""

import copy
import hashlib
import importlib
import json
import os
import pickle
import struct
import sys
import traceback


def _read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send(fd, obj):
    data = json.dumps(obj).encode("utf-8")
    os.write(fd, struct.pack(">I", len(data)) + data)


def _digest(value):
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:
        data = repr(value).encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


def _where(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost frame outside this file: where the target failed.
    for frame in reversed(frames):
        if os.path.abspath(frame.filename) != os.path.abspath(__file__):
            return "%s:%d (%s)" % (frame.filename, frame.lineno, frame.name)
    return "?"


def _address_space_bytes():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _watch_parent(parent_pid):
    """Exit if the workbench process that started us dies (a call may hang forever)."""
    import signal
    import threading
    import time

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="wb-parent-watch", daemon=True).start()


def main():
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    _watch_parent(os.getppid())
    entry, path, memory_mb, repeat = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    if path:
        sys.path.insert(0, path)
    module_name, _, attr = entry.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
        if not callable(target):
            raise TypeError("%s is not callable" % entry)
    except BaseException as exc:
        _send(wfd, {"status": "import_error", "error_type": type(exc).__name__,
                    "message": str(exc)[:2000], "where": _where(exc)})
        return
    if memory_mb > 0:
        import resource

        limit = _address_space_bytes() + memory_mb * 1024 * 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    _send(wfd, {"status": "ready"})
    while True:
        header = _read_exact(rfd, 4)
        if header is None:
            return
        value = pickle.loads(_read_exact(rfd, struct.unpack(">I", header)[0]))
        digests = []
        answer = None
        for _ in range(repeat):
            arg = copy.deepcopy(value)  # a callable that mutates its input must not fake non-determinism
            try:
                result = target(arg)
                digests.append(_digest(result))
                del result
            except MemoryError as exc:
                answer = {"status": "memory", "error_type": "MemoryError", "message": str(exc)[:2000],
                          "where": _where(exc)}
                break
            except BaseException as exc:  # SystemExit and KeyboardInterrupt from the target are crashes too
                answer = {"status": "crash", "error_type": type(exc).__name__, "message": str(exc)[:2000],
                          "where": _where(exc)}
                break
        if answer is None:
            answer = {"status": "ok"} if len(set(digests)) == 1 else {
                "status": "nondeterministic", "error_type": "", "where": "",
                "message": "two calls with the same input returned different results"}
        _send(wfd, answer)


if __name__ == "__main__":
    main()
