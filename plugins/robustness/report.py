"""Report sections, read from the plugin's tables (no torch needed); the pillar score is score.py."""

from __future__ import annotations

from workbench.api import KeyValues, LineChart, Paragraph, Section, Table

from . import PLUGIN_ID
from . import score as R
from . import store as S
from .score import run_score, score_detail

FORMULA = ("R(x) = 100 · mean over the protocol's ε of wc(ε), where wc(ε) is the share of samples classified "
           "correctly clean and after every attack of the run in the protocol's threat model at ε (the robust "
           "accuracy under the worst case per sample over the attack ensemble, as RobustBench and AutoAttack "
           "report it). The protocol (threat model, ε values, attacks and their budgets) is the project's: the "
           "first robustness run sets it. Runs that do not cover it are shown as not comparable and never enter "
           "R; corruptions and noise are reported apart (robustness to natural shifts) and never enter R. Over "
           "several models the pillar score is the lowest R: a project is as robust as its weakest model (a "
           "hardening run counts with the model as given; the hardened copy counts once it is evaluated as a "
           "model of its own).")


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f} %"


def _run_blocks(store, run: dict) -> list:
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
             ("Epsilons", ", ".join(params.get("eps", [])) + "".join(
                 f"; {R.NORM_NAMES.get(k, k)}: {', '.join(v)}" for k, v in (params.get("eps_by_norm") or {}).items())),
             ("PGD", f"{params.get('steps')} steps, step {params.get('step_size') or '2.5·ε/steps'}, "
                     f"{params.get('restarts')} restart(s), "
                     f"{'random start' if params.get('random_start', True) else 'no random start'}, "
                     f"{'targeted' if params.get('targeted') else 'untargeted'}"),
             ("APGD, AutoAttack, Square", f"{params.get('apgd_iter', '-')} APGD iterations, ensemble "
                                          f"{params.get('ensemble', '-')}, threat model {params.get('norm', 'linf')}; "
                                          f"Square {params.get('square_queries')} queries, p_init "
                                          f"{params.get('p_init', '-')}"),
             ("Preprocessing", f"range {params.get('input_range')}, mean {params.get('mean') or '-'}, "
                               f"std {params.get('std') or '-'}")]
    protocol = S.protocol(store)
    for c in cl:
        items.append((f"Clean accuracy ({c['model_version']})", _pct(c["clean_accuracy"])))
        if protocol is None:
            continue
        value, why = run_score(store, run, c["model_version"], protocol)
        wc = S.worst_case(store, run["id"], c["model_version"], protocol["norm"])
        if value is not None:
            items.append((f"R ({c['model_version']})", f"{value:.1f} / 100 under the project's protocol; worst case "
                          + ", ".join(f"ε {e:g}: {_pct(a)}" for e, a in sorted(wc.items()))))
        else:
            items.append((f"R ({c['model_version']})", f"not comparable: {why}"))
    blocks.append(KeyValues(items))
    clean_by = {c["model_version"]: c["clean_accuracy"] for c in cl}
    tag = {"original": "before", "hardened": "after"}
    charts = {"attack": {}, "attack-l2": {}, "corruption": {}}
    for p in pts:
        name = p["attack"] if len(clean_by) < 2 else f"{p['attack']} {tag.get(p['model_version'], p['model_version'])}"
        # L2 and L-inf epsilons are different scales: one chart per threat model
        chart = "attack-l2" if p["kind"] == "attack" and p["norm"] == "l2" else p["kind"]
        curve = charts[chart].setdefault(name, [(0.0, clean_by.get(p["model_version"], p["robust_accuracy"]))])
        curve.append((p["eps"], p["robust_accuracy"]))
    # attacks and corruptions on separate charts: epsilons and severities are different scales, and
    # natural shifts are a figure of their own, never mixed into R
    for kind, title, x_label in (("attack", "Robust accuracy against epsilon (L∞)", "epsilon (input units)"),
                                 ("attack-l2", "Robust accuracy against epsilon (L2)", "epsilon (L2 norm)"),
                                 ("corruption", "Natural shifts: accuracy under corruptions and noise",
                                  "severity")):
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
    runs = store.latest_runs("robustness") + store.latest_runs("harden")
    if not runs:
        return [Section("Model robustness", [Paragraph("Not assessed: no robustness run yet.")], PLUGIN_ID)]
    blocks: list = [Paragraph(score_detail(store), "normal")]
    for run in runs:
        blocks.append(Paragraph(f"{run.get('title') or run.get('job')}", "normal"))
        blocks.extend(_run_blocks(store, run))
    blocks.append(Paragraph("Score: " + FORMULA, "note"))
    return [Section("Model robustness", blocks, PLUGIN_ID)]
