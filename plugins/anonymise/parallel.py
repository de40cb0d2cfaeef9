"""Streamed anonymisation in worker processes, each on its own byte ranges of the file.

Keyed hashing holds the GIL, so one process does ~0.7 µs of HMAC per distinct value
and no thread can share that work. Here the reading process only finds record
boundaries (a quote-aware cut per block: a read and a quote count, no parsing) and
hands out (start, end) ranges; each worker reads its range, parses it, applies the
policy, checks the block for leaks and writes its own part. Nothing but offsets,
counts and file names crosses the process boundary, so the reader stays nearly idle
and the work scales with the workers. While the first worker starts, the reading
process transforms small blocks itself.

Output order, byte for byte the single-process output:
- keep_order: each block becomes a header-less CSV part; the parts are appended to
  the output in block order (a kernel copy).
- shuffled (the default): each worker deals its block's rows at random into the
  buckets (Arrow IPC pieces appended to a file per worker and bucket); a second pass
  shuffles each bucket in a worker and writes it as a CSV part; the parts are
  appended in bucket order. Rows end up in a uniformly random order, as in one process.

Keys reach the workers as initializer arguments through the pool's pipe, never a
file, argv or the environment. The output is written to a temporary file and
renamed only when complete; an error or a cancel removes the temporary file and
every part, so nothing partial is ever left under the output's name.
"""

from __future__ import annotations

import os
import sys
import time

from .errors import AnonymiseError, InputError, VerificationError

LOCAL_BLOCK_BYTES = 1 << 20  # blocks this process transforms while the workers start
PARALLEL_BUCKET_BYTES = 16 << 20
PARALLEL_MIN_BYTES = 32 << 20  # a worker costs ~0.25 s to start (~50k rows of work): smaller files use one


def default_workers(size: int) -> int:
    """Processes for a streamed file of `size` bytes: one per core this process may use."""
    if size < PARALLEL_MIN_BYTES:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores)


_W: dict = {}


def _init(*args):
    """The workers' initializer (keys arrive here through the pool's pipe)."""
    _setup(*args)


def _setup(policy_dict, keys, direct, fmt, tmpd, delimiter, n_buckets, keep_order, seed, block_size):
    from .engine import Policy
    from .reader import _csv_read_options

    _W.update(policy=Policy.from_dict(policy_dict), keys=keys, direct=direct, fmt=fmt, tmpd=tmpd,
              delimiter=delimiter, n_buckets=n_buckets, keep_order=keep_order, seed=seed,
              opts=_csv_read_options(fmt, block_size, False))


class _Failed(Exception):
    """An InputError from a worker, in a form that pickles (InputError's constructor takes
    the path and line apart from the message)."""

    def __init__(self, path, message, line):
        super().__init__(path, message, line)


def _input_error(exc: InputError) -> _Failed:
    where = f"{exc.path}, line {exc.line}" if exc.line is not None else exc.path
    text = str(exc)
    return _Failed(exc.path, text[len(where) + 2:] if text.startswith(where + ": ") else text, exc.line)


