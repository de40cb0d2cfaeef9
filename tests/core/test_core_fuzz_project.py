"""Random byte flips and truncations of a real project: each copy is refused clearly, fails
``info --verify``, or verifies with exactly the original results. Never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil

import pytest

from workbench import cli
from workbench.core.findings import Finding
from workbench.core.project import Project

SEEDS = 220


def _results(path) -> str:
    with Project.open(path, readonly=True) as p:
        runs = [(r["id"], r["status"], r["target"], r["params"], r["summary"]) for r in p.runs()]
        findings = [(f["run_id"], f["rule"], f["severity"], f["confidence"], f["message"], f["path"], f["line"],
                     f["fingerprint"], f["source_status"], f["triage_status"]) for f in p.findings()]
        return json.dumps([p.name, runs, findings], sort_keys=True, default=str)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "orig.wbproj"
    with Project.create(path, name="Fuzz target") as p:
        for r in range(3):
            run = p.create_run("testplugin", "scan", {"round": r}, target=f"t{r}")
            p.start_run(run)
            p.add_findings(run, [Finding(plugin="testplugin", rule=f"R{i % 7}", severity=("LOW", "MEDIUM", "HIGH")[i % 3],
                                         confidence="HIGH", title="t", message=f"message {r}-{i} " + "x" * (i % 40),
                                         path=f"src/m{i % 11}.py", line=i + 1, fingerprint=f"fp-{r}-{i}")
                                 for i in range(120)])
            p.finish_run(run, "done", summary={"files": 11, "round": r})
        p.set_triage(["fp-0-1", "fp-1-2"], "false_positive", "not reachable")
    return path, _results(path)


def _run_info(path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["info", str(path), "--verify"])
    return rc, out.getvalue() + err.getvalue()


def test_flips_and_truncations_are_refused_or_detected(original, tmp_path):
    src, expected = original
    data = src.read_bytes()
    outcomes = {"refused": 0, "verify failed": 0, "intact": 0}
    for seed in range(SEEDS):
        rng = random.Random(seed)
        mutated = bytearray(data)
        if seed % 5 == 0:
            del mutated[rng.randrange(100, len(mutated)):]
        else:
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(mutated))
                mutated[pos] ^= 1 << rng.randrange(8)
        path = tmp_path / f"m{seed}.wbproj"
        path.write_bytes(bytes(mutated))
        rc, err = _run_info(path)  # an unexpected exception fails the test here, with its seed in the trace
        assert rc in (0, 1), (seed, rc, err)
        if rc == 1:
            assert "BROKEN" in err or f"{path}:" in err, (seed, err)
            outcomes["verify failed" if "BROKEN" in err else "refused"] += 1
        else:
            assert _results(path) == expected, f"seed {seed}: results changed but --verify passed"
            outcomes["intact"] += 1
        path.unlink()
        for side in ("-wal", "-shm"):
            (tmp_path / f"m{seed}.wbproj{side}").unlink(missing_ok=True)
    print("fuzz outcomes:", outcomes)
    assert outcomes["refused"] + outcomes["verify failed"] > 0
