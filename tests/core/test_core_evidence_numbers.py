"""numpy numbers in a finding's evidence are stored as numbers (not as their text), and NaN or an
infinity, which JSON cannot hold, is refused with the finding and the entry named."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from workbench.api import Finding, FindingError
from workbench.core.cli_kit import write_summary_json
from workbench.core.project import Project


def _finding(evidence, fp="fp"):
    return Finding(plugin="testplugin", rule="N1", severity="LOW", confidence="LOW", title="numbers",
                   message="m", path="a.py", line=2, evidence=evidence, fingerprint=fp)


def test_numpy_numbers_are_stored_as_numbers(tmp_path):
    evidence = {"count": np.int64(3), "ratio": np.float32(0.5), "wide": np.float64(0.1), "flag": np.bool_(True),
                "big": np.uint64(2**63), "third": Fraction(1, 4), "list": [np.int8(-2), 1.5]}
    with Project.create(tmp_path / "p.wbproj") as project:
        run_id = project.create_run("testplugin", "manual")
        store = project.store("testplugin")
        assert store.add_findings(run_id, [_finding(evidence)]) == 1
        (stored,) = store.findings(run_id=run_id)
    got = stored.evidence
    assert got == {"count": 3, "ratio": 0.5, "wide": 0.1, "flag": True, "big": 2**63, "third": 0.25,
                   "list": [-2, 1.5]}
    assert [type(got[k]) for k in ("count", "ratio", "flag", "big")] == [int, float, bool, int]
    assert type(got["list"][0]) is int


@pytest.mark.parametrize("evidence, says", [
    ({"score": float("nan")}, "evidence['score'] is nan"),
    ({"score": np.float32("inf")}, "evidence['score'] is inf"),
    ({"curve": [0.1, -math.inf]}, "evidence['curve'][1] is -inf"),
])
def test_nan_and_infinities_are_refused(evidence, says):
    with pytest.raises(FindingError) as err:
        _finding(evidence)
    assert says in str(err.value) and "rule 'N1'" in str(err.value) and "JSON cannot hold" in str(err.value)


def test_summary_json_writes_numpy_numbers_as_numbers(tmp_path):
    out = tmp_path / "s.json"
    write_summary_json(out, {"n": np.int64(7), "acc": np.float32(0.25), "ok": np.bool_(False)})
    assert json.loads(out.read_text()) == {"n": 7, "acc": 0.25, "ok": False}
