"""The anonymisation on a Ray cluster (``workbench anonymise --ray``).

1. The driver cuts the input (CSV/TSV) into byte ranges at record ends (a newline outside quotes)
   and puts each range in the object store once.
2. Each worker parses its shard with the plugin's own reader and returns the frequency table of the
   distinct quasi-identifier tuples, with the sensitive values (so their distribution per class)
   where l-diversity or t-closeness is asked.
3. The driver merges the tables (in shard order, so values keep their first-appearance order) and
   runs the same ``lattice.search`` on the merged table: for k-anonymity every node's class sizes roll
   up from the distinct tuples weighted by their counts (as ARX's snapshot does); for l-diversity,
   t-closeness and the entropy metric, which read per-row codes, the distinct tuples' integer codes
   are repeated by their counts (integers only, never the rows' text). ``auto`` hierarchies are built
   here from the merged distinct values (a hierarchy depends on the set of values only).
4. Workers apply the chosen generalisation (a map {original tuple: generalised tuple, or suppressed}),
   then the pseudonyms, masks and other per-value transforms (``engine._process_block``, as the
   streaming path), run the leak check on their shard, and render their output shard as CSV.
   Without ``--keep-order`` each shard deals its rows at random into buckets, and a second round of
   tasks shuffles each bucket: a uniform permutation of all rows, as a local run's.
5. The driver, the single writer, appends the shards to the output file (atomically).

The optimum and the output equal the local run's (same rows; the same order with ``--keep-order``).
Keys for pseudonyms and tokens travel only as task arguments (small, so inlined in the task, never
in the object store, so never spilled to disk) and live in the workers' memory for the run.

Why not Ray Data: ``ray.data.read_csv`` reads one file in one task (it does not split a single CSV:
ray-project/ray#55418), it needs pandas, and its parser (type inference, encodings) is not the
plugin's reader, whose encoding and delimiter detection, repairs and line-numbered errors the local
run uses. Byte ranges read by Ray tasks with the same reader give the same table.

Refused on Ray, with the reason: surrogate names (one collision-free mapping for the whole file, so
the first holder of a name depends on the row order) and seeded noise (one random stream over all
rows); Parquet and JSON Lines inputs (cut at record ends only for CSV/TSV).
"""

from __future__ import annotations

import os

from workbench.api import active_cluster as cluster, cluster_session as on_cluster  # noqa: F401 (used by cli, engine)

from .errors import AnonymiseError, InputError, VerificationError

READ_BLOCK = 1 << 20
MIN_SHARD_BYTES = 1 << 12


