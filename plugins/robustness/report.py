"""Report sections and the pillar score, read from the plugin's tables (no torch needed)."""

from __future__ import annotations

from workbench.api import KeyValues, LineChart, Paragraph, Section, Table

from . import PLUGIN_ID
from . import store as S
from .score import combine, measures

FORMULA = ("R(x) = 100 · Σ λᵢ rᵢ(x) / Σ λᵢ, where rᵢ is the normalised area under the robust-accuracy-versus-"
           "epsilon curve of attack or corruption i (trapezoid rule through (0, clean accuracy), divided by the "
           "largest epsilon: the mean robust accuracy over [0, ε_max]); λ = 1 for attacks and 0.5 for corruption "
           "families unless the project stores other weights. Over several models the pillar score is the "
           "lowest R: a project is as robust as its weakest model (a hardening run counts with the model as "
           "given; the hardened copy counts once it is evaluated as a model of its own).")


def _run_score(store, run_id: int, version: str, weights: dict) -> tuple[float | None, dict]:
    data = S.curves(store, run_id).get(version)
    if not data or data["clean"] is None:
        return None, {}
    r = measures(data["clean"], data["curves"])
    return combine(r, weights), r


def score(store) -> float | None:
    """The lowest R over the latest run of every model; None when none ran.

    A ``robustness`` run counts with the model it evaluated; a ``harden`` run with
    the model as it was given (``original``): the hardened copy is a proposal
    until it is evaluated as a model of its own.
    """
    weights = S.weights(store)
    scores = []
    for run in store.latest_runs("robustness") + store.latest_runs("harden"):
        version = (run.get("summary") or {}).get("model_version", "original") if run["job"] == "robustness" \
            else "original"
        value, _ = _run_score(store, run["id"], version, weights)
        if value is not None:
            scores.append(value)
    return round(min(scores), 1) if scores else None


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f} %"


def _run_blocks(store, run: dict, weights: dict) -> list:
    summary = run.get("summary") or {}
    params = run.get("params") or {}
    blocks = []
    cl = S.clean(store, run["id"])
    pts = S.points(store, run["id"])
    settings = cl[0]["settings"] if cl else {}
    dev = settings.get("device", {})
    items = [("Model", str(summary.get("model", run.get("target")))), ("Format", str(summary.get("format", ""))),
             ("Data", str(summary.get("data", ""))), ("Samples", str(summary.get("samples", ""))),
             ("Device", f"{dev.get('device', '')}{' (' + dev['gpu'] + ')' if dev.get('gpu') else ''}, "
                        f"autocast {dev.get('amp') or 'off'}, threads {dev.get('threads') or '-'}"),
             ("Seed", str(params.get("seed", ""))),
             ("Attacks", ", ".join(params.get("attacks", []))),
             ("Epsilons", ", ".join(params.get("eps", []))),
             ("PGD", f"{params.get('steps')} steps, step {params.get('step_size') or '2.5·ε/steps'}, "
                     f"{params.get('restarts')} restart(s), {'targeted' if params.get('targeted') else 'untargeted'}"),
             ("Preprocessing", f"range {params.get('input_range')}, mean {params.get('mean') or '-'}, "
                               f"std {params.get('std') or '-'}")]
    for c in cl:
        value, r = _run_score(store, run["id"], c["model_version"], weights)
        items.append((f"Clean accuracy ({c['model_version']})", _pct(c["clean_accuracy"])))
        if value is not None:
            items.append((f"R ({c['model_version']})", f"{value:.1f} / 100  (" +
                          ", ".join(f"r[{k}] = {v:.3f}" for k, v in r.items()) + ")"))
    blocks.append(KeyValues(items))
    clean_by = {c["model_version"]: c["clean_accuracy"] for c in cl}
    tag = {"original": "before", "hardened": "after"}
    charts = {"attack": {}, "corruption": {}}
    for p in pts:
        name = p["attack"] if len(clean_by) < 2 else f"{p['attack']} {tag.get(p['model_version'], p['model_version'])}"
        curve = charts[p["kind"]].setdefault(name, [(0.0, clean_by.get(p["model_version"], p["robust_accuracy"]))])
        curve.append((p["eps"], p["robust_accuracy"]))
    # attacks and corruptions on separate charts: epsilons and severities are different scales
    for kind, title, x_label in (("attack", "Robust accuracy against epsilon", "epsilon (input units)"),
                                 ("corruption", "Accuracy under corruptions", "severity")):
        if charts[kind]:
            blocks.append(LineChart(title, x_label, "accuracy",
                                    {k: sorted(v) for k, v in charts[kind].items()}, y_range=(0.0, 1.0)))
    rows = [[p["model_version"], p["attack"], p["eps_label"], _pct(p["robust_accuracy"]), _pct(p["success_rate"]),
             f"{p['mean_loss']:.3f}", f"{p['mean_perturbation']:.4f} ({p['norm']})"] for p in pts]
    if rows:
        blocks.append(Table(["Model", "Attack", "ε", "Robust accuracy", "Success rate", "Mean loss",
                             "Mean perturbation"], rows, caption="Per attack and epsilon"))
    ep = S.epochs(store, run["id"])
    if ep:
        blocks.append(Table(["Epoch", "Loss", "Accuracy on perturbed batches"],
                            [[e["epoch"] + 1, f"{e['loss']:.4f}", _pct(e["accuracy"])] for e in ep],
                            caption=f"Hardening ({(summary.get('hardening') or {}).get('method', '')})"))
        before = summary.get("before") or {}
        after_rows = []
        for attack, curve in (summary.get("robust_accuracy") or {}).items():
            for label, acc in curve.items():
                after_rows.append([attack, label, _pct((before.get("robust_accuracy") or {}).get(attack, {}).get(label)),
                                   _pct(acc)])
        blocks.append(Table(["Attack", "ε", "Before", "After"],
                            [["clean", "", _pct(before.get("clean_accuracy")), _pct(summary.get("clean_accuracy"))]]
                            + after_rows, caption="Hardening: before and after"))
        blocks.append(Paragraph(f"Hardened weights: {summary.get('output', '')}", "note"))
    return blocks


def report_sections(store, options: dict) -> list:
    weights = S.weights(store)
    runs = store.latest_runs("robustness") + store.latest_runs("harden")
    if not runs:
        return [Section("Model robustness", [Paragraph("Not assessed: no robustness run yet.")], PLUGIN_ID)]
    blocks: list = []
    for run in runs:
        blocks.append(Paragraph(f"{run.get('title') or run.get('job')}", "normal"))
        blocks.extend(_run_blocks(store, run, weights))
    blocks.append(Paragraph("Score: " + FORMULA, "note"))
    return [Section("Model robustness", blocks, PLUGIN_ID)]
