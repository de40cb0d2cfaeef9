"""Automatic hierarchies (built from the data, as `--qi COL` / `--qi COL=auto` and the tab do)
beside ARX's hand-made hierarchies on adult, k = 5, 4 % suppression, loss metric.

The loss of each optimum is on its own hierarchies' scale (ARX's Loss divides by the hierarchy's
domain), so the table also gives measures that do not depend on the hierarchies: classes,
average class size, discernibility, suppressed rows and P(A|D) (the average prosecutor risk).

Usage: .venv/bin/python benchmarks/anonymise_auto_hierarchies.py [--k 5] [--suppression 0.04]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ADULT = REPO / "tests" / "anonymise" / "data" / "adult"
QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation",
       "salary-class"]


def optimum(table, hierarchies, k, suppression):
    from workbench_plugins.anonymise import lattice as L

    enc = L.encode(table, hierarchies)
    models = L.PrivacyModels(k=k)
    t = time.perf_counter()
    res = L.search(enc, models, suppression, "loss")
    seconds = time.perf_counter() - t
    ev = res.evaluation
    keep = ~ev.outlier
    classes = int(keep.sum())
    released = enc.n - res.suppressed_rows
    return {"levels": res.node, "heights": tuple(q.height for q in enc.qis), "loss": res.information_loss,
            "suppressed": res.suppressed_rows, "classes": classes, "aecs": released / max(classes, 1),
            "discernibility": L.metric_value(enc, ev, "discernibility"), "p_ad": classes / max(released, 1),
            "nodes": f"{res.nodes_checked:,} of {res.nodes_total:,}", "seconds": seconds}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--suppression", type=float, default=0.04)
    args = ap.parse_args(argv)
    from workbench_plugins.anonymise.engine import detect_policy
    from workbench_plugins.anonymise.hierarchy import auto_hierarchy, read_arx_hierarchy
    from workbench_plugins.anonymise.reader import read_table

    table = read_table(ADULT / "adult.csv")
    entities = {c: s.get("entity") for c, s in detect_policy(table).columns.items()}
    arx = {c: read_arx_hierarchy(ADULT / f"adult_hierarchy_{c}.csv") for c in QIS}
    auto = {c: auto_hierarchy(table.values(c), entities.get(c), c) for c in QIS}
    print(f"adult, {table.num_rows:,} rows, 9 quasi-identifiers, k={args.k}, {args.suppression:.0%} suppression")
    print("automatic hierarchies: " + ", ".join(f"{c} {h.kind} ({h.height} levels)" for c, h in auto.items()))
    for name, hs in (("ARX hierarchies", arx), ("automatic hierarchies", auto)):
        r = optimum(table, hs, args.k, args.suppression)
        print(f"{name:22s} optimum {r['levels']} of heights {r['heights']}: loss {r['loss']:.4f} (own scale), "
              f"{r['suppressed']:,} suppressed, {r['classes']:,} classes, average class {r['aecs']:.1f}, "
              f"discernibility {r['discernibility']:.4g}, P(A|D) {r['p_ad']:.4f}; "
              f"{r['nodes']} nodes in {r['seconds']:.2f} s")


if __name__ == "__main__":
    main()