# ------------------------------------------------------------------ shards
def cut_shards(path, shards: int) -> tuple[bytes, list[tuple[int, int, int]]]:
    """(header line, [(start, stop, first line number)]): about *shards* byte ranges of whole records.

    A range ends at a newline outside quotes (an even number of quote characters before it, as
    doubled quotes keep the count even), so a quoted field with a newline inside is never cut."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = b""
        while b"\n" not in head:
            block = fh.read(READ_BLOCK)
            if not block:
                break
            head += block
        if b"\n" not in head:
            return head, []
        header = head[:head.index(b"\n") + 1]
        target = max(MIN_SHARD_BYTES, -(-(size - len(header)) // max(1, shards)))
        fh.seek(len(header))
        ranges = []
        start = pos = len(header)  # pos: the file offset of the block being scanned
        start_line = line = 2      # the header is line 1
        quotes = 0
        while True:
            block = fh.read(READ_BLOCK)
            if not block:
                break
            i = 0  # block[:i] is counted
            while True:
                j = max(i, start + target - pos)  # no cut before start + target
                if j >= len(block):
                    quotes += block.count(b'"', i)
                    line += block.count(b"\n", i)
                    break
                quotes += block.count(b'"', i, j)
                line += block.count(b"\n", i, j)
                nl = block.find(b"\n", j)
                if nl < 0:
                    quotes += block.count(b'"', j)
                    break
                quotes += block.count(b'"', j, nl)
                i = nl + 1
                line += 1
                if quotes % 2 == 0:  # outside quotes: a record ends here
                    ranges.append((start, pos + i, start_line))
                    start, start_line = pos + i, line
            pos += len(block)
        if start < size:
            ranges.append((start, size, start_line))
    return header, ranges


class Raised(Exception):
    """A worker's error in a form Ray carries back (``InputError``'s own arguments do not pickle);
    the driver raises :meth:`rebuild`, so the user reads the same message as from a local run."""

    def __init__(self, kind: str, path, message: str, line):
        super().__init__(kind, path, message, line)

    def rebuild(self) -> AnonymiseError:
        kind, path, message, line = self.args
        return InputError(path, message, line=line) if kind == "input" else AnonymiseError(message)


def _carried(task):
    """*task* raising a :class:`Raised` for any of the plugin's errors (the name stays the task's)."""
    import functools

    @functools.wraps(task)
    def run(*args):
        try:
            return task(*args)
        except Raised:
            raise
        except AnonymiseError as exc:
            raise Raised("anonymise", None, str(exc), None) from None
    return run


def _read_range(path, start: int, stop: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(start)
        return fh.read(stop - start)


def _read_shard(header: bytes, body: bytes, first_line: int, name: str, delimiter, encoding, repair,
                suffix: str = ".csv"):
    """The shard as the plugin's reader reads it; a bad record is named by the input's own path and line."""
    import shutil
    import tempfile

    from .reader import read_table

    folder = tempfile.mkdtemp(prefix="wb-anon-")
    try:
        path = os.path.join(folder, "shard" + suffix)
        with open(path, "wb") as fh:
            fh.write(header + body)
        try:
            return read_table(path, delimiter=delimiter, encoding=encoding, repair=repair, allow_empty=True)
        except InputError as exc:
            import re

            detail = str(exc)[len(f"{exc.path}, line {exc.line}: " if exc.line is not None else f"{exc.path}: "):]
            detail = re.sub(r"\bdata row \d+ ", "the record ", detail)  # the shard's row number says nothing
            line = None if exc.line is None else exc.line - 2 + first_line
            raise Raised("input", name, detail, line) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ phase 1: frequency tables
@_carried
def profile_task(header: bytes, body: bytes, first_line: int, name: str, columns: list[str], delimiter, encoding,
                 repair, suffix: str) -> dict:
    """On a worker: {(QI values..., sensitive values...): rows} of one shard, and how it was read."""
    import collections

    table = _read_shard(header, body, first_line, name, delimiter, encoding, repair, suffix)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise AnonymiseError(f"{name}: no column {missing[0]!r} (columns: {', '.join(table.columns)})")
    counts = collections.Counter(zip(*(table.values(c) for c in columns))) if table.num_rows else {}
    return {"counts": dict(counts), "rows": table.num_rows, "columns": table.columns,
            "delimiter": table.delimiter, "encoding": table.encoding, "repairs": dict(table.repairs)}


def merged_encoding(counts: dict, qis: list[str], hierarchies: dict):
    """The lattice's input from a merged frequency table of QI tuples: the distinct tuples, weighted."""
    import numpy as np
    import pyarrow as pa

    from . import lattice as L
    from .reader import Table

    keys = list(counts)
    weights = np.array([counts[k] for k in keys], dtype=np.int64)
    table = Table("merged frequency table", pa.table({q: pa.array([k[i] for k in keys], type=pa.string())
                                                      for i, q in enumerate(qis)}))
    enc = L.encode(table, {q: hierarchies[q] for q in qis})
    enc.n = int(weights.sum())
    for q in enc.qis:  # value frequencies per level count rows, not distinct tuples
        per_code = np.bincount(q.codes, weights=weights, minlength=len(q.labels[0]))
        q.freqs = [np.bincount(q.maps[lv], weights=per_code, minlength=len(q.labels[lv])) for lv in range(len(q.maps))]
    cards = [len(q.labels[0]) for q in enc.qis]
    enc._base_classes = L._combine([q.maps[0][q.codes] for q in enc.qis], cards, len(keys), weights=weights)
    return enc


