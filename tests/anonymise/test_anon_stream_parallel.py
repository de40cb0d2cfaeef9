"""Streaming in worker processes over byte ranges: the same bytes as one process, the same
errors (naming the file and line), nothing partial left behind on an error or a cancel."""

import csv
import hashlib
import io
import hmac
import random

import pytest

from workbench_plugins.anonymise import engine
from workbench_plugins.anonymise.engine import Policy
from workbench_plugins.anonymise.errors import InputError, VerificationError
from workbench_plugins.anonymise.parallel import default_workers

KEY = bytes(range(32))
KEYS = {"pseudonym": KEY}
D = "direct_identifier"
BLOCK = 1 << 13  # small blocks: many ranges, cut next to quotes and line breaks


def _edge_file(path, n=1500, encoding="utf-8", seed=3):
    """Quoted delimiters, doubled quotes, line breaks inside values, formulas, accents, blanks."""
    rnd = random.Random(seed)
    names = ["Zoë Ångström", "O'Brien, Pat", 'Ann "Nan" Lee', "José\nMaría", "=cmd|' /C calc'!A0", "bob"]
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "email", "phone", "ip", "note"])
        for i in range(n):
            w.writerow([str(i), rnd.choice(names), f"user{rnd.randrange(n // 3)}@ex.org",
                        f"+44 20 {rnd.randrange(10**7, 10**8)}", f"10.0.{i % 7}.{rnd.randrange(256)}",
                        rnd.choice(["", "line one\nline two, with comma", '"quoted"', "@SUM(A1)", "plain",
                                    "multi\r\nline\r\n"])])
    return path


def _policy(keep_order=True):
    return Policy(columns={"email": {"transform": "pseudonymise", "role": D},
                           "ip": {"transform": "pseudonymise", "role": D, "prefix": "ip_"},
                           "name": {"transform": "redact", "role": D},
                           "phone": {"transform": "mask", "role": D}}, keep_order=keep_order)


def _run(src, out, policy, workers, **kw):
    return engine.anonymise_stream(src, out, policy, KEYS, block_size=BLOCK, workers=workers, **kw)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_workers_write_the_same_bytes_as_one_process(tmp_path, encoding):
    src = _edge_file(tmp_path / "in.csv", encoding=encoding)
    one = _run(src, tmp_path / "one.csv", _policy(), 1)
    two = _run(src, tmp_path / "two.csv", _policy(), 2)
    assert two["workers"] == 2 and "workers" not in one
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    for k in ("rows_in", "rows_out", "formulas_neutralised", "transforms"):
        assert one[k] == two[k], k
    assert one["rows_out"] == 1500 and one["formulas_neutralised"] > 0
    # the pseudonyms are HMAC-SHA256 of the normalised value, as the stdlib computes it
    with open(tmp_path / "two.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(src, newline="", encoding=encoding) as fh:
        orig = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == [o["id"] for o in orig]
    for r, o in zip(rows[:50], orig[:50]):
        assert r["email"] == hmac.new(KEY, o["email"].lower().encode(), hashlib.sha256).hexdigest()[:24]
        assert r["ip"] == "ip_" + hmac.new(KEY, o["ip"].encode(), hashlib.sha256).hexdigest()[:24]
        assert r["note"] == o["note"] or r["note"] == "'" + o["note"]  # formulas neutralised, line breaks kept


def test_shuffled_output_holds_the_same_rows(tmp_path):
    src = _edge_file(tmp_path / "in.csv")
    old = engine.STREAM_BUCKET_BYTES
    engine.STREAM_BUCKET_BYTES = 1 << 14  # several buckets for this small file
    try:
        one = _run(src, tmp_path / "one.csv", _policy(False), 1)
        two = _run(src, tmp_path / "two.csv", _policy(False), 2, seed=5)
        _run(src, tmp_path / "again.csv", _policy(False), 2, seed=5)
    finally:
        engine.STREAM_BUCKET_BYTES = old
    assert two["buckets"] >= one["buckets"] > 1
    assert two["formulas_neutralised"] == one["formulas_neutralised"] > 0

    def rows(name):
        with open(tmp_path / name, newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))

    a, b = rows("one.csv"), rows("two.csv")
    assert a[0] == b[0] and sorted(a[1:]) == sorted(b[1:]) and len(b) == 1501
    assert [r[0] for r in b[1:]] != [str(i) for i in range(1500)]  # shuffled
    assert rows("again.csv") == b  # a seed replays the order (tests only; runs use OS randomness)


