"""R under a protocol, through the real job runner on a real project: adding an attack or a corruption
can only keep or lower R; runs under another protocol are shown as not comparable and never compared."""

from __future__ import annotations

import pytest

from workbench_plugins.robustness import plugin
from workbench_plugins.robustness import store as S

from .conftest import robustness_registry


def _run(project, **params):
    from workbench.core.jobs import run_in_process

    registry = robustness_registry()
    base = dict(target="demo", eps=["0.05", "0.1"], limit=150, demo_epochs=4, threads=1, steps=5)
    spec = plugin.job_spec("robustness", **{**base, **params})
    run_id, status, summary = run_in_process(project, spec, registry=registry)
    assert status == "done", summary
    return run_id, summary


def _store(project):
    from workbench.api import PluginStore

    return PluginStore(project, "robustness")


def test_adding_attacks_or_corruptions_keeps_or_lowers_r(project):
    _, alone = _run(project, attacks=["pgd"])
    store = _store(project)
    assert S.protocol(store)["attacks"] == ["pgd"]
    assert plugin.score(store) == pytest.approx(round(alone["score"], 1))
    from workbench.core.report import build_report

    cover = build_report(project, robustness_registry()).summary  # the lines the cover prints
    assert f"Robustness {alone['score']:.0f}/100 — Protocol: L∞, ε ∈ {{0.05, 0.1}}, worst case per sample over " \
           "pgd (steps 5, restarts 1, random_start True)" in cover
    # the same model (seeded demo) with a weaker attack, a black-box attack and noise added
    _, more = _run(project, attacks=["pgd", "fgsm", "square", "gaussian_noise"], square_queries=50)
    assert more["protocol"]["comparable"]
    assert more["score"] <= alone["score"]
    for label in ("0.05", "0.1"):
        assert more["worst_case_accuracy"][label] <= alone["worst_case_accuracy"][label]
        assert more["worst_case_accuracy"][label] <= more["robust_accuracy"]["fgsm"][label]
    assert "gaussian_noise" in more["natural_shifts"]  # a separate figure, never in R
    # a corruption alone added to the protocol's attack changes nothing
    _, noisy = _run(project, attacks=["pgd", "gaussian_noise"])
    assert noisy["score"] == pytest.approx(alone["score"])
    assert plugin.score(store) == pytest.approx(round(noisy["score"], 1))


def test_runs_under_another_protocol_are_never_compared(project):
    _, first = _run(project, attacks=["pgd"])
    store = _store(project)
    # smaller epsilons (the way a score used to be raised): not comparable, no R, no project score
    _, small = _run(project, attacks=["pgd"], eps=["0.01", "0.02"])
    assert small["score"] is None and not small["protocol"]["comparable"]
    assert "does not evaluate ε = 0.05, 0.1" in small["protocol"]["why_not"]
    assert small["worst_case_accuracy"]["0.01"] >= first["worst_case_accuracy"]["0.05"]  # it would look better
    assert plugin.score(store) is None  # the model's latest run is not under the protocol
    (section,) = plugin.report_sections(store, {})
    text = " ".join(str(getattr(b, "items", "")) for b in section.blocks)
    assert "not comparable: does not evaluate ε = 0.05, 0.1" in text
    # a weaker budget, or another threat model, is not comparable either
    _, weak = _run(project, attacks=["pgd"], steps=1)
    assert weak["score"] is None and "steps = 1" in weak["protocol"]["why_not"]
    _, l2 = _run(project, attacks=["pgd_l2"], eps=["0.05", "0.1"])
    assert l2["score"] is None and "pgd" in l2["protocol"]["why_not"]
    # --set-protocol makes a new protocol the project's: the earlier runs are then the incomparable ones
    _, again = _run(project, attacks=["pgd_l2"], eps=["0.5", "1.0"], set_protocol=True)
    assert S.protocol(store)["norm"] == "l2" and again["protocol"]["comparable"]
    assert plugin.score(store) == pytest.approx(round(again["score"], 1))
    from workbench_plugins.robustness.score import score_detail

    assert score_detail(store) == "Protocol: L2, ε ∈ {0.5, 1}, worst case per sample over pgd_l2 (steps 5, " \
                                  "restarts 1, random_start True)"