def expanded_encoding(counts: dict, qis: list[str], hierarchies: dict, sensitive: list):
    """The lattice's input with one code row per original row: the distinct (QI, sensitive) tuples
    encoded once, their integer codes repeated by their counts (what l-diversity, t-closeness and the
    entropy metric read per row). Integers only: no row's text is rebuilt."""
    import numpy as np
    import pyarrow as pa

    from . import lattice as L
    from .reader import Table

    keys = list(counts)
    weights = np.array([counts[k] for k in keys], dtype=np.int64)
    names = qis + [s[0] if isinstance(s, tuple) else s for s in sensitive]
    table = Table("merged frequency table", pa.table({c: pa.array([k[i] for k in keys], type=pa.string())
                                                      for i, c in enumerate(names)}))
    enc = L.encode(table, {q: hierarchies[q] for q in qis}, sensitive)
    enc.n = int(weights.sum())
    for q in enc.qis:
        q.codes = np.repeat(q.codes, weights)
        counts_per_code = np.bincount(q.codes, minlength=len(q.labels[0]))
        q.freqs = [np.bincount(q.maps[lv], weights=counts_per_code, minlength=len(q.labels[lv]))
                   for lv in range(len(q.maps))]
    for s in enc.sensitive.values():
        s.codes = np.repeat(s.codes, weights)
    return enc, weights


def search_merged(merged: dict, policy, check_cancelled=None):
    """(SearchResult, {QI tuple: generalised tuple, or None when suppressed}, hierarchies, QI class sizes)
    from the merged frequency table (keys: QI values then sensitive values)."""
    import numpy as np

    from . import lattice as L
    from .engine import models_of, resolve_hierarchies, sensitive_columns

    qis = list(policy.qi)
    nq = len(qis)
    qi_counts: dict = {}
    for key, n in merged.items():
        qi_counts[key[:nq]] = qi_counts.get(key[:nq], 0) + n
    distinct = {q: {k[i] for k in qi_counts} for i, q in enumerate(qis)}
    hierarchies = resolve_hierarchies(policy, values=lambda col: sorted(distinct[col]))
    models = models_of(policy)
    if policy.l_diversity or policy.t_closeness or policy.metric == "entropy":
        enc, weights = expanded_encoding(merged, qis, hierarchies, sensitive_columns(policy))
        res = L.search(enc, models, policy.suppression, policy.metric, check_cancelled=check_cancelled)
        cols, suppressed, _ = L.transform_columns(enc, res.node, models, policy.suppression)
        first = np.cumsum(weights) - weights  # the first code row of each distinct tuple
        mapping = {}
        for i, key in enumerate(merged):
            r = first[i]
            mapping[key[:nq]] = None if suppressed[r] else tuple(str(cols[q][r]) for q in qis)
    else:
        enc = merged_encoding(qi_counts, qis, hierarchies)
        res = L.search(enc, models, policy.suppression, policy.metric, check_cancelled=check_cancelled)
        ev = res.evaluation
        outlier = {tuple(int(g[c]) for g in ev.classes.gen_codes): bool(ev.outlier[c])
                   for c in range(len(ev.classes.sizes))}
        mapping = {}
        for i, key in enumerate(qi_counts):
            gen = tuple(int(q.maps[lv][q.codes[i]]) for q, lv in zip(enc.qis, res.node))
            mapping[key] = None if outlier[gen] else tuple(str(q.labels[lv][g])
                                                           for q, lv, g in zip(enc.qis, res.node, gen))
    return res, mapping, hierarchies, qi_counts