def _expect_same_error(tmp_path, src, match):
    errors = []
    for workers in (1, 2):
        with pytest.raises(InputError, match=match) as err:
            _run(src, tmp_path / f"o{workers}.csv", _policy(), workers)
        errors.append(str(err.value))
        assert not (tmp_path / f"o{workers}.csv").exists()
    assert errors[0] == errors[1]
    assert str(src) in errors[0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no part or temp file left
    return errors[0]


def test_a_ragged_row_deep_in_the_file_names_the_file_and_line(tmp_path):
    src = _edge_file(tmp_path / "in.csv")
    lines = src.read_bytes().split(b"\n")
    k = len(lines) * 3 // 4
    while lines[k].count(b'"') % 2 or lines[k - 1].count(b'"') % 2:  # a line outside quoted values
        k += 1
    lines.insert(k, b"1,2,3")
    src.write_bytes(b"\n".join(lines))
    msg = _expect_same_error(tmp_path, src, "ragged|fields")
    assert f"line {k + 1}:" in msg
    with open(src, newline="", encoding="utf-8") as fh:
        row = next(i for i, r in enumerate(csv.reader(fh)) if len(r) == 3)  # the header is row 0
    assert f"data row {row} has 3 fields" in msg  # the file's row, not the block's


def test_a_bad_byte_deep_in_a_utf8_file_names_the_file_and_line(tmp_path):
    src = _edge_file(tmp_path / "in.csv", n=3000)
    data = src.read_bytes()
    at = data.index(b"\n", len(data) * 4 // 5) + 1
    src.write_bytes(data[:at] + b"9999,\xff\xfe,a@b.org,+44,10.0.0.1,x\n" + data[at:])
    msg = _expect_same_error(tmp_path, src, "0xff")
    line = data[:at].count(b"\n") + 1
    assert f"line {line}:" in msg


def test_a_leak_blocks_the_output_in_both_orders(tmp_path):
    src = _edge_file(tmp_path / "in.csv")
    for keep in (True, False):
        leak = Policy(columns={"email": {"transform": "pseudonymise", "role": D},
                               "note": {"transform": "keep", "role": D},
                               "id": {"transform": "keep"}}, keep_order=keep)
        # the note column is kept although it is a direct identifier: its own values leak
        with pytest.raises(VerificationError, match="note"):
            _run(src, tmp_path / "leak.csv", leak, 2)
        assert not (tmp_path / "leak.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("keep_order", [True, False])
def test_a_cancel_in_the_middle_leaves_no_output_and_no_parts(tmp_path, keep_order):
    src = _edge_file(tmp_path / "in.csv", n=4000)
    out = tmp_path / "out.csv"
    old = engine.STREAM_BUCKET_BYTES
    engine.STREAM_BUCKET_BYTES = 1 << 14  # several buckets: the second pass has steps to cancel in
    try:
        class Cancelled(Exception):
            pass

        def written():  # records appended to the output being built (shuffled: only in the second pass)
            return sum(p.stat().st_size for p in tmp_path.glob(".out.csv.*.part"))

        # early (at the third check), and once records are in the output being built
        for late in (False, True):
            out.write_text("the previous, complete output\n")
            seen = []

            def check_cancelled():
                seen.append(1)
                if (written() > 200) if late else len(seen) == 3:
                    raise Cancelled()

            with pytest.raises(Cancelled):
                _run(src, out, _policy(keep_order), 2, check_cancelled=check_cancelled)
            assert out.read_text() == "the previous, complete output\n"  # untouched, never half-replaced
            assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]
    finally:
        engine.STREAM_BUCKET_BYTES = old


def test_workers_default_to_the_cores_only_for_large_files():
    assert default_workers(1 << 20) == 1
    assert default_workers(1 << 30) >= 1


@pytest.mark.parametrize("distinct, repeats", [(8000, 50), (40, 6000)])
def test_pseudonyms_are_the_stdlib_hmac_whether_values_repeat_or_not(distinct, repeats):
    # (8000, 50): hashed value by value; (40, 6000): each distinct value hashed once
    import pyarrow as pa

    from workbench_plugins.anonymise.transforms import normalise, pseudonymise

    rnd = random.Random(distinct)
    pool = [f"  Zoë.{i}@Ex.ORG " if i % 3 else f"id-{i}" for i in range(distinct)]
    values = pool + [rnd.choice(pool) for _ in range(repeats)]
    rnd.shuffle(values)
    got = pseudonymise(pa.array(values), KEY).to_pylist()
    want = [hmac.new(KEY, normalise(v).encode(), hashlib.sha256).hexdigest()[:24] for v in values]
    assert got == want


def test_record_cuts_cover_the_file_at_record_boundaries_and_refuse_an_overlong_line(tmp_path):
    from workbench_plugins.anonymise.reader import csv_format, iter_csv_ranges, iter_record_cuts

    src = _edge_file(tmp_path / "in.csv")
    fmt = csv_format(src)
    cuts = list(iter_record_cuts(fmt, block_size=BLOCK))
    ranges = list(iter_csv_ranges(fmt, block_size=BLOCK))
    assert cuts[0][0] == ranges[0][0] == fmt.data_start and cuts[-1][1] == ranges[-1][1] == src.stat().st_size
    assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))  # contiguous
    data = src.read_bytes()
    # each range holds whole records: parsed one by one, they give the file's rows
    def parse(b):
        return list(csv.reader(io.StringIO(b.decode("utf-8"), newline="")))

    assert [r for s, e in cuts for r in parse(data[s:e])] == parse(data)[1:]
    assert len(cuts) > 5
    long = tmp_path / "long.csv"
    long.write_bytes(data[:fmt.data_start] + b"1,a,b,c,d,e\n" * 3 + b"2," + b"x" * 50_000 + b",b,c,d,e\n")
    fmt = csv_format(long)
    for it in (iter_record_cuts, iter_csv_ranges):
        with pytest.raises(InputError, match="line 5: a line is over the reader's limit of 20,000 bytes"):
            list(it(fmt, block_size=4096, max_line_bytes=20_000))


