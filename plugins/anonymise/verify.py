"""Checks on an output as written, independent of the code that produced it.

1. leak: no original direct-identifier value appears anywhere in the output, compared
   after folding case and spacing, and as a digit string for number-like values
   (a phone written differently is still the same phone); free text is checked
   token by token and over runs of up to four tokens;
2. privacy: the models are recomputed from the output file read with the standard
   csv module (not pyarrow, not the search's grouping);
3. linkage: every original record's quasi-identifiers, generalised with the chosen
   levels, are matched against the output; a record matched by fewer than k output
   records (but at least one) would be re-identified beyond what the model allows.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter, defaultdict

_SPLIT = re.compile(r"[\s,;:()\[\]{}<>\"|]+")
# a run of digits standing on its own: not inside a word, a hex pseudonym or a longer token
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\+?\d[\d\s().\-/]{5,}\d(?![0-9A-Za-z])")
_NUMBER_LIKE = re.compile(r"^[\d\s().\-/+x]+$")


def _norm(v: str) -> str:
    return re.sub(r"\s+", "", v).casefold()


def _digits(v: str) -> str:
    return re.sub(r"\D", "", v)


def read_output_rows(path, delimiter: str = ","):
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, [])
        rows = [r for r in reader]
    return header, rows


def check_leaks(original_values: dict, header: list, rows: list, min_len: int = 4) -> dict:
    """original_values: column -> list of original direct-identifier values."""
    texts, digits = {}, {}
    for col, values in original_values.items():
        for v in set(values):
            if v is None:
                continue
            n = _norm(v)
            if len(n) >= min_len:
                texts.setdefault(n, col)
            d = _digits(v)
            if len(d) >= 7 and len(d) >= 0.6 * len(n):
                digits.setdefault(d, col)
    leaks = []
    seen = set()
    for j, name in enumerate(header):
        for i, row in enumerate(rows):
            cell = row[j] if j < len(row) else ""
            if not cell or cell in seen:
                continue
            seen.add(cell)
            found = _find_in_cell(cell, texts, digits)
            if found:
                leaks.append({"column": name, "row": i + 1, "source_column": found})
                if len(leaks) >= 20:
                    break
    return {"name": "no original direct identifier in the output", "ok": not leaks,
            "detail": (f"{len(leaks)} leaked value(s), e.g. output column {leaks[0]['column']!r} "
                       f"row {leaks[0]['row']} holds a value of {leaks[0]['source_column']!r}")
            if leaks else f"{len(texts)} values checked", "leaks": leaks}


def _find_in_cell(cell, texts, digits):
    n = _norm(cell)
    if n in texts:
        return texts[n]
    toks = [t for t in _SPLIT.split(cell) if t]
    toks = [t.strip(".!?'") for t in toks]
    for size in range(1, 5):
        for s in range(0, len(toks) - size + 1):
            cand = _norm("".join(toks[s:s + size]))
            if cand in texts:
                return texts[cand]
    if digits:
        # digits are compared on token boundaries: the digits of a hex pseudonym or a token
        # strung together are not a phone number
        if _NUMBER_LIKE.match(cell):
            d = _digits(cell)
            if d in digits:
                return digits[d]
        for m in _DIGIT_RUN.finditer(cell):
            dd = _digits(m.group())
            if dd in digits:
                return digits[dd]
    return None


def check_privacy(header, rows, qis, k=1, l_diversity=(), t_closeness=(), hierarchies=None) -> dict:
    """Recompute k-anonymity, l-diversity and t-closeness (equal distance) on written rows."""
    idx = [header.index(q) for q in qis]
    classes = Counter(tuple(r[i] for i in idx) for r in rows)
    problems = []
    min_k = min(classes.values()) if classes else 0
    if k > 1 and classes and min_k < k:
        problems.append(f"a class has {min_k} record(s), below k={k}")
    for m in l_diversity:
        si = header.index(m.attribute)
        dist = defaultdict(Counter)
        for r in rows:
            dist[tuple(r[i] for i in idx)][r[si]] += 1
        for key, c in dist.items():
            counts = sorted(c.values(), reverse=True)
            total = sum(counts)
            if m.variant == "distinct":
                bad = len(counts) < m.l
            elif m.variant == "entropy":
                ent = -sum(x / total * math.log(x / total) for x in counts)
                bad = ent < math.log(m.l) - 1e-9
            else:
                li = int(m.l)
                bad = not (counts[0] < m.c * sum(counts[li - 1:]))
            if bad:
                problems.append(f"{m} fails for a class of {total} record(s)")
                break
    for m in t_closeness:
        if m.variant != "equal":
            continue  # hierarchical distance is checked by the search; equal distance here
        si = header.index(m.attribute)
        overall = Counter(r[si] for r in rows)
        n = len(rows)
        dist = defaultdict(Counter)
        for r in rows:
            dist[tuple(r[i] for i in idx)][r[si]] += 1
        for key, c in dist.items():
            total = sum(c.values())
            d = 0.5 * sum(abs(c.get(v, 0) / total - overall[v] / n) for v in overall)
            if d > m.t + 1e-9:
                problems.append(f"{m} fails: a class is at distance {d:.3f}")
                break
    return {"name": "privacy models hold on the written output", "ok": not problems,
            "detail": "; ".join(problems) if problems else
            f"{len(classes)} classes, smallest {min_k}", "smallest_class": min_k}


def check_linkage(original_table, hierarchies: dict, levels: dict, header, rows, k: int) -> dict:
    """Link each original record (QIs generalised as released) to the output records."""
    qis = list(levels)
    idx = [header.index(q) for q in qis]
    released = Counter(tuple(r[i] for i in idx) for r in rows)
    cols = [original_table.values(q) for q in qis]
    gen = [hierarchies[q] for q in qis]
    linked_unique = 0
    violations = 0
    smallest = None
    # each distinct original tuple is generalised once; its count says how many records it is
    for values, count in Counter(zip(*cols)).items():
        key = tuple(h.generalise(v, levels[q]) for h, v, q in zip(gen, values, qis))
        m = released.get(key, 0)
        if m == 0:
            continue  # suppressed: not in the release
        smallest = m if smallest is None else min(smallest, m)
        if m == 1:
            linked_unique += count
        if m < k:
            violations += count
    prob = 0.0 if smallest is None else 1.0 / smallest
    return {"name": "linkage attack from the original quasi-identifiers", "ok": violations == 0,
            "detail": f"{violations} original record(s) match fewer than k={k} output records; "
                      f"highest linkage probability {prob:.4f}; {linked_unique} linked uniquely",
            "highest_probability": prob, "uniquely_linked": linked_unique}
