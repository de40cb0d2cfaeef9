"""The privacy pillar score, from the seed's P(A|D).

P(A|D) is the probability that a record is re-identified given the release D:
an attacker who knows a person's quasi-identifiers finds the f records of the
release that match and picks one, so the record's risk is 1/f, and over the
released records

    P(A|D) = (1/n) * sum over records r of 1/f(r)  =  (number of classes) / n

(the average prosecutor risk; suppressed records are not released and carry no
risk). For each target the latest run's output is measured as written.

    score = round(100 * (1 - max over targets of P(A|D)))

so a release where every record is unique scores 0, and 5-anonymity bounds every
record's risk by 1/5 (score at least 80, usually far higher since most classes
are larger). No run: None ("not assessed").
"""

from __future__ import annotations


def p_given_release(summary: dict) -> float | None:
    v = summary.get("p_reidentification") if summary else None
    return float(v) if v is not None else None


def score(store) -> float | None:
    runs = store.latest_runs("anonymise")
    ps = [p for p in (p_given_release(r.summary or {}) for r in runs) if p is not None]
    if not ps:
        return None
    return float(round(100.0 * (1.0 - max(ps))))