def risk_from_sizes(sizes, threshold: float) -> dict:
    """``risk.risk_profile``'s figures from the class sizes alone (no rows): every record of a class of
    size f has risk 1/f, so the averages over records are sums over classes."""
    import numpy as np

    from .risk import HISTOGRAM_BUCKETS

    sizes = np.asarray([s for s in sizes if s > 0], dtype=np.int64)
    n = int(sizes.sum())
    if n == 0:
        zero = {"highest": 0.0, "average": 0.0, "records_at_risk": 0.0}
        return {"records": 0, "classes": 0, "prosecutor": zero, "journalist": dict(zero), "marketer": {"average": 0.0},
                "sample_uniqueness": 0.0, "histogram": [], "threshold": threshold, "p_reidentification": 0.0}
    average = float(len(sizes) / n)
    at_risk = float(sizes[1.0 / sizes > threshold].sum() / n)
    hist = []
    for lo, hi in HISTOGRAM_BUCKETS:
        m = (sizes >= lo) if hi is None else ((sizes >= lo) & (sizes <= hi))
        hist.append({"sizes": f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}"),
                     "classes": int(m.sum()), "records": int(sizes[m].sum())})
    one = {"highest": float(1.0 / sizes.min()), "average": average, "records_at_risk": at_risk}
    return {"records": n, "classes": int(len(sizes)), "prosecutor": one, "journalist": dict(one),
            "marketer": {"average": average}, "sample_uniqueness": float(sizes[sizes == 1].sum() / n),
            "histogram": hist, "threshold": threshold, "p_reidentification": average}


# ------------------------------------------------------------------ phase 2: apply, check, render
def _csv_bytes(table, delimiter: str) -> tuple[bytes, bytes, int]:
    """(header, body, formulas neutralised) of *table* as the writer writes it."""
    import shutil
    import tempfile

    from .writer import csv_header, write_table

    folder = tempfile.mkdtemp(prefix="wb-anon-out-")
    try:
        path = os.path.join(folder, "part.tsv" if delimiter == "\t" else "part.csv")
        info = write_table(path, table, delimiter=delimiter)
        with open(path, "rb") as fh:
            data = fh.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    header = csv_header(table.column_names, delimiter)
    if not data.startswith(header):
        raise AnonymiseError("the output header differs between the writers")  # never expected
    return header, data[len(header):], info["formulas_neutralised"]


@_carried
def apply_task(header: bytes, body: bytes, first_line: int, name: str, read: dict, policy_dict: dict, keys: dict,
               mapping: dict, direct: list, out_delimiter: str, buckets: int, seed: int | None):
    """On a worker: one shard generalised (suppressed rows dropped), transformed, checked for leaks,
    then rendered as CSV (in order) or dealt at random into *buckets* (Arrow IPC) for the shuffle."""
    import numpy as np
    import pyarrow as pa

    from .engine import Policy, _process_block, _to_ipc

    policy = Policy.from_dict(policy_dict)
    table = _read_shard(header, body, first_line, name, read["delimiter"], read["encoding"], read["repair"],
                        read["suffix"])
    qis = list(policy.qi)
    data = table.data
    if qis and table.num_rows:
        gen = [mapping[t] for t in zip(*(table.values(q) for q in qis))]
        keep = np.fromiter((g is not None for g in gen), dtype=bool, count=len(gen))
        kept = [g for g in gen if g is not None]
        cols = {c: data.column(c) for c in data.column_names}
        for i, q in enumerate(qis):
            cols[q] = pa.chunked_array([pa.array([g[i] for g in kept], type=pa.string())])
        data = pa.table({c: (cols[c] if c in qis else cols[c].filter(pa.array(keep))) for c in data.column_names})
    # the QI columns are generalised already: the per-value transforms apply to the others
    policy.columns = {c: s for c, s in policy.columns.items() if c not in qis}
    out, leaks, example, infos = _process_block(data, policy, keys, {}, direct, name)
    out = pa.Table.from_batches([out])
    result = {"rows_in": table.num_rows, "rows_out": out.num_rows, "leaks": leaks, "example": example,
              "infos": infos, "repairs": dict(table.repairs)}
    if buckets <= 1:
        result["header"], result["body"], result["formulas"] = _csv_bytes(out, out_delimiter)
        return result
    which = np.random.default_rng(seed).integers(0, buckets, out.num_rows)
    order = np.argsort(which, kind="stable")
    counts = np.bincount(which, minlength=buckets)
    dealt = out.take(pa.array(order))
    parts, start = [], 0
    for b in range(buckets):
        part = dealt.slice(start, int(counts[b]))
        parts.append(_to_ipc(part.combine_chunks().to_batches()[0]) if part.num_rows else
                     _to_ipc(pa.RecordBatch.from_pylist([], schema=out.schema)))
        start += int(counts[b])
    result["buckets"] = parts
    return result


