"""The anonymisation's lattice search over shards on a Ray cluster (``workbench anonymise --ray``).

Workers read their shards and return the frequency table of the distinct quasi-identifier tuples;
the driver merges the tables and runs the same lattice search as a local run on the merged table:
every node's class sizes roll up from the distinct tuples weighted by their counts (as ARX's
snapshot does), so the optimum equals the local run's on the same data. Rows never travel back,
only (tuple, count) pairs.

Covered: k-anonymity with the loss, discernibility and AECS metrics, hierarchies from files.
The driver still reads the whole file to apply the chosen node and verify (as a local run).
Not yet: l-diversity / t-closeness (they need the sensitive values' distribution per tuple), the
entropy metric (per-row frequencies), "auto" hierarchies (built from all values), and applying
the chosen node, pseudonyms and masks on the workers with a leak check per shard.
"""

from __future__ import annotations

import os

from workbench.api import active_cluster as cluster, cluster_session as on_cluster  # noqa: F401 (used by cli, engine)

from .errors import AnonymiseError


def qi_counts(header: bytes, body: bytes, qis: list[str], delimiter, encoding) -> dict:
    """On a worker: {QI value tuple: rows} of one shard (the header line plus whole records)."""
    import collections
    import shutil
    import tempfile

    from .reader import read_table

    folder = tempfile.mkdtemp(prefix="wb-anon-")
    try:
        path = os.path.join(folder, "shard.csv")
        with open(path, "wb") as fh:
            fh.write(header + body)
        table = read_table(path, delimiter=delimiter, encoding=encoding, allow_empty=True)
        return dict(collections.Counter(zip(*(table.values(q) for q in qis))))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _shards(path, shards: int) -> tuple[bytes, list[bytes]]:
    """The header line and about *shards* runs of whole lines (records without newlines inside)."""
    with open(path, "rb") as fh:
        data = fh.read()
    header, _, rest = data.partition(b"\n")
    lines = rest.splitlines(keepends=True)
    step = max(1, -(-len(lines) // shards))
    return header + b"\n", [b"".join(lines[i:i + step]) for i in range(0, len(lines), step)]


def merged_encoding(counts: dict, qis: list[str], hierarchies: dict):
    """The lattice's input from a merged frequency table: the distinct tuples, weighted."""
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


def search_on_cluster(in_path, policy, shards: int = 4, check_cancelled=None):
    """(SearchResult, frequency-table entries): the optimum of ``lattice.search`` over the merged tables."""
    from . import lattice as L
    from .engine import models_of
    from .hierarchy import AUTO, read_arx_hierarchy

    if policy.l_diversity or policy.t_closeness or policy.metric == "entropy":
        raise AnonymiseError("on Ray: k-anonymity with the loss, discernibility or aecs metric only, for now")
    if any(not p or p == AUTO for p in policy.qi.values()):
        raise AnonymiseError("on Ray: give each quasi-identifier a hierarchy file ('auto' needs every value)")
    if os.path.splitext(str(in_path))[1].lower() not in (".csv", ".tsv", ".txt"):
        raise AnonymiseError(f"{in_path}: on Ray, the input is CSV or TSV (shards are cut at line ends)")
    c = cluster()
    qis = list(policy.qi)
    hierarchies = {q: read_arx_hierarchy(p, name=q) for q, p in policy.qi.items()}
    header, parts = _shards(in_path, shards)
    items = [(i, (header, c.put(part), qis, policy.delimiter, policy.encoding)) for i, part in enumerate(parts)]
    merged: dict = {}
    for _, table in c.run_tasks(qi_counts, items):
        for key, n in table.items():
            merged[key] = merged.get(key, 0) + n
    enc = merged_encoding(merged, qis, hierarchies)
    return L.search(enc, models_of(policy), policy.suppression, policy.metric, check_cancelled=check_cancelled), \
        len(merged)
