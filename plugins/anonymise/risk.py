"""Re-identification risk from the equivalence classes of the quasi-identifiers.

An attacker who knows a person's quasi-identifier values finds the class of
records that match; if the class has f records, picking one at random
re-identifies the person with probability 1/f.

* prosecutor: the attacker knows the person is in the released data. Record risk
  1/f_j; highest = 1/min f_j; average = (number of classes) / n.
* journalist: the attacker does not know whether the person is in the release and
  links to a population table (e.g. the full data the release was sampled from).
  Record risk 1/F_j with F_j the size of the matching population class. Without a
  population table the release is its own population and this equals prosecutor.
* marketer: the attacker re-identifies as many records as possible; expected share
  = (1/n) * sum over classes f_j / F_j (= classes / n without population).
* records at risk: share of records whose risk exceeds the threshold.
* sample uniqueness: share of records alone in their class.

The headline P(A|D), the probability that a record is re-identified given the
release, is the average prosecutor risk: the expected share of records an attacker
with the quasi-identifiers re-identifies by picking a match at random.
"""

from __future__ import annotations

HISTOGRAM_BUCKETS = ((1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, None))


def _class_ids(columns: list, n: int):
    """Class index per row from a list of per-row code arrays."""
    import numpy as np

    key = np.zeros(n, dtype=np.int64)
    for codes in columns:
        codes = np.asarray(codes, dtype=np.int64)
        card = int(codes.max()) + 1 if len(codes) else 1
        if (int(key.max()) + 1 if n else 1) * card >= 2**62:
            key = np.unique(key, return_inverse=True)[1].ravel().astype(np.int64)
        key = key * card + codes
    _, inv, sizes = np.unique(key, return_inverse=True, return_counts=True)
    return inv.ravel(), sizes


def _encode_rows(table, qis):
    """Per QI: codes per row (pyarrow dictionary encoding, no Python loop)."""
    return [table.codes(q)[0] for q in qis]


def risk_profile(table, qis: list[str], threshold: float = 0.2, population=None) -> dict:
    """Risk figures for a Table on the given quasi-identifier columns."""
    import numpy as np

    n = table.num_rows
    if n == 0:
        return {"records": 0, "classes": 0, "prosecutor": {"highest": 0.0, "average": 0.0,
                "records_at_risk": 0.0}, "journalist": {"highest": 0.0, "average": 0.0,
                "records_at_risk": 0.0}, "marketer": {"average": 0.0}, "sample_uniqueness": 0.0,
                "histogram": [], "threshold": threshold, "p_reidentification": 0.0}
    inv, sizes = _class_ids(_encode_rows(table, qis), n)
    f = sizes[inv].astype(float)  # class size per record
    pros = 1.0 / f
    if population is not None:
        F = _population_sizes(table, population, qis)[inv].astype(float)
        F = np.maximum(F, f)  # a population holds at least the released records
    else:
        F = f
    jour = 1.0 / F
    hist = []
    for lo, hi in HISTOGRAM_BUCKETS:
        m = (sizes >= lo) if hi is None else ((sizes >= lo) & (sizes <= hi))
        hist.append({"sizes": f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}"),
                     "classes": int(m.sum()), "records": int(sizes[m].sum())})
    return {
        "records": int(n),
        "classes": int(len(sizes)),
        "prosecutor": {"highest": float(pros.max()), "average": float(pros.mean()),
                       "records_at_risk": float((pros > threshold).mean())},
        "journalist": {"highest": float(jour.max()), "average": float(jour.mean()),
                       "records_at_risk": float((jour > threshold).mean())},
        "marketer": {"average": float(jour.mean())},
        "sample_uniqueness": float((f == 1).mean()),
        "histogram": hist,
        "threshold": threshold,
        "p_reidentification": float(pros.mean()),
    }


def _population_sizes(table, population, qis):
    """For each class of `table`, the number of population records with the same QI values."""
    import numpy as np
    import pyarrow as pa

    joined = {}
    for q in qis:
        joined[q] = pa.chunked_array(table.data.column(q).chunks + population.data.column(q).chunks)
    n_s, n_p = table.num_rows, population.num_rows
    codes = [joined[q].combine_chunks().dictionary_encode().indices.to_numpy(zero_copy_only=False)
             for q in qis]
    inv, _ = _class_ids(codes, n_s + n_p)
    pop_counts = np.bincount(inv[n_s:], minlength=int(inv.max()) + 1)
    s_inv = inv[:n_s]
    # per sample class (ordered as _class_ids orders them on the sample alone)
    s_cls, s_first = np.unique(_class_ids(_encode_rows(table, qis), n_s)[0], return_index=True)
    return pop_counts[s_inv[s_first]]