@_carried
def bucket_task(out_delimiter: str, seed: int, *parts: bytes):
    """On a worker: one bucket of every shard, joined and shuffled uniformly, rendered as CSV."""
    import numpy as np
    import pyarrow as pa

    from .engine import _from_ipc

    table = pa.Table.from_batches([_from_ipc(p) for p in parts])
    table = table.take(pa.array(np.random.default_rng(seed).permutation(table.num_rows)))
    header, body, formulas = _csv_bytes(table, out_delimiter)
    return {"header": header, "body": body, "formulas": formulas, "rows": table.num_rows}


# ------------------------------------------------------------------ the driver
def _refuse(policy, in_path) -> None:
    if os.path.splitext(str(in_path))[1].lower() not in (".csv", ".tsv", ".txt"):
        raise AnonymiseError(f"{in_path}: on Ray, the input is CSV or TSV (shards are cut at record ends)")
    for col, spec in policy.columns.items():
        t = spec.get("transform", "keep")
        if t == "surrogate":
            raise AnonymiseError(f"column {col!r}: surrogate names keep one collision-free mapping for the whole "
                                 "file, which a shard cannot see; on Ray use pseudonymise, or run locally")
        if t == "noise":
            raise AnonymiseError(f"column {col!r}: seeded noise is one random stream over all rows; on Ray it "
                                 "would differ from a local run's; run locally")


