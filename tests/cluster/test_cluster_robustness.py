"""``workbench robustness --ray``: the --arch file travels as source, the weights as safetensors
bytes; the numbers equal the local run's (a tiny model trained here on sklearn digits)."""

from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra"),
              pytest.mark.enable_socket]

ARCH = '''
import torch.nn as nn


class TinyNet(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)
'''


def _model_and_data(tmp_path):
    import numpy as np
    import torch

    from workbench_plugins.robustness import data, models

    arch = tmp_path / "tinynet.py"
    arch.write_text(ARCH)
    train, test = data.digits(seed=0)
    module = models.build_arch(f"{arch}:TinyNet", {"hidden": 16})
    torch.manual_seed(0)
    models.train(module, train, epochs=3, seed=0)
    weights = tmp_path / "tiny.safetensors"
    models.save_safetensors(module, str(weights), None)
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=test.x[:150], y=test.y[:150])
    return arch, weights, npz


def test_sweep_on_ray_equals_local(ray_cluster, tmp_path):
    from workbench.cli import main

    arch, weights, npz = _model_and_data(tmp_path)
    common = ["robustness", "--model", str(weights), "--arch", f"{arch}:TinyNet", "--arch-kwargs", '{"hidden": 16}',
              "--data", str(npz), "--attack", "fgsm,pgd,gaussian_noise", "--eps", "0.05,0.1,0.2", "--steps", "5",
              "--device", "cpu", "--seed", "3"]
    out_local, out_ray = tmp_path / "local.json", tmp_path / "ray.json"
    assert main([*common, "-p", str(tmp_path / "local.wbproj"), "--summary-json", str(out_local)]) == 0
    tasks_before, sent_before = ray_cluster.tasks_submitted, ray_cluster.bytes_out
    assert main([*common, "-p", str(tmp_path / "ray.wbproj"), "--summary-json", str(out_ray), "--ray", "local"]) == 0
    assert ray_cluster.tasks_submitted - tasks_before == 3  # one task per attack
    sent = ray_cluster.bytes_out - sent_before  # the weights, once, as safetensors bytes
    assert weights.stat().st_size - 1024 < sent < weights.stat().st_size + 1024
    local, remote = json.loads(out_local.read_text()), json.loads(out_ray.read_text())
    assert local["robust_accuracy"] and local["clean_accuracy"] > 0.5
    for key in ("clean_accuracy", "robust_accuracy", "success_rate", "mean_perturbation", "worst_case_by_norm",
                "score", "samples"):
        assert local[key] == remote[key], key
    # the points are stored like a local run's
    import sqlite3

    con = sqlite3.connect(tmp_path / "ray.wbproj")
    try:
        assert con.execute("SELECT COUNT(*) FROM robustness_points").fetchone()[0] == 9
    finally:
        con.close()


def test_worker_killed_mid_sweep_same_numbers(ray_cluster, tmp_path):
    """A Ray worker process running an attack is killed (SIGKILL); Ray reruns its task and the run
    completes with the local run's numbers."""
    import os
    import signal
    import threading

    import psutil

    from workbench.cli import main

    arch, weights, npz = _model_and_data(tmp_path)
    common = ["robustness", "--model", str(weights), "--arch", f"{arch}:TinyNet", "--arch-kwargs", '{"hidden": 16}',
              "--data", str(npz), "--attack", "pgd,fgsm", "--eps", "0.1,0.2", "--steps", "20",
              "--device", "cpu", "--seed", "1"]
    killed = []
    stop = threading.Event()

    def killer():
        while not stop.is_set() and not killed:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                title = " ".join(proc.info.get("cmdline") or [])
                if title.startswith("ray::attack_task") and proc.info["pid"] != os.getpid():
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    killed.append(proc.info["pid"])
                    break
            stop.wait(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        assert main([*common, "-p", str(tmp_path / "ray.wbproj"), "--summary-json", str(tmp_path / "r.json"),
                     "--ray", "local"]) == 0
    finally:
        stop.set()
        thread.join()
    assert killed, "no worker was seen running an attack"
    assert main([*common, "-p", str(tmp_path / "local.wbproj"), "--summary-json", str(tmp_path / "l.json")]) == 0
    local, remote = json.loads((tmp_path / "l.json").read_text()), json.loads((tmp_path / "r.json").read_text())
    assert local["robust_accuracy"] == remote["robust_accuracy"]
    assert local["worst_case_by_norm"] == remote["worst_case_by_norm"]


DIE_AFTER_ONE_ATTACK = """
import os, sys
from workbench_plugins.robustness import store

saved = store.save_point
count = [0]


def save_then_die(*args, **kwargs):
    saved(*args, **kwargs)
    count[0] += 1
    if count[0] == int(os.environ["DIE_AFTER"]):
        os._exit(9)  # the driver is killed once the first attack's points are committed


store.save_point = save_then_die
from workbench.cli import main

main(sys.argv[1:])
"""


def test_driver_killed_mid_sweep_rerun_resumes_without_duplicates(ray_cluster, tmp_path):
    import os
    import sqlite3
    import subprocess
    import sys

    import ray

    from workbench.cli import main

    arch, weights, npz = _model_and_data(tmp_path)
    common = ["robustness", "--model", str(weights), "--arch", f"{arch}:TinyNet", "--arch-kwargs", '{"hidden": 16}',
              "--data", str(npz), "--attack", "fgsm,pgd,gaussian_noise", "--eps", "0.05,0.1", "--steps", "5",
              "--device", "cpu", "--seed", "2"]
    proj = tmp_path / "ray.wbproj"
    script = tmp_path / "driver.py"
    script.write_text(DIE_AFTER_ONE_ATTACK)
    killed = subprocess.run([sys.executable, str(script), *common, "-p", str(proj), "--ray",
                             ray.get_runtime_context().gcs_address],
                            capture_output=True, text=True, timeout=180, env={**os.environ, "DIE_AFTER": "2"})
    assert killed.returncode == 9, killed.stderr[-2000:]

    tasks = ray_cluster.tasks_submitted
    assert main([*common, "-p", str(proj), "--summary-json", str(tmp_path / "r.json"), "--ray", "local"]) == 0
    assert ray_cluster.tasks_submitted - tasks == 2  # the attack stored before the crash was not sent again
    assert main([*common, "-p", str(tmp_path / "local.wbproj"), "--summary-json", str(tmp_path / "l.json")]) == 0
    local, remote = json.loads((tmp_path / "l.json").read_text()), json.loads((tmp_path / "r.json").read_text())
    for key in ("robust_accuracy", "success_rate", "worst_case_by_norm", "score"):
        assert local[key] == remote[key], key
    con = sqlite3.connect(proj)
    try:
        last = con.execute("SELECT MAX(id) FROM runs").fetchone()[0]
        rows = con.execute("SELECT attack, eps_label, COUNT(*) FROM robustness_points WHERE run_id=? "
                           "GROUP BY attack, eps_label", (last,)).fetchall()
        samples = con.execute("SELECT COUNT(*) FROM robustness_samples WHERE run_id=?", (last,)).fetchone()[0]
    finally:
        con.close()
    assert len(rows) == 6 and all(n == 1 for *_, n in rows)  # every point once
    assert samples == 6 * 150  # every sample of every point once