def test_pieces_are_interleaved_uniformly_and_each_read_in_order():
    from collections import Counter

    from workbench_plugins.anonymise.parallel import _interleave

    seen = Counter()
    for seed in range(3000):
        idx = _interleave([2, 1, 1], seed).tolist()
        assert sorted(idx) == [0, 1, 2, 3] and idx.index(0) < idx.index(1)  # a piece keeps its order
        seen[tuple(idx)] += 1
    assert len(seen) == 12  # 4! / 2! interleavings, each about equally often
    assert min(seen.values()) > 3000 / 12 * 0.7 and max(seen.values()) < 3000 / 12 * 1.3


def _die(*args):
    import os

    os._exit(3)  # a worker that cannot start


def test_workers_that_cannot_start_fall_back_to_one_process(tmp_path, monkeypatch):
    from workbench_plugins.anonymise import parallel

    # large enough that this process is still transforming its first small blocks when the
    # pool reports that its workers died
    src = _edge_file(tmp_path / "in.csv", n=20000)
    monkeypatch.setattr(parallel, "_init", _die)
    s = _run(src, tmp_path / "two.csv", _policy(), 2)
    assert "could not start" in s["workers_unavailable"] and s["rows_out"] == 20000
    _run(src, tmp_path / "one.csv", _policy(), 1)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "one.csv", "two.csv"]