def anonymise_on_cluster(in_path, out_path, policy, keys: dict | None = None, progress=None, check_cancelled=None,
                         shuffle_seed=None, shards: int | None = None) -> dict:
    """``engine.anonymise_file`` with the reading, counting, transforming, checking and rendering on
    the cluster's workers; the search and the writing here. Returns the same summary (plus ``cluster``)."""
    import secrets
    import time
    from pathlib import Path

    import numpy as np

    from .engine import _needs_sensitive, _save_hierarchies, detected_sensitive, models_of
    from .writer import atomic_path

    t0 = time.perf_counter()
    keys = keys or {}
    c = cluster()
    if c is None:
        raise AnonymiseError("no Ray cluster in use: give --ray ADDRESS")
    _refuse(policy, in_path)
    step = (lambda d, m: progress(d, 6, m)) if progress else (lambda d, m: None)
    qis = list(policy.qi)
    models = models_of(policy)
    if (int(policy.k) > 1 or policy.l_diversity or policy.t_closeness) and not qis:
        raise AnonymiseError(f"k = {policy.k}: a privacy model needs quasi-identifiers (--qi COLUMN[=HIERARCHY.csv])")
    for col in list(policy.l_diversity) + list(policy.t_closeness):
        if col not in policy.sensitive:
            raise AnonymiseError(f"l-diversity/t-closeness of {col!r}: list it as a sensitive column")
    if (policy.l_diversity or policy.t_closeness) and not policy.sensitive:
        raise AnonymiseError(_needs_sensitive("l-diversity / t-closeness", policy))
    both = set(qis) & set(policy.sensitive)
    if both:
        raise AnonymiseError(f"{', '.join(sorted(both))}: a column is either a quasi-identifier or sensitive")
    name = str(in_path)
    suffix = Path(in_path).suffix.lower()
    n_shards = shards or max(2, 2 * c.total("CPU"), -(-os.path.getsize(in_path) // (64 << 20)))
    step(0, "cutting shards")
    header, ranges = cut_shards(in_path, n_shards)
    if not ranges:
        raise InputError(in_path, "the file has a header but no data rows")
    refs, sent = [], 0
    for start, stop, _ in ranges:
        data = _read_range(in_path, start, stop)
        sent += len(data)
        refs.append(c.put(data))
    wants_sens = bool(policy.l_diversity or policy.t_closeness or policy.metric == "entropy")
    columns = qis + (list(policy.sensitive) if wants_sens else [])
    step(1, "counting quasi-identifier tuples on the workers")
    items = [(i, (header, refs[i], ranges[i][2], name, columns, policy.delimiter, policy.encoding, policy.repair,
                  suffix)) for i in range(len(ranges))]
    profiles = _run(c, profile_task, items, check_cancelled)
    read_as = {(p["delimiter"], p["encoding"]) for p in profiles if p["rows"]}
    if len(read_as) > 1:
        raise AnonymiseError(f"{in_path}: the shards read with different delimiters or encodings "
                             f"({sorted(read_as, key=str)}); give --delimiter and --encoding")
    delimiter, encoding = next(iter(read_as)) if read_as else (policy.delimiter, policy.encoding)
    all_columns = profiles[0]["columns"]
    for col in list(policy.columns) + qis + list(policy.sensitive):
        if col not in all_columns:
            raise AnonymiseError(f"{in_path}: the policy names column {col!r}, which the file "
                                 f"does not have (columns: {', '.join(all_columns)})")
    rows_in = sum(p["rows"] for p in profiles)
    repairs: dict = {}
    for p in profiles:
        for k, v in p["repairs"].items():
            repairs[k] = repairs.get(k, 0) + v
    summary: dict = {"input": str(in_path), "output": str(out_path), "rows_in": rows_in, "repairs": repairs,
                     "metric": policy.metric, "levels": {}, "suppressed_rows": 0, "information_loss": None,
                     "models": models.describe(), "transforms": {}}
    mapping, hierarchies = {}, {}
    if qis:
        step(2, "searching the generalisation lattice on the merged table")
        merged: dict = {}
        for p in profiles:  # in shard order: values keep the order of their first appearance in the file
            for key, n in p["counts"].items():
                merged[key] = merged.get(key, 0) + n
        res, mapping, hierarchies, qi_counts = search_merged(merged, policy, check_cancelled)
        summary.update(levels=res.levels, suppressed_rows=res.suppressed_rows,
                       information_loss=res.information_loss, nodes_checked=res.nodes_checked,
                       lattice_nodes=res.nodes_total, search_seconds=res.seconds)
        summary["risk_before"] = risk_from_sizes(list(qi_counts.values()), policy.risk_threshold)
        released: dict = {}
        for key, n in qi_counts.items():
            g = mapping[key]
            if g is not None:
                released[g] = released.get(g, 0) + n
        smallest = min(released.values(), default=0)
        privacy_ok = not released or smallest >= int(policy.k)
    step(3, "transforming and checking the shards on the workers")
    direct = [col for col, s in policy.columns.items() if col not in policy.qi and (
        s.get("role") == "direct_identifier" or s.get("transform") in
        ("drop", "redact", "mask", "pseudonymise", "tokenise", "surrogate"))]
    out_delim = "\t" if Path(out_path).suffix.lower() == ".tsv" else ","
    buckets = 1 if policy.keep_order else len(ranges)
    rng = np.random.default_rng(shuffle_seed if shuffle_seed is not None else secrets.randbits(128))
    seeds = [int(s) for s in rng.integers(0, 2 ** 63, len(ranges) * 2)]
    mapping_ref = c.put(mapping)
    read = {"delimiter": delimiter, "encoding": encoding, "repair": policy.repair, "suffix": suffix}
    items = [(i, (header, refs[i], ranges[i][2], name, read, policy.to_dict(), dict(keys), mapping_ref, direct,
                  out_delim, buckets, seeds[i])) for i in range(len(ranges))]
    applied = _run(c, apply_task, items, check_cancelled)
    leaks = sum(a["leaks"] for a in applied)
    if leaks:
        example = next(a["example"] for a in applied if a["example"])
        raise VerificationError([f"{leaks} output cell(s) hold an original direct identifier, "
                                 f"e.g. in column {example!r} (checked shard by shard on the workers)"])
    for a in applied:
        for col, info in a["infos"].items():
            prev = summary["transforms"].setdefault(col, {"transform": info["transform"]})
            for k, v in info.items():
                if k != "transform":
                    prev[k] = prev.get(k, 0) + v if isinstance(v, int) else v
    if buckets > 1:
        step(4, "shuffling the rows across the shards")
        items = [(b, (out_delim, seeds[len(ranges) + b], *[a["buckets"][b] for a in applied]))
                 for b in range(buckets)]
        parts = _run(c, bucket_task, items, check_cancelled)
    else:
        parts = applied
    step(5, "writing")
    out_p = Path(out_path)
    rows_out = sum(a["rows_out"] for a in applied)
    with atomic_path(out_p) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(parts[0]["header"])
            for part in parts:
                fh.write(part["body"])
    checks = [{"name": "no original direct identifier in the output (per shard, on the workers)", "ok": True,
               "detail": f"{rows_in:,} rows checked in {len(ranges)} shards"}]
    if qis:
        checks.append({"name": f"k-anonymity (k={policy.k}) of the released classes, from the merged table",
                       "ok": privacy_ok, "detail": f"smallest released class: {smallest} rows"})
        if not privacy_ok:
            out_p.unlink()
            raise VerificationError([checks[-1]["name"] + ": " + checks[-1]["detail"]])
        summary["hierarchies"] = _save_hierarchies(out_p, policy, hierarchies)
        summary["risk_after"] = risk_from_sizes(list(released.values()), policy.risk_threshold)
        summary["p_reidentification"] = summary["risk_after"]["p_reidentification"]
    summary["verification"] = checks
    summary["detected_sensitive"] = detected_sensitive(policy)
    summary["formulas_neutralised"] = sum(p["formulas"] for p in parts)
    summary["rows_out"] = int(rows_out)
    summary["cluster"] = {"shards": len(ranges), "tasks": len(ranges) * (3 if buckets > 1 else 2),
                          "bytes_in": sent, "bytes_out": sum(len(p["body"]) for p in parts),
                          "distinct_tuples": len(mapping)}
    summary["seconds"] = time.perf_counter() - t0
    step(6, "done")
    return summary


def _run(c, fn, items: list, check_cancelled) -> list:
    """The results of *items*' tasks in their order. A task's own error (a bad record, a missing key)
    is raised as the worker raised it, naming the input file and line, not as a Ray error."""
    try:
        done = dict(c.run_tasks(fn, items, ctx=_Ctx(check_cancelled)))
    except Exception as exc:  # TaskFailed(cause=RayTaskError(cause=the worker's own error))
        cause = getattr(getattr(exc, "cause", None), "cause", None)
        if isinstance(cause, Raised):
            raise cause.rebuild() from None
        raise
    return [done[key] for key, _ in items]


class _Ctx:
    """What ``Cluster.run_tasks`` asks of a job context: whether to cancel."""

    def __init__(self, check_cancelled):
        self._check = check_cancelled

    def cancelled(self) -> bool:
        if self._check is None:
            return False
        try:
            self._check()
        except Exception:  # the job's cancel exception: cancel the Ray tasks
            return True
        return False
