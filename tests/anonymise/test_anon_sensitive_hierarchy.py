"""A sensitive attribute with its own hierarchy (hierarchical t-closeness) on the ARX adult data.

The local path once raised a NameError here; only the cluster path had been exercised."""

import csv
import json

from workbench_plugins.anonymise.engine import Policy, anonymise_file
from workbench_plugins.anonymise.hierarchy import read_arx_hierarchy
from workbench_plugins.anonymise.reader import read_table


def test_hierarchical_t_closeness_with_a_sensitive_hierarchy(adult_dir, tmp_path):
    qis = ["sex", "age", "race"]
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({
        "qi": {c: str(adult_dir / f"adult_hierarchy_{c}.csv") for c in qis},
        "sensitive": ["occupation"],
        "sensitive_hierarchies": {"occupation": str(adult_dir / "adult_hierarchy_occupation.csv")},
        "t_closeness": {"occupation": "hierarchical:0.3"},
        "k": 2, "suppression": 0.05}), encoding="utf-8")
    from workbench_plugins.anonymise.engine import load_policy

    out = tmp_path / "out.csv"
    s = anonymise_file(adult_dir / "adult.csv", out, load_policy(policy_file))
    assert all(c["ok"] for c in s["verification"]), s["verification"]
    assert s["rows_out"] == s["rows_in"] - s["suppressed_rows"] > 0

    # the output itself: classes of at least k, occupations untouched (a sensitive value is not generalised)
    table = read_table(out)
    h = read_arx_hierarchy(adult_dir / "adult_hierarchy_occupation.csv", name="occupation")
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert table.num_rows == len(rows) == s["rows_out"]
    assert {r["occupation"] for r in rows} <= {row[0] for row in h.rows}
    classes: dict = {}
    for r in rows:
        classes.setdefault(tuple(r[c] for c in qis), []).append(r["occupation"])
    assert min(len(v) for v in classes.values()) >= 2
    assert "0.3-closeness (hierarchical distance) of occupation" in s["models"]
    assert any(c["name"] == "privacy models hold on the written output" and c["ok"] for c in s["verification"])


def test_the_cluster_search_takes_the_same_sensitive_hierarchy(adult_dir, tmp_path):
    """The search a --ray run makes from the workers' merged counts (no Ray needed to call it) reaches
    the local run's generalisation with the same sensitive hierarchy."""
    from workbench_plugins.anonymise.distributed import search_merged

    qis = ["sex", "age", "race"]
    policy = Policy(qi={c: str(adult_dir / f"adult_hierarchy_{c}.csv") for c in qis}, sensitive=["occupation"],
                    sensitive_hierarchies={"occupation": str(adult_dir / "adult_hierarchy_occupation.csv")},
                    t_closeness={"occupation": "hierarchical:0.3"}, k=2, suppression=0.05)
    local = anonymise_file(adult_dir / "adult.csv", tmp_path / "out.csv", policy)
    merged: dict = {}
    with open(adult_dir / "adult.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter=";"):
            key = tuple(r[c] for c in qis) + (r["occupation"],)
            merged[key] = merged.get(key, 0) + 1
    res, _, _, counts = search_merged(merged, policy)
    assert sum(counts.values()) == local["rows_in"]
    assert res.levels == local["levels"] and res.suppressed_rows == local["suppressed_rows"]
