"""Lattice search: the ARX reference result, pruning == exhaustive, models and metrics by hand."""

import math

import pytest

from workbench_plugins.anonymise import lattice as L
from workbench_plugins.anonymise.errors import AnonymiseError
from workbench_plugins.anonymise.hierarchy import Hierarchy, read_arx_hierarchy
from workbench_plugins.anonymise.reader import read_table

from .conftest import ADULT_QIS


@pytest.fixture(scope="module")
def adult(adult_dir):
    table = read_table(adult_dir / "adult.csv")
    hs = {c: read_arx_hierarchy(adult_dir / f"adult_hierarchy_{c}.csv") for c in ADULT_QIS}
    return table, hs


def test_arx_reference_result(adult):
    """ARX on adult, its hierarchies, k=5, 4% suppression, Loss: (0,3,0,1,1,1,1,2,0), 0.2661, 1,178."""
    table, hs = adult
    assert table.num_rows == 30162 and table.delimiter == ";"
    res = L.search(L.encode(table, hs), L.PrivacyModels(k=5), suppression=0.04, metric="loss")
    assert tuple(res.levels[c] for c in ADULT_QIS) == (0, 3, 0, 1, 1, 1, 1, 2, 0)
    assert round(res.information_loss, 4) == 0.2661
    assert res.suppressed_rows == 1178
    assert res.nodes_checked < res.nodes_total  # pruning did work
    print(f"\nARX reference reproduced: {res.nodes_checked}/{res.nodes_total} nodes checked "
          f"in {res.seconds:.3f} s")


SMALL = ["sex", "age", "race", "marital-status", "education"]


@pytest.mark.parametrize("metric", L.METRICS)
@pytest.mark.parametrize("k,supp", [(5, 0.04), (20, 0.01), (3, 0.0)])
def test_pruned_search_equals_exhaustive(adult, metric, k, supp):
    table, hs = adult
    enc = L.encode(table, {c: hs[c] for c in SMALL})
    fast = L.search(enc, L.PrivacyModels(k=k), supp, metric)
    full = L.search(enc, L.PrivacyModels(k=k), supp, metric, exhaustive=True)
    assert fast.node == full.node
    assert fast.information_loss == pytest.approx(full.information_loss, rel=1e-12)
    assert fast.suppressed_rows == full.suppressed_rows


@pytest.mark.parametrize("l_spec,t_spec", [("distinct:3", None), ("entropy:2.5", None),
                                           ("recursive:3:2", None), (None, "equal:0.15"),
                                           (None, "hierarchical:0.1")])
def test_pruned_equals_exhaustive_with_sensitive_models(adult, adult_dir, l_spec, t_spec):
    table, hs = adult
    qis = ["sex", "age", "race", "marital-status"]
    sens = ("occupation", read_arx_hierarchy(adult_dir / "adult_hierarchy_occupation.csv"))
    enc = L.encode(table, {c: hs[c] for c in qis}, [sens])
    models = L.PrivacyModels(
        k=2,
        l_diversity=[L.parse_l_diversity("occupation", l_spec)] if l_spec else [],
        t_closeness=[L.parse_t_closeness("occupation", t_spec)] if t_spec else [])
    fast = L.search(enc, models, 0.05, "loss")
    full = L.search(enc, models, 0.05, "loss", exhaustive=True)
    assert (fast.node, fast.suppressed_rows) == (full.node, full.suppressed_rows)


def _tiny(tmp_path, rows, header="q,s"):
    p = tmp_path / "t.csv"
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return read_table(p)


H4 = Hierarchy([["a", "ab", "*"], ["b", "ab", "*"], ["c", "cd", "*"], ["d", "cd", "*"]])


def test_loss_and_other_metrics_by_hand(tmp_path):
    t = _tiny(tmp_path, ["a,x", "a,y", "b,x", "c,z"])
    enc = L.encode(t, {"q": H4})
    ev = L.evaluate(enc, (1,), L.PrivacyModels(k=1), 0)
    assert L.metric_value(enc, ev, "loss") == pytest.approx(1 / 3)  # shares 1/2, min n/4
    ev = L.evaluate(enc, (0,), L.PrivacyModels(k=2), 2)
    assert ev.ok and ev.suppressed_rows == 2
    assert L.metric_value(enc, ev, "loss") == pytest.approx(0.5)  # (2*1/4 + 2 - 1) / 3
    assert L.metric_value(enc, ev, "discernibility") == 2 ** 2 + 2 * 4
    assert L.metric_value(enc, ev, "aecs") == 4 / 2
    # entropy: kept rows at level 0 lose nothing; suppressed b and c lose log2(4/1) each
    assert L.metric_value(enc, ev, "entropy") == pytest.approx(2 * math.log2(4))
    assert not L.evaluate(enc, (0,), L.PrivacyModels(k=2), 1).ok
    assert L.geometric_mean_loss([0.2, 0.5]) == pytest.approx(math.sqrt(1.2 * 1.5) - 1)


