"""A disk that fills while `workbench harden -o FILE.safetensors` writes the hardened weights: the error
names FILE (not a temporary twin), an earlier FILE is left as it was, no temporary file is left, and
the project keeps its runs (this one stored as failed) with its log intact.

The "full disk" is the file size limit (RLIMIT_FSIZE), lowered in the command's own process while the
weights are written and raised again after: the command needs a project (-p), which is larger than
the demo model's weights, so a limit for the whole process would stop the project first. A write past
it fails with EFBIG, as one on a full disk fails with ENOSPC, and it needs no mount."""

from __future__ import annotations

import os
import subprocess
import sys

from workbench.core.project import Project

# The command, as `workbench` runs it, with the disk full only while the weights are saved.
COMMAND = r"""
import resource, sys
from workbench_plugins.robustness import models

save, limit = models.save_safetensors, int(sys.argv[1])

def save_on_a_full_disk(*args, **kwargs):
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        return save(*args, **kwargs)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

models.save_safetensors = save_on_a_full_disk
from workbench.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_a_full_disk_names_the_weights_file_and_keeps_the_earlier_one(robustness_registered, tmp_path):
    env = dict(robustness_registered, PYTHON_KEYRING_BACKEND="workbench.core.secrets.MemoryKeyring")
    project, weights = tmp_path / "hd.wbproj", tmp_path / "hard.safetensors"
    args = ["harden", "-p", str(project), "--demo", "--demo-epochs", "1", "--method", "fgsm", "--epochs", "1",
            "--attack", "fgsm", "--eps", "0.1", "--limit", "100", "--device", "cpu", "--threads", "1",
            "-o", str(weights)]
    first = subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, timeout=300,
                           env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    before = weights.read_bytes()
    second = subprocess.run([sys.executable, "-c", COMMAND, str(len(before) // 2), *args], capture_output=True,
                            text=True, timeout=300, env=env)
    assert second.returncode == 1
    assert (f"{weights}: cannot write the hardened weights (" in second.stderr
            and "the previous file, if any, is unchanged" in second.stderr), second.stderr[-2000:]
    assert os.strerror(27) in second.stderr and "Traceback" not in second.stderr and ".part" not in second.stderr
    assert weights.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("hd.wbproj")) == ["hard.safetensors"]
    with Project.open(project, readonly=True) as p:
        assert [r.status for r in p.run_records()][-1] == "failed"
        assert f"{weights}: cannot write the hardened weights" in p.run_records()[-1].error
        assert p.verify_events().ok
