"""The robustness plugin's tables, and the reads and writes the job, report and tab share.

Each finished (attack, epsilon) point is committed on its own, with its
per-sample outcomes, so a cancel or a crash keeps every point that finished.
"""

from __future__ import annotations

import json

MIGRATIONS = (
    (1, """
CREATE TABLE robustness_clean (
    run_id INTEGER NOT NULL, model_version TEXT NOT NULL, clean_accuracy REAL NOT NULL,
    per_class TEXT NOT NULL, samples INTEGER NOT NULL, settings TEXT NOT NULL,
    PRIMARY KEY (run_id, model_version));
CREATE TABLE robustness_points (
    run_id INTEGER NOT NULL, model_version TEXT NOT NULL, attack TEXT NOT NULL, kind TEXT NOT NULL,
    eps REAL NOT NULL, eps_label TEXT NOT NULL, norm TEXT NOT NULL, robust_accuracy REAL NOT NULL,
    success_rate REAL NOT NULL, mean_loss REAL NOT NULL, mean_perturbation REAL NOT NULL,
    per_class TEXT NOT NULL, seconds REAL NOT NULL, batch_size INTEGER NOT NULL,
    PRIMARY KEY (run_id, model_version, attack, eps_label));
CREATE TABLE robustness_samples (
    run_id INTEGER NOT NULL, model_version TEXT NOT NULL, attack TEXT NOT NULL, eps_label TEXT NOT NULL,
    idx INTEGER NOT NULL, label INTEGER NOT NULL, clean_pred INTEGER NOT NULL, adv_pred INTEGER NOT NULL,
    norm REAL NOT NULL);
CREATE INDEX robustness_samples_point ON robustness_samples (run_id, model_version, attack, eps_label);
CREATE TABLE robustness_epochs (
    run_id INTEGER NOT NULL, epoch INTEGER NOT NULL, loss REAL NOT NULL, accuracy REAL NOT NULL,
    PRIMARY KEY (run_id, epoch));
CREATE TABLE robustness_weights (measure TEXT PRIMARY KEY, weight REAL NOT NULL);
"""),
    # Adversarial examples for the gallery, as raw little-endian float32 (never pickles).
    (2, """
CREATE TABLE robustness_examples (
    run_id INTEGER NOT NULL, model_version TEXT NOT NULL, attack TEXT NOT NULL, eps_label TEXT NOT NULL,
    idx INTEGER NOT NULL, label INTEGER NOT NULL, clean_pred INTEGER NOT NULL, adv_pred INTEGER NOT NULL,
    shape TEXT NOT NULL, x BLOB NOT NULL, x_adv BLOB NOT NULL);
CREATE INDEX robustness_examples_point ON robustness_examples (run_id, model_version, attack, eps_label);
"""),
    # The project's protocol (threat model, epsilons, attacks and budgets), as JSON: one row.
    (3, """
CREATE TABLE robustness_protocol (
    id INTEGER PRIMARY KEY CHECK (id = 1), protocol TEXT NOT NULL, set_by_run INTEGER);
"""),
)


def save_clean(store, run_id: int, version: str, result) -> None:
    with store.transaction():
        store.execute("INSERT OR REPLACE INTO robustness_clean VALUES (?,?,?,?,?,?)",
                      (run_id, version, result.clean_accuracy, json.dumps(result.clean_per_class),
                       int(len(result.labels)), json.dumps(result.settings, default=str)))


def save_point(store, run_id: int, version: str, point, labels) -> None:
    """One point, its per-sample outcomes and its metric sample, in one commit."""
    s = point.samples
    rows = [(run_id, version, point.attack, point.eps_label, int(i), int(y), int(c), int(a), float(n))
            for i, y, c, a, n in zip(s["index"], labels, s["clean_pred"], s["adv_pred"], s["norm"])]
    with store.transaction():
        store.execute("INSERT OR REPLACE INTO robustness_points VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (run_id, version, point.attack, point.kind, point.eps, point.eps_label, point.norm,
                       point.robust_accuracy, point.success_rate, point.mean_loss, point.mean_perturbation,
                       json.dumps(point.per_class), point.seconds, point.batch_size))
        store.executemany("INSERT INTO robustness_samples VALUES (?,?,?,?,?,?,?,?,?)", rows)
        store.executemany("INSERT INTO robustness_examples VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                          [(run_id, version, point.attack, point.eps_label, i, int(labels[i]),
                            int(s["clean_pred"][i]), int(s["adv_pred"][i]), json.dumps(list(x.shape)),
                            x.astype("<f4").tobytes(), xa.astype("<f4").tobytes())
                           for i, x, xa in point.examples])
        # x of a robust-accuracy series is epsilon: the series is the curve itself
        store.add_metrics(metric_series(version, point.attack), [(point.eps, point.robust_accuracy)], run_id=run_id)