def _block(index: int, start: int, end: int):
    """Parse, transform and leak-check one range; write its part. Returns counts and pieces.

    The worker does not know the lines before its range: a parse error is reported back and
    located by the reading process, which does (it counts the lines of the ranges before)."""
    import numpy as np

    from .engine import _process_block
    from .reader import parse_csv_block
    from .writer import write_csv_part

    cpu = time.process_time()
    fmt = _W["fmt"]
    try:
        with open(fmt.path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        lines = data.count(b"\n")
        table = parse_csv_block(fmt, data, 1, opts=_W["opts"])
    except InputError as exc:
        raise _input_error(exc) from None
    del data
    out, leaks, example, infos = _process_block(table, _W["policy"], _W["keys"], {}, _W["direct"], fmt.path)
    rows = table.num_rows
    del table
    pieces: list = []
    formulas = 0
    if rows and not leaks:  # a leaking block fails the run: nothing of it is written
        if _W["keep_order"]:
            part = os.path.join(_W["tmpd"], f"part{index}.csv")
            formulas = write_csv_part(part, [out], _W["delimiter"])[1]
            pieces.append(part)
        else:
            pieces = _deal(out, index, np)
    return (rows, lines, leaks, example, infos, list(out.schema.names), formulas, pieces,
            (time.process_time() - cpu, _peak_rss_mib()))


def _peak_rss_mib() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def _deal(out, index, np):
    """Rows dealt at random into the buckets: (bucket, file, offset, length) per IPC piece."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    n_buckets = _W["n_buckets"]
    seed = _W["seed"]
    rng = np.random.default_rng(None if seed is None else [seed, index])
    which = rng.integers(0, n_buckets, out.num_rows).astype(np.uint16)  # small ints: a radix sort
    # rows grouped by bucket, in random order within each piece (one take); the second pass
    # then only interleaves the pieces at random, a near-sequential read (see _interleave)
    perm = rng.permutation(out.num_rows)
    order = perm[np.argsort(which[perm], kind="stable")]
    counts = np.bincount(which, minlength=n_buckets)
    dealt = out.take(pa.array(order))
    pieces = []
    first = 0
    for b in np.flatnonzero(counts):
        path = os.path.join(_W["tmpd"], f"b{b}.{os.getpid()}.arrow")
        with pa.OSFile(path, "ab") as sink:
            offset = sink.tell()
            with ipc.new_stream(sink, dealt.schema) as w:
                w.write_batch(dealt.slice(first, int(counts[b])))
            pieces.append((int(b), path, offset, sink.tell() - offset))
        first += int(counts[b])
    return pieces


def _bucket(b: int, pieces: list, seed):
    """Read one bucket's pieces, shuffle its rows, write it as a CSV part: (rows, formulas, part)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from .writer import write_csv_part

    cpu = time.process_time()
    batches = []
    for path, offset, length in pieces:
        with pa.OSFile(path, "rb") as src:
            src.seek(offset)
            buf = src.read_buffer(length)
        batches.extend(ipc.open_stream(buf).read_all().to_batches())
    bucket = pa.Table.from_batches(batches)
    bucket = bucket.take(pa.array(_interleave([len(x) for x in batches], None if seed is None else [seed, b])))
    del batches
    part = os.path.join(_W["tmpd"], f"out{b}.csv")
    rows, formulas = write_csv_part(part, bucket.to_batches(max_chunksize=1 << 16), _W["delimiter"])
    return rows, formulas, part, (time.process_time() - cpu, _peak_rss_mib())


def _interleave(sizes, seed=None):
    """Take indices that merge pieces (laid end to end) in a uniformly random interleaving.

    Each piece is already in uniformly random order; a uniform interleaving of them is then a
    uniform permutation of all their rows (every permutation arises from exactly one
    interleaving and one order per piece), and the reads stay sequential within each piece."""
    import secrets

    import numpy as np

    labels = np.repeat(np.arange(len(sizes), dtype=np.uint16 if len(sizes) < 1 << 16 else np.int64), sizes)
    np.random.default_rng(seed if seed is not None else secrets.randbits(128)).shuffle(labels)
    # the j-th occurrence of piece l's label takes that piece's j-th row
    order = np.argsort(labels, kind="stable")
    idx = np.empty(len(labels), np.int64)
    idx[order] = np.arange(len(labels))
    return idx


def _append(dst_fd: int, path: str):
    """Append a part file to the output and remove it; a kernel copy where there is one."""
    with open(path, "rb") as src:
        left = os.fstat(src.fileno()).st_size
        copy = getattr(os, "copy_file_range", None)
        while left and copy is not None:
            try:
                n = copy(src.fileno(), dst_fd, left)
            except OSError:
                break  # e.g. a file system without it: the plain copy below
            if n == 0:
                break
            left -= n
        while left:
            chunk = src.read(min(left, 1 << 22))
            if not chunk:
                break
            os.write(dst_fd, chunk)
            left -= len(chunk)
    os.unlink(path)


# what a worker needs, imported once in the forkserver rather than in every worker
_PRELOAD = ["numpy", "pyarrow", "pyarrow.compute", "pyarrow.csv", "pyarrow.ipc", __name__,
            f"{__package__}.engine", f"{__package__}.reader", f"{__package__}.transforms",
            f"{__package__}.writer", f"{__package__}.verify"]


def _context():
    import multiprocessing

    # forkserver: a clean server process (no threads of ours, no Qt) imports this module
    # once and forks each worker from it, instead of each worker importing pyarrow afresh
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def anonymise_parallel(in_path, out_path, policy, keys: dict, progress=None, check_cancelled=None,
                       block_size: int = 1 << 23, seed=None, workers: int = 2, direct=None,
                       n_buckets: int = 1) -> dict:
    """`engine.anonymise_stream` in `workers` processes; the same summary plus `workers`,
    `local_blocks`, `worker_cpu_seconds`, `worker_peak_rss_mib`. `direct`: the columns whose
    originals must not appear in the output. `seed` (tests) fixes the dealing and the
    interleaving per block index, so a run replays when the blocks are the same."""
    import tempfile
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from .reader import csv_format, iter_record_cuts
    from .writer import atomic_path, csv_header

    t0 = time.perf_counter()
    fmt = csv_format(in_path, delimiter=policy.delimiter, encoding=policy.encoding)
    # smaller buckets than one process uses: each worker holds one in the second pass, and
    # more of them share out more evenly between the workers
    n_buckets = min(512, max(n_buckets, -(-os.path.getsize(in_path) // PARALLEL_BUCKET_BYTES)))
    delim = "\t" if str(out_path).lower().endswith(".tsv") else ","
    summary: dict = {"input": str(in_path), "output": str(out_path), "metric": None, "levels": {},
                     "suppressed_rows": 0, "information_loss": None, "models": [], "transforms": {},
                     "streamed": True, "buckets": int(n_buckets), "workers": int(workers)}
    state = {"rows_in": 0, "rows_out": 0, "leaks": 0, "example": None, "formulas": 0, "cpu": 0.0,
             "peak": 0.0, "names": None, "lines": 1, "from_workers": 0, "local_blocks": 0}
    buckets: dict = {}
    tmp_dir = os.path.dirname(os.path.abspath(out_path))
    try:
        with tempfile.TemporaryDirectory(prefix=".anon-", dir=tmp_dir) as tmpd, atomic_path(out_path) as tmp:
            out_fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_BINARY", 0))
            try:
                initargs = (policy.to_dict(), dict(keys), list(direct or ()), fmt, tmpd, delim, n_buckets,
                            bool(policy.keep_order), seed, block_size)
                with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init,
                                         initargs=initargs) as pool:
                    try:
                        _run(pool, workers, fmt, block_size, policy, state, summary, buckets, out_fd, delim,
                             progress, check_cancelled, seed, iter_record_cuts, csv_header, initargs)
                    except BaseException:
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise
            finally:
                os.close(out_fd)
                _W.clear()  # the keys, if this process transformed blocks itself
    except BrokenProcessPool as exc:
        if state["from_workers"]:
            raise AnonymiseError(f"{in_path}: a worker process ended abruptly (out of memory?); "
                                 "no output was written (run again with --workers 1)") from exc
        # the workers could not start (e.g. a script without `if __name__ == "__main__":` that
        # multiprocessing must re-import): the same run in this process, noted in the summary
        from .engine import anonymise_stream

        out = anonymise_stream(in_path, out_path, policy, keys, progress, check_cancelled,
                               block_size=block_size, seed=seed, workers=1)
        out["workers_unavailable"] = f"worker processes could not start ({exc}); ran in one process"
        return out
    summary.update(rows_in=state["rows_in"], rows_out=state["rows_out"], formulas_neutralised=state["formulas"],
                   verification=[{"name": "no original direct identifier in the output (per block)",
                                  "ok": True, "detail": f"{state['rows_in']:,} rows checked block by block"}],
                   local_blocks=state["local_blocks"], worker_cpu_seconds=round(state["cpu"], 3),
                   worker_peak_rss_mib=round(state["peak"], 1), seconds=time.perf_counter() - t0)
    return summary


def _run(pool, workers, fmt, block_size, policy, state, summary, buckets, out_fd, delim,
         progress, check_cancelled, seed, iter_record_cuts, csv_header, initargs):
    import threading
    from collections import deque
    from concurrent.futures import Future

    from .reader import parse_csv_block

    pending: deque = deque()

    def header(names):
        if state["names"] is None:
            state["names"] = names
            os.write(out_fd, csv_header(names, delim))

    def take(item, local=False):
        fut, start, end = item
        try:
            rows, lines, leaks, example, infos, names, formulas, pieces, cpu = fut.result()
        except _Failed as exc:
            # parsed again here, where the lines and rows of the blocks before are known: the
            # error names the file's line and data row, not the block's
            with open(fmt.path, "rb") as fh:
                fh.seek(start)
                data = fh.read(end - start)
            parse_csv_block(fmt, data, state["lines"], rows_before=state["rows_in"])
            path, message, _line = exc.args
            raise InputError(path, message) from None
        state["lines"] += lines
        if not local:  # this process's own CPU is counted as its own
            _account(state, cpu)
            state["from_workers"] += rows
        state["rows_in"] += rows
        state["leaks"] += leaks
        state["example"] = state["example"] or example
        for name, info in infos.items():
            prev = summary["transforms"].setdefault(name, {"transform": info["transform"]})
            for k, v in info.items():
                if k != "transform":
                    prev[k] = prev.get(k, 0) + v if isinstance(v, int) else v
        if state["leaks"] and policy.keep_order:
            # in order, as one process: the first leaking block stops the run
            raise VerificationError([f"{state['leaks']} output cell(s) hold an original direct "
                                     f"identifier, e.g. in column {state['example']!r}"])
        if rows:
            header(names)
        if policy.keep_order:
            for part in pieces:
                _append(out_fd, part)
            state["rows_out"] += rows
            state["formulas"] += formulas
        else:
            for b, path, offset, length in pieces:
                buckets.setdefault(b, []).append((path, offset, length))
        if progress:
            progress(state["rows_in"], 0, f"{state['rows_in']:,} rows transformed")

    # The first worker takes ~0.2 s to start (the forkserver imports pyarrow); meanwhile this
    # process transforms small blocks itself, in order like any other, so no core waits idle.
    started = threading.Event()

    def start_workers():
        try:
            pool.submit(int).result()
        except BaseException:  # a pool that cannot start is reported by the next submit
            pass
        finally:
            started.set()

    threading.Thread(target=start_workers, name="anonymise-workers-start", daemon=True).start()
    index, offset = 0, fmt.data_start
    tail = 2 * workers * block_size
    for start, end in iter_record_cuts(fmt, block_size=min(LOCAL_BLOCK_BYTES, block_size), tail_bytes=tail):
        if started.is_set():
            break
        if check_cancelled:
            check_cancelled()
        if not _W:
            _setup(*initargs)
        done: Future = Future()
        try:
            done.set_result(_block(index, start, end))
        except BaseException as exc:
            done.set_exception(exc)
        take((done, start, end), local=True)
        state["local_blocks"] += 1
        index, offset = index + 1, end
    started.wait()
    cuts = iter_record_cuts(fmt, block_size=block_size, start=offset, tail_bytes=tail)
    for index, (start, end) in enumerate(cuts, index):
        if check_cancelled:
            check_cancelled()
        pending.append((pool.submit(_block, index, start, end), start, end))
        while len(pending) >= 2 * workers:  # bounded: a few blocks in flight per worker
            take(pending.popleft())
        if check_cancelled:
            check_cancelled()
    while pending:
        take(pending.popleft())
        if check_cancelled:
            check_cancelled()
    if not state["rows_in"]:
        raise InputError(fmt.path, "the file has a header but no data rows")
    if state["leaks"]:
        raise VerificationError([f"{state['leaks']} output cell(s) hold an original direct identifier, "
                                 f"e.g. in column {state['example']!r}"])
    if policy.keep_order:
        return
    # second pass: each bucket shuffled and written by a worker, appended in bucket order
    for b in sorted(buckets):
        if check_cancelled:
            check_cancelled()
        pending.append(pool.submit(_bucket, b, buckets[b], seed))
        while len(pending) >= 2 * workers:
            _take_bucket(pending.popleft(), state, out_fd)
    while pending:
        _take_bucket(pending.popleft(), state, out_fd)
        if check_cancelled:
            check_cancelled()


def _account(state, usage):
    cpu, peak = usage
    state["cpu"] += cpu
    state["peak"] = max(state["peak"], peak)


def _take_bucket(fut, state, out_fd):
    rows, formulas, part, cpu = fut.result()
    _account(state, cpu)
    state["rows_out"] += rows
    state["formulas"] += formulas
    _append(out_fd, part)