def test_l_diversity_variants_by_hand(tmp_path):
    # class 'a' holds x,x,x,y ; class 'c' holds x,y,z
    t = _tiny(tmp_path, ["a,x", "a,x", "a,x", "a,y", "c,x", "c,y", "c,z"])
    enc = L.encode(t, {"q": H4}, ["s"])

    def supp(spec):
        return L.evaluate(enc, (0,), L.PrivacyModels(l_diversity=[L.parse_l_diversity("s", spec)]),
                          7).suppressed_rows

    assert supp("distinct:2") == 0 and supp("distinct:3") == 4
    ent_a = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))  # = log(1.755)
    assert supp(f"entropy:{math.exp(ent_a) - 0.01}") == 0 and supp(f"entropy:{math.exp(ent_a) + 0.01}") == 4
    # recursive (c,2): r1 < c * (r2 + ...): class a 3 < c*1, class c 1 < c*2
    assert supp("recursive:3:2") == 4 and supp("recursive:3.5:2") == 0
    with pytest.raises(AnonymiseError):
        L.parse_l_diversity("s", "fancy:2")


def test_t_closeness_by_hand(tmp_path):
    hs = Hierarchy([["a", "X", "*"], ["b", "X", "*"], ["c", "Y", "*"], ["d", "Y", "*"]])
    # overall uniform over a,b,c,d; class 'p' = {a,b}, class 'q' = {c,d}, class 'r' = {a,c,b,d}
    rows = ["p,a", "p,b", "q,c", "q,d", "r,a", "r,c", "r,b", "r,d"]
    qh = Hierarchy([["p", "*"], ["q", "*"], ["r", "*"]])
    t = _tiny(tmp_path, rows)
    enc = L.encode(t, {"q": qh}, [("s", hs)])
    def supp(spec):
        return L.evaluate(enc, (0,), L.PrivacyModels(t_closeness=[L.parse_t_closeness("s", spec)]),
                          8).suppressed_rows
    # equal distance: p and q are 0.5 away, r is 0
    assert supp("equal:0.49") == 4 and supp("equal:0.5") == 0
    # hierarchical: moving p's mass to Y crosses the root (height 2 of 2): cost 0.5 * 1
    assert supp("hierarchical:0.49") == 4 and supp("hierarchical:0.5") == 0
    import numpy as np
    diff = np.array([[0.25, -0.25, 0.25, -0.25]])
    assert L._hierarchical_emd(diff, hs, ["a", "b", "c", "d"])[0] == pytest.approx(0.25)


def test_no_solution_and_bad_parameters(adult):
    table, hs = adult
    enc = L.encode(table, {"sex": hs["sex"]})
    with pytest.raises(AnonymiseError, match="no generalisation satisfies"):
        L.search(enc, L.PrivacyModels(k=40000), 0.0)
    with pytest.raises(AnonymiseError, match="between 0 and 1"):
        L.search(enc, L.PrivacyModels(k=2), 4.0)
    with pytest.raises(AnonymiseError, match="unknown metric"):
        L.search(enc, L.PrivacyModels(k=2), 0.0, "precision")


@pytest.mark.parametrize("sens,t_spec,supp,metric", [
    ("salary-class", "equal:0.05", 0.04, "loss"), ("salary-class", "equal:0.1", 0.1, "discernibility"),
    ("occupation", "equal:0.2", 0.04, "loss"), ("occupation", "hierarchical:0.1", 0.02, "aecs")])
def test_t_closeness_bound_prunes_and_keeps_the_optimum(adult, adult_dir, sens, t_spec, supp, metric):
    """The bound for nodes below a failing node (rows every finer node must suppress, from the
    convexity of the distance) prunes, and the optimum is the exhaustive scan's."""
    table, hs = adult
    qis = ["sex", "age", "race", "marital-status", "education"]
    enc = L.encode(table, {c: hs[c] for c in qis},
                   [(sens, read_arx_hierarchy(adult_dir / f"adult_hierarchy_{sens}.csv"))])
    models = L.PrivacyModels(k=5, t_closeness=[L.parse_t_closeness(sens, t_spec)])
    try:
        full = L.search(enc, models, supp, metric, exhaustive=True)
    except AnonymiseError:
        with pytest.raises(AnonymiseError, match="no generalisation"):
            L.search(enc, models, supp, metric)
        return
    fast = L.search(enc, models, supp, metric)
    assert (fast.node, fast.suppressed_rows) == (full.node, full.suppressed_rows)
    assert fast.information_loss == pytest.approx(full.information_loss, rel=1e-12)
    assert fast.nodes_checked < full.nodes_checked