def save_epoch(store, run_id: int, epoch: int, loss: float, accuracy: float) -> None:
    with store.transaction():
        store.execute("INSERT OR REPLACE INTO robustness_epochs VALUES (?,?,?,?)", (run_id, epoch, loss, accuracy))
        store.add_metrics("harden/loss", [(epoch, loss)], run_id=run_id)
        store.add_metrics("harden/accuracy", [(epoch, accuracy)], run_id=run_id)


def metric_series(version: str, attack: str) -> str:
    return f"robust_accuracy/{version}/{attack}"


def clean(store, run_id: int) -> list[dict]:
    rows = store.query("SELECT * FROM robustness_clean WHERE run_id=? ORDER BY rowid", (run_id,))
    for r in rows:
        r["per_class"] = json.loads(r["per_class"])
        r["settings"] = json.loads(r["settings"])
    return rows


def points(store, run_id: int) -> list[dict]:
    rows = store.query("SELECT * FROM robustness_points WHERE run_id=? ORDER BY rowid", (run_id,))
    for r in rows:
        r["per_class"] = json.loads(r["per_class"])
    return rows


def samples(store, run_id: int, version: str, attack: str, eps_label: str) -> list[dict]:
    return store.query("SELECT idx, label, clean_pred, adv_pred, norm FROM robustness_samples WHERE run_id=? "
                       "AND model_version=? AND attack=? AND eps_label=? ORDER BY idx",
                       (run_id, version, attack, eps_label))


def examples(store, run_id: int, version: str, attack: str, eps_label: str) -> list[dict]:
    """The stored adversarial examples of one point, with ``x`` and ``x_adv`` as numpy arrays."""
    import numpy as np

    rows = store.query("SELECT idx, label, clean_pred, adv_pred, shape, x, x_adv FROM robustness_examples "
                       "WHERE run_id=? AND model_version=? AND attack=? AND eps_label=? ORDER BY idx",
                       (run_id, version, attack, eps_label))
    for r in rows:
        shape = json.loads(r.pop("shape"))
        r["x"] = np.frombuffer(r["x"], dtype="<f4").reshape(shape)
        r["x_adv"] = np.frombuffer(r["x_adv"], dtype="<f4").reshape(shape)
    return rows


def epochs(store, run_id: int) -> list[dict]:
    return store.query("SELECT epoch, loss, accuracy FROM robustness_epochs WHERE run_id=? ORDER BY epoch", (run_id,))


def weights(store) -> dict[str, float]:
    return {r["measure"]: r["weight"] for r in store.query("SELECT measure, weight FROM robustness_weights")}


def set_weight(store, measure: str, weight: float) -> None:
    with store.transaction():
        store.execute("INSERT OR REPLACE INTO robustness_weights VALUES (?,?)", (measure, float(weight)))


def curves(store, run_id: int) -> dict[str, dict]:
    """{model_version: {"clean": acc, "curves": {attack: {eps: acc}}}}."""
    out: dict[str, dict] = {}
    for c in clean(store, run_id):
        out[c["model_version"]] = {"clean": c["clean_accuracy"], "curves": {}}
    for p in points(store, run_id):
        entry = out.setdefault(p["model_version"], {"clean": None, "curves": {}})
        entry["curves"].setdefault(p["attack"], {})[p["eps"]] = p["robust_accuracy"]
    return out


def protocol(store) -> dict | None:
    row = store.query_one("SELECT protocol FROM robustness_protocol WHERE id=1")
    return json.loads(row["protocol"]) if row else None


def set_protocol(store, proto: dict, run_id: int | None) -> None:
    with store.transaction():
        store.execute("INSERT OR REPLACE INTO robustness_protocol VALUES (1,?,?)", (json.dumps(proto), run_id))


def worst_case(store, run_id: int, version: str, norm: str) -> dict[float, float]:
    """{eps: robust accuracy under the worst case per sample} over the run's attacks in one threat model.

    The same figures as ``score.worst_case`` over the per-(eps, sample) rows, counted by SQLite: a sample
    is right at eps when it has no failing row there (all its samples, less those failing once). The
    Overview scores this on opening a project; one row per eps instead of one per sample halves its time."""
    n = store.query_one("SELECT samples FROM robustness_clean WHERE run_id=? AND model_version=?", (run_id, version))
    if not n:
        return {}
    rows = store.query(
        "SELECT p.eps AS eps, COUNT(DISTINCT s.idx) - COUNT(DISTINCT CASE WHEN NOT (s.adv_pred = s.label "
        "AND s.clean_pred = s.label) THEN s.idx END) AS ok "
        "FROM robustness_samples s JOIN robustness_points p ON p.run_id = s.run_id "
        "AND p.model_version = s.model_version AND p.attack = s.attack AND p.eps_label = s.eps_label "
        "WHERE s.run_id=? AND s.model_version=? AND p.kind='attack' AND p.norm=? GROUP BY p.eps ORDER BY p.eps",
        (run_id, version, norm))
    samples = max(1, int(n["samples"]))
    return {float(r["eps"]): r["ok"] / samples for r in rows}
