"""A disk that fills while the output is written (in one process, in worker processes, in memory):
a clear error naming the output, the earlier output left as it was, no temporary file left behind.

The "full disk" is the file size limit (RLIMIT_FSIZE) of a child process: every write past it fails
with EFBIG in that process and in the workers it starts, as ENOSPC would, and it needs no mount."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from .test_anon_stream_parallel import _edge_file

CHILD = r"""
import json, resource, sys
from workbench_plugins.anonymise import engine
from workbench_plugins.anonymise.engine import Policy

src, out, limit, workers, keep_order, stream = sys.argv[1:7]
if stream == "1":
    engine.STREAM_THRESHOLD_BYTES = 0  # this small file takes the streaming path
policy = Policy(columns={"email": {"transform": "pseudonymise", "role": "direct_identifier"},
                         "ip": {"transform": "pseudonymise", "role": "direct_identifier"},
                         "name": {"transform": "redact", "role": "direct_identifier"},
                         "phone": {"transform": "mask", "role": "direct_identifier"}}, keep_order=keep_order == "1")
resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
try:
    engine.anonymise_file(src, out, policy, {"pseudonym": bytes(range(32))}, workers=int(workers))
    print(json.dumps({"error": None}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def _no_room_run(tmp_path, *, workers: int, keep_order: bool, stream: bool) -> dict:
    src = _edge_file(tmp_path / "in.csv", n=4000)
    out = tmp_path / "out.csv"
    out.write_text("the previous, complete output\n")
    limit = src.stat().st_size // 2  # the output is about as large as the input
    child = subprocess.run([sys.executable, "-c", CHILD, str(src), str(out), str(limit), str(workers),
                            "1" if keep_order else "0", "1" if stream else "0"],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("workers,keep_order,stream", [(1, True, False), (1, True, True), (1, False, True),
                                                      (2, True, True), (2, False, True)],
                         ids=["in-memory", "stream", "stream-shuffled", "workers", "workers-shuffled"])
def test_a_full_disk_names_the_output_and_leaves_the_earlier_one(tmp_path, workers, keep_order, stream):
    result = _no_room_run(tmp_path, workers=workers, keep_order=keep_order, stream=stream)
    out = tmp_path / "out.csv"
    assert result["error"] == "AnonymiseError", result
    assert result["message"].startswith(f"{out}: no room to write the output"), result["message"]
    assert os.strerror(27) in result["message"]  # EFBIG: what this stand-in for a full disk gives
    assert out.read_text() == "the previous, complete output\n"  # never half-replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no parts, no bucket folder


def test_the_command_says_which_file_had_no_room(tmp_path):
    # a file above the streaming threshold, through the command a user types, with worker processes
    from workbench_plugins.anonymise import engine

    src = _edge_file(tmp_path / "in.csv", n=int(engine.STREAM_THRESHOLD_BYTES / 70) + 2000)
    assert src.stat().st_size > engine.STREAM_THRESHOLD_BYTES
    out = tmp_path / "out.csv"
    limit = src.stat().st_size // 2

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    child = subprocess.run([sys.executable, "-m", "workbench", "anonymise", str(src), "-o", str(out),
                            "--workers", "2", "--summary-json", str(tmp_path / "s.json")],
                           capture_output=True, text=True, timeout=300, preexec_fn=small_files,
                           env=dict(os.environ, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring",
                                   WORKBENCH_ANON_KEY_PSEUDONYM="ab" * 32))
    assert child.returncode != 0
    assert f"{out}: no room to write the output" in child.stderr, child.stderr[-2000:]
    assert "Traceback" not in child.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no output, no parts, no summary of a failed run


def test_a_job_stopped_by_a_full_disk_is_stored_as_failed_and_the_project_keeps_its_runs(tmp_path):
    # the job path (the window's tab and `-p` run it): the run is recorded as failed with the message,
    # and the project's earlier run and the earlier output survive
    from workbench.core.project import Project

    src = _edge_file(tmp_path / "in.csv", n=20000)
    out = tmp_path / "out.csv"
    project = tmp_path / "p.wbproj"
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring",
               WORKBENCH_ANON_KEY_PSEUDONYM="ab" * 32)
    command = [sys.executable, "-m", "workbench", "anonymise", str(src), "-o", str(out), "-p", str(project)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    before = out.read_bytes()
    limit = max(project.stat().st_size * 2, src.stat().st_size // 2)  # room for the project, not the output
    assert limit < len(before)

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, preexec_fn=small_files)
    assert second.returncode != 0
    assert f"{out}: no room to write the output" in second.stderr, second.stderr[-2000:]
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("p.wbproj")) == ["in.csv", "out.csv"]
    with Project.open(project, readonly=True) as p:
        runs = p.run_records()
        assert [r.status for r in runs] == ["done", "failed"]
        assert f"{out}: no room to write the output" in runs[-1].error
        assert p.verify_events().ok
