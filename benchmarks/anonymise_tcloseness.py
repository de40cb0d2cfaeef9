"""t-closeness and l-diversity searches on adult (ARX's hierarchies, k = 5, 4 % suppression):
nodes checked, seconds, and the optimum, beside an exhaustive scan of the whole lattice (the
optimum must be the same).

1. k = 5, t = 0.15 (equal distance) on salary-class, the other 8 attributes quasi-identifiers;
2. k = 5, t = 0.2 (equal distance) on occupation, the other 8 attributes quasi-identifiers;
3. k = 5, distinct 3-diversity on occupation (the flag case of issue 19).

Usage: .venv/bin/python benchmarks/anonymise_tcloseness.py [--runs 3] [--no-exhaustive]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ADULT = REPO / "tests" / "anonymise" / "data" / "adult"
ALL = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation",
       "salary-class"]

CASES = [("salary-class", "t", "equal:0.15"), ("occupation", "t", "equal:0.2"),
         ("occupation", "l", "distinct:3")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-exhaustive", action="store_true")
    ap.add_argument("--suppression", type=float, default=0.04)
    args = ap.parse_args(argv)
    from workbench_plugins.anonymise import lattice as L
    from workbench_plugins.anonymise.hierarchy import read_arx_hierarchy
    from workbench_plugins.anonymise.reader import read_table

    table = read_table(ADULT / "adult.csv")
    for sens, kind, spec in CASES:
        qis = [c for c in ALL if c != sens]
        hs = {c: read_arx_hierarchy(ADULT / f"adult_hierarchy_{c}.csv") for c in qis}
        enc = L.encode(table, hs, [(sens, read_arx_hierarchy(ADULT / f"adult_hierarchy_{sens}.csv"))])
        models = L.PrivacyModels(k=5, l_diversity=[L.parse_l_diversity(sens, spec)] if kind == "l" else [],
                                 t_closeness=[L.parse_t_closeness(sens, spec)] if kind == "t" else [])
        times, res = [], None
        for _ in range(args.runs):
            t = time.perf_counter()
            res = L.search(enc, models, args.suppression, "loss")
            times.append(time.perf_counter() - t)
        line = (f"k=5 {spec} on {sens}: {res.nodes_checked:,} of {res.nodes_total:,} nodes checked, "
                f"median {statistics.median(times):.2f} s of {args.runs} {[round(x, 2) for x in times]}, "
                f"optimum {res.node} loss {res.information_loss:.4f}, {res.suppressed_rows} suppressed")
        if not args.no_exhaustive:
            t = time.perf_counter()
            ex = L.search(enc, models, args.suppression, "loss", exhaustive=True)
            same = ex.node == res.node and abs(ex.information_loss - res.information_loss) < 1e-12
            line += (f"; exhaustive {ex.node} loss {ex.information_loss:.4f} in {time.perf_counter() - t:.1f} s "
                     f"-> {'same optimum' if same else 'DIFFERENT OPTIMUM'}")
        print(line + f" (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)


if __name__ == "__main__":
    main()
