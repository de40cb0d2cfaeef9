"""Random byte flips and truncations of a project holding results of every built-in plugin: each copy
is refused clearly, fails ``info --verify``, or verifies with exactly the original results in every
table. Never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil

import pytest

from workbench import cli
from wb_integrity_helpers import fill_project
from workbench.core.project import Project
from workbench.core.state import classify_tables

SEEDS = 110


def _results(path) -> str:
    """Every stored result: each table the digests cover (every plugin table, all of the core's but
    the log), row by row. Caches and declared working state are outside the guarantee."""
    with Project.open(path, readonly=True) as p:
        kinds = classify_tables(p.conn)
        dump = {}
        for table in kinds["run"] + kinds["project"]:
            dump[table] = [[v.hex() if isinstance(v, bytes) else v for v in tuple(r)]
                           for r in p.conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2')]
        dump["triage_status"] = [(f["fingerprint"], f["triage_status"]) for f in p.findings()]
        return json.dumps(dump, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """Results of every built-in plugin (rows in each of their tables, through their stores, in finished
    runs), findings, metrics, artifacts, triage and settings."""
    path = tmp_path_factory.mktemp("fuzz") / "orig.wbproj"
    fill_project(path, name="Fuzz target")
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
