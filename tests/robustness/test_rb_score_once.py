"""Scoring reads each run's per-sample worst case once while the project file is unchanged (an
Overview refresh scores the same run for the card, the trend and the target), starts afresh after
any write, and does not import the attacks module."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from workbench_plugins.robustness import plugin
from workbench_plugins.robustness import score as SC


def test_the_threat_models_here_are_the_attacks_modules():
    from workbench_plugins.robustness import attacks

    assert SC.NORM_OF == attacks.NORM_OF
    assert set(SC.BUDGET_KEYS) == set(attacks.ATTACKS) == set(SC.NORM_OF)
    assert SC.attack_norm("pgd_l2", {}) == "l2"
    assert SC.attack_norm("apgd-ce", {"norm": "l2"}) == "l2"
    assert SC.attack_norm("gaussian_noise", {}) is None  # a corruption


def test_scoring_does_not_import_the_attacks_module():
    code = ("import sys, json\nfrom workbench_plugins.robustness import score\n"
            "p = score.run_protocol({'attacks': ['pgd', 'fgsm', 'gaussian_noise'], 'eps': ['0.1']})\n"
            "print(json.dumps([p['attacks'], sorted(m for m in sys.modules if m.startswith(('torch', "
            "'workbench_plugins.robustness.attacks')))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    attacks, imported = json.loads(out.stdout.splitlines()[-1])
    assert attacks == ["fgsm", "pgd"] and imported == []


def test_a_run_is_read_once_until_the_file_changes(project):
    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import PluginStatus, Registry
    from workbench.api import PluginStore
    from workbench_plugins.robustness import store as S

    registry = Registry([PluginStatus("robustness", "workbench_plugins.robustness:plugin", None, None, True,
                                      plugin=plugin)])
    spec = plugin.job_spec("robustness", target="demo", eps=["0.05", "0.1"], limit=120, demo_epochs=3,
                           threads=1, attacks=["fgsm"])
    run_id, status, summary = run_in_process(project, spec, registry=registry)
    assert status == "done", summary
    store = PluginStore(project, "robustness")
    reads = []
    project.conn.set_trace_callback(lambda sql: reads.append(sql) if "robustness_samples s" in sql else None)
    try:
        first = plugin.score(store)
        assert first == pytest.approx(round(summary["score"], 1))
        assert len(reads) == 1
        # the card, the trend and the target's row of the same refresh: no second read
        assert plugin.score(store) == first and plugin.score(PluginStore(project, "robustness")) == first
        assert len(reads) == 1
        # a write (here: every attacked sample now correct) starts afresh and the score follows the data
        store.execute("UPDATE robustness_samples SET adv_pred = label WHERE run_id=?", (run_id,))
        after = plugin.score(store)
        assert len(reads) == 2
        protocol = S.protocol(store)
        wc = S.worst_case(store, run_id, "original", protocol["norm"])  # straight from the file
        assert after == pytest.approx(round(SC.r_of(protocol, wc), 1))
        assert after > first
    finally:
        project.conn.set_trace_callback(None)


def test_a_commit_by_another_connection_starts_afresh(project):
    """A job's worker or a command writes through a connection of its own: SQLite's data_version
    tells this one that the file changed."""
    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import PluginStatus, Registry
    from workbench.api import PluginStore

    registry = Registry([PluginStatus("robustness", "workbench_plugins.robustness:plugin", None, None, True,
                                      plugin=plugin)])
    spec = plugin.job_spec("robustness", target="demo", eps=["0.05", "0.1"], limit=120, demo_epochs=3,
                           threads=1, attacks=["fgsm"])
    run_id, status, _ = run_in_process(project, spec, registry=registry)
    assert status == "done"
    store = PluginStore(project, "robustness")
    first = plugin.score(store)
    other = sqlite3.connect(str(project.path))
    try:
        other.execute("UPDATE robustness_samples SET adv_pred = label WHERE run_id=?", (run_id,))
        other.commit()
    finally:
        other.close()
    assert plugin.score(store) > first
