"""Byte flips over the real demo project (every built-in plugin's engine ran on it): each copy is
refused, fails ``info --verify``, or verifies with identical rows in every covered table.

Building the demo takes minutes on a small machine (the robustness sweep), so this runs only with
``WORKBENCH_DEMO_FUZZ=1``; ``test_core_fuzz_project.py`` fuzzes a project with rows in every plugin
table on every run."""

from __future__ import annotations

import contextlib
import json
import os
import random

import pytest

from wb_integrity_helpers import cli
from workbench.core.project import Project
from workbench.core.state import classify_tables

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("WORKBENCH_DEMO_FUZZ") != "1",
                                 reason="builds the whole demo (minutes): set WORKBENCH_DEMO_FUZZ=1")]


def _dump(path) -> str:
    with Project.open(path, readonly=True) as p:
        kinds = classify_tables(p.conn)
        return json.dumps({t: [[v.hex() if isinstance(v, bytes) else v for v in r]
                               for r in p.conn.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2')]
                           for t in kinds["run"] + kinds["project"]}, sort_keys=True, default=str)


def test_flips_in_the_demo_project(tmp_path):
    from workbench.core.demo import create_demo
    from workbench.core.plugins import load_plugins

    path = create_demo(tmp_path / "demo", load_plugins())
    with Project.open(path, readonly=True) as p:
        plugins = {r["plugin"] for r in p.runs(status="done")}
    assert {"code_audit", "robustness", "testing", "monitor"} <= plugins, plugins
    expected = _dump(path)
    data = path.read_bytes()
    outcomes = {"refused": 0, "verify failed": 0, "intact": 0}
    for seed in range(int(os.environ.get("WORKBENCH_DEMO_FUZZ_SEEDS", "200"))):
        rng = random.Random(seed)
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(mutated))
            mutated[pos] ^= 1 << rng.randrange(8)
        flipped = tmp_path / f"m{seed}.wbproj"
        flipped.write_bytes(bytes(mutated))
        rc, out = cli("info", flipped, "--verify")
        assert rc in (0, 1), (seed, out)
        if rc == 1:
            outcomes["verify failed" if "BROKEN" in out else "refused"] += 1
        else:
            assert _dump(flipped) == expected, f"seed {seed}: results changed but --verify passed"
            outcomes["intact"] += 1
        for side in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(f"{flipped}{side}")
    print("demo fuzz outcomes:", outcomes)
    assert outcomes["refused"] + outcomes["verify failed"] > 0
