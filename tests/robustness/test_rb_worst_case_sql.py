"""store.worst_case counts the worst case per sample in SQL (the Overview scores it on opening a
project): the figures must be exactly those of score.worst_case over the per-(eps, sample) rows,
the Python fold it replaced."""

from __future__ import annotations

import random


def _old_worst_case(store, run_id, version, norm):
    """The computation store.worst_case made before it was counted in SQL, kept as the reference."""
    from workbench_plugins.robustness.score import worst_case as wc

    n = store.query_one("SELECT samples FROM robustness_clean WHERE run_id=? AND model_version=?", (run_id, version))
    if not n:
        return {}
    rows = store.query(
        "SELECT p.eps AS eps, s.idx AS idx, MIN(s.adv_pred = s.label AND s.clean_pred = s.label) AS ok "
        "FROM robustness_samples s JOIN robustness_points p ON p.run_id = s.run_id "
        "AND p.model_version = s.model_version AND p.attack = s.attack AND p.eps_label = s.eps_label "
        "WHERE s.run_id=? AND s.model_version=? AND p.kind='attack' AND p.norm=? GROUP BY p.eps, s.idx",
        (run_id, version, norm))
    return wc(int(n["samples"]), [(r["eps"], r["idx"], r["ok"]) for r in rows])


def _fill(store, rng, run_id, version, samples):
    points = [("fgsm", "attack", "linf"), ("pgd", "attack", "linf"), ("pgd_l2", "attack", "l2"),
              ("deepfool", "attack", "l2"), ("gaussian_noise", "corruption", "linf")]
    eps_labels = ["0.01", "0.1", "0.3", "1"]
    store.execute("INSERT INTO robustness_clean VALUES (?,?,?,?,?,?)", (run_id, version, 0.9, "{}", samples, "{}"))
    for attack, kind, norm in points:
        for label in rng.sample(eps_labels, rng.randint(1, len(eps_labels))):
            store.execute("INSERT INTO robustness_points VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          (run_id, version, attack, kind, float(label), label, norm, 0.5, 0.5, 0.1, 0.01,
                           "{}", 0.1, 32))
            # some samples are missing from some points; labels 0-2, predictions mostly right
            rows = [(run_id, version, attack, label, i, i % 3, rng.choice([i % 3] * 4 + [9]),
                     rng.choice([i % 3] * 2 + [7]), 0.1)
                    for i in range(samples) if rng.random() < 0.9]
            store.executemany("INSERT INTO robustness_samples VALUES (?,?,?,?,?,?,?,?,?)", rows)


def test_worst_case_in_sql_gives_the_same_figures_as_the_python_fold(project):
    from workbench.api import PluginStore
    from workbench_plugins.robustness import store as S

    store = PluginStore(project, "robustness")
    rng = random.Random(7)
    with store.transaction():
        _fill(store, rng, 1, "original", 57)
        _fill(store, rng, 1, "hardened", 40)
        _fill(store, rng, 2, "original", 0)  # no samples: divided by 1, as before
    checked = 0
    for run_id, version in ((1, "original"), (1, "hardened"), (2, "original"), (3, "original")):
        for norm in ("linf", "l2", "none"):
            new, old = S.worst_case(store, run_id, version, norm), _old_worst_case(store, run_id, version, norm)
            assert new == old and list(new) == list(old), (run_id, version, norm)
            checked += bool(new)
    assert checked >= 4  # the comparison covered real figures, not only empty ones
