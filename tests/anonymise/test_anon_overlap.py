"""The streaming pipeline's threads: order kept, errors surfaced, nothing left running or written."""

import threading

import pytest

from workbench_plugins.anonymise import engine
from workbench_plugins.anonymise.engine import Policy, anonymise_file
from workbench_plugins.anonymise.errors import InputError, VerificationError
from workbench_plugins.anonymise.overlap import InOrder, prefetch

KEYS = {"pseudonym": bytes(range(32))}


def _threads(prefix):
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_prefetch_keeps_order_and_raises_where_the_loop_would():
    assert list(prefetch(iter(range(500)), depth=3)) == list(range(500))

    def failing():
        yield from range(5)
        raise InputError("f.csv", "bad row", line=7)

    got = []
    with pytest.raises(InputError, match="line 7"):
        for x in prefetch(failing()):
            got.append(x)
    assert got == [0, 1, 2, 3, 4]   # every item produced before the error came through
    assert not _threads("anonymise-read")


def test_prefetch_left_early_stops_and_closes_the_producer():
    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    gen = prefetch(endless(), depth=2, name="anonymise-test-early")
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    assert closed == [True] and not _threads("anonymise-test-early")


def test_in_order_runs_in_submission_order_and_raises_the_first_error():
    seen = []
    with InOrder(depth=2) as bg:
        for i in range(200):
            bg.submit(seen.append, i)
    assert seen == list(range(200))

    def boom(i):
        if i == 3:
            raise OSError("disk full")
        seen.append(i)

    seen.clear()
    with pytest.raises(OSError, match="disk full"):
        with InOrder(depth=1) as bg:
            for i in range(50):
                bg.submit(boom, i)
    assert seen[:3] == [0, 1, 2] and 3 not in seen and len(seen) < 50


def _people_csv(path, n):
    lines = ["id,name,email,phone,note"]
    for i in range(n):
        note = "=SUM(A1)" if i % 97 == 0 else ('say ""hi"", twice' if i % 5 == 0 else "ok")
        lines.append(f'{i},Person {i % 13},"P{i}.Lee@Example.org",+44 20 {10_000_000 + i * 7},"{note}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_threaded_streaming_writes_the_bytes_of_the_in_memory_path(tmp_path):
    # many small blocks, so reading, hashing and writing really overlap; keep_order makes
    # the bytes comparable with the in-memory pipeline, which has no threads
    src = _people_csv(tmp_path / "p.csv", 6000)
    pol = Policy(columns={"email": {"transform": "pseudonymise", "role": "direct_identifier"},
                          "phone": {"transform": "mask", "role": "direct_identifier"},
                          "name": {"transform": "mask", "keep_first": 1, "keep_last": 1}}, keep_order=True)
    s = engine.anonymise_stream(src, tmp_path / "s.csv", pol, KEYS, block_size=1 << 12)
    whole = anonymise_file(src, tmp_path / "w.csv", pol, KEYS)
    assert s["rows_out"] == whole["rows_out"] == 6000
    assert s["formulas_neutralised"] == whole["formulas_neutralised"] == 62
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "w.csv").read_bytes()
    # shuffled: the same rows, in another order
    pol.keep_order = False
    old = engine.STREAM_BUCKET_BYTES
    engine.STREAM_BUCKET_BYTES = 32 << 10   # several buckets
    try:
        sh = engine.anonymise_stream(src, tmp_path / "sh.csv", pol, KEYS, block_size=1 << 12)
    finally:
        engine.STREAM_BUCKET_BYTES = old
    assert sh["buckets"] > 1
    a = (tmp_path / "s.csv").read_text().splitlines()
    b = (tmp_path / "sh.csv").read_text().splitlines()
    assert a[0] == b[0] and sorted(a[1:]) == sorted(b[1:]) and a[1:] != b[1:]


@pytest.mark.parametrize("keep_order", [True, False])
def test_errors_in_a_late_block_leave_no_output_and_no_thread(tmp_path, keep_order):
    src = _people_csv(tmp_path / "p.csv", 3000)
    with open(src, "a", encoding="utf-8") as fh:
        fh.write("3000,ragged row\n")   # the last block: read ahead on the reader thread
    pol = Policy(columns={"email": {"transform": "pseudonymise", "role": "direct_identifier"}},
                 keep_order=keep_order)
    with pytest.raises(InputError, match="line 3002"):
        engine.anonymise_stream(src, tmp_path / "o.csv", pol, KEYS, block_size=1 << 12)
    leak = Policy(columns={"phone": {"transform": "keep", "role": "direct_identifier"}}, keep_order=keep_order)
    with pytest.raises(VerificationError, match="phone"):
        engine.anonymise_stream(_people_csv(tmp_path / "q.csv", 3000), tmp_path / "o.csv", leak, KEYS,
                                block_size=1 << 12)
    assert not (tmp_path / "o.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary files
    assert not _threads("anonymise-")
