"""On bandit's own examples/ (from its sdist), our findings equal bandit's.

The examples are fetched at test time by scripts/fetch_bandit_examples.py
(never committed); set WB_BANDIT_EXAMPLES to a fetched folder to reuse it.
Skipped when the package index cannot be reached.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .test_bandit_runner import cli_set, open_set, ours

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    given = os.environ.get("WB_BANDIT_EXAMPLES")
    if given:
        return given
    if os.environ.get("WORKBENCH_FETCH_BANDIT_EXAMPLES") != "1":
        # The suite sends nothing off this machine; fetching bandit's sdist from the package
        # registry is an explicit choice.
        pytest.skip("bandit's examples: set WB_BANDIT_EXAMPLES=DIR, or WORKBENCH_FETCH_BANDIT_EXAMPLES=1 "
                    "to fetch them with pip from the package registry")
    dest = tmp_path_factory.mktemp("bandit_sdist")
    env = dict(os.environ, WORKBENCH_NETGUARD="0")  # this one child may reach the registry
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_bandit_examples.py"), str(dest)],
                          capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        pytest.skip(f"bandit examples not available: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


@pytest.mark.slow
def test_default_config_counts_match_bandit(examples):
    cfg, results = ours(examples)
    mine = open_set(cfg, results)
    cli, data = cli_set(examples)
    assert Counter(t for t, _, _ in mine) == Counter(t for t, _, _ in cli)
    assert mine == cli
    cli_errors = {os.path.relpath(e["filename"], examples) for e in data["errors"]}
    assert {r.relpath for r in results if r.skipped} == cli_errors
