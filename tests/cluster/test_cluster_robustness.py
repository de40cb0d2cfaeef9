"""``workbench robustness --ray``: the --arch file travels as source, the weights as safetensors
bytes; tasks are (attack × eps batch × seeding shard) and the numbers equal the local run's (a tiny
model trained here on sklearn digits)."""

from __future__ import annotations

import contextlib
import importlib.util
import json

import pytest
from tiny_arch_source import ARCH
from worker_killer import killing_first

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra"),
              pytest.mark.enable_socket]


def _model_and_data(tmp_path, tabular: bool = False):
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
    x = test.x[:150]
    np.savez(npz, x=x.reshape(len(x), -1) if tabular else x, y=test.y[:150])
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
    # one shard (150 samples): fgsm and pgd cascade (one task each), the noise's eps are independent (3)
    assert ray_cluster.tasks_submitted - tasks_before == 5
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
    from workbench.cli import main

    arch, weights, npz = _model_and_data(tmp_path)
    common = ["robustness", "--model", str(weights), "--arch", f"{arch}:TinyNet", "--arch-kwargs", '{"hidden": 16}',
              "--data", str(npz), "--attack", "pgd,fgsm", "--eps", "0.1,0.2", "--steps", "20",
              "--device", "cpu", "--seed", "1"]
    with killing_first("ray::attack_task") as killed:
        assert main([*common, "-p", str(tmp_path / "ray.wbproj"), "--summary-json", str(tmp_path / "r.json"),
                     "--ray", "local"]) == 0
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
    # 4 task groups (fgsm, pgd, noise@0.05, noise@0.1); the driver died after 2 commits, so at least one
    # group was stored completely and is not sent again
    assert ray_cluster.tasks_submitted - tasks < 4
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


class _Ctx:
    """What a job's context gives ``distributed.run_sweep`` when no project is open."""

    store = None
    run_id = None
    cancelled = False

    def __init__(self):
        self.lines = []

    def log(self, line):
        self.lines.append(line)

    def progress(self, done, total, message=""):
        pass

    def check_cancelled(self):
        pass


def _sharded_runs(tmp_path, config_changes: dict, attacks: list[str], steps: int, during_ray=None, tabular=False):
    """(local points, cluster points, tasks sent) of one sweep cut into 40-sample seeding shards."""
    import dataclasses

    from workbench.api import cluster_session
    from workbench_plugins.robustness import distributed, engine
    from workbench_plugins.robustness.evaluate import sweep
    from workbench_plugins.robustness.params import SweepParams

    arch, weights, npz = _model_and_data(tmp_path, tabular)
    params = SweepParams(target=str(weights), data=str(npz), arch=f"{arch}:TinyNet", arch_kwargs={"hidden": 16},
                         attacks=attacks, eps=["0.05", "0.1", "0.2"], steps=steps, device="cpu", seed=3)
    ctx = _Ctx()
    rd, _, loaded, _, eval_set, pre = engine._setup(params, ctx, split=False)
    config = dataclasses.replace(engine._sweep_config(params), shard_size=40, **config_changes)
    local = sweep(loaded.module, eval_set, config, pre, rd)
    with cluster_session("local") as c:
        tasks = c.tasks_submitted
        with during_ray or contextlib.nullcontext():
            remote = distributed.run_sweep(params, ctx, loaded, eval_set, pre, rd, config, "original")
        tasks = c.tasks_submitted - tasks
    return local, remote, tasks, config


def _same_points(local, remote):
    import numpy as np

    assert [(p.attack, p.eps_label) for p in local.points] == [(p.attack, p.eps_label) for p in remote.points]
    for a, b in zip(local.points, remote.points):
        for key in ("robust_accuracy", "success_rate", "mean_loss", "mean_perturbation", "per_class", "batch_size"):
            assert getattr(a, key) == getattr(b, key), (a.attack, a.eps_label, key)
        assert np.array_equal(a.samples["adv_pred"], b.samples["adv_pred"]), (a.attack, a.eps_label)
        assert np.array_equal(a.samples["norm"], b.samples["norm"]), (a.attack, a.eps_label)
        assert [i for i, _, _ in a.examples] == [i for i, _, _ in b.examples], (a.attack, a.eps_label)
        assert all(type(i) is int for i, _, _ in b.examples)  # stored as SQLite integers
        for (_, _, xa), (_, _, xb) in zip(a.examples, b.examples):
            assert np.array_equal(xa, xb)


def test_sharded_sweep_equals_local(ray_cluster, tmp_path):
    """150 samples in 40-sample seeding shards (4 shards): every point, every sample's outcome and the
    gallery equal the local run's, for cascading, minimal and independent-eps attacks."""
    local, remote, tasks, config = _sharded_runs(tmp_path, {}, ["fgsm", "pgd", "gaussian_noise", "deepfool"], 5)
    # (fgsm, pgd, deepfool: one eps batch each; noise: one a eps) × 4 shards
    assert tasks == (1 + 1 + 3 + 1) * 4
    assert {p.attack for p in local.points} == {"fgsm", "pgd", "gaussian_noise", "deepfool"}
    assert 0 < min(p.robust_accuracy for p in local.points) < local.clean_accuracy
    _same_points(local, remote)


def test_sharded_targeted_random_sweep_equals_local(ray_cluster, tmp_path):
    """Targeted with random targets: the targets are drawn shard by shard, each eps is its own task."""
    local, remote, tasks, _ = _sharded_runs(tmp_path, {"targeted": True, "target": "random"}, ["pgd"], 5)
    assert tasks == 3 * 4
    assert any(p.success_rate > 0 for p in local.points)
    _same_points(local, remote)


def test_sharded_tabular_sweep_equals_local(ray_cluster, tmp_path):
    """Tabular data: the feature noise is scaled by the whole set's per-feature spread, sent with the tasks."""
    local, remote, tasks, _ = _sharded_runs(tmp_path, {}, ["fgsm", "feature_noise"], 5, tabular=True)
    assert tasks == (1 + 3) * 4
    assert all(p.samples["norm"].min() > 0 for p in local.points if p.attack == "feature_noise")  # noise added
    _same_points(local, remote)


def test_shard_seeding_is_the_runs_not_the_workers():
    """The local run seeds shard by shard: with one shard the numbers are the ones a run gave before
    shards (the run's seed), and a different shard size changes the random streams, not the worker
    count (there is none here)."""
    from workbench_plugins.robustness.evaluate import SweepConfig, shard_bounds, shard_seed

    assert shard_seed(7, 0) == 7
    assert len({shard_seed(7, k) for k in range(50)}) == 50
    assert shard_seed(7, 3) == shard_seed(7, 3) != shard_seed(8, 3)
    assert shard_bounds(150, 40) == [(0, 40), (40, 80), (80, 120), (120, 150)]
    assert SweepConfig(attacks=["pgd"], eps=[0.1]).shard_size == 1024


def test_worker_killed_mid_sharded_sweep_same_numbers(ray_cluster, tmp_path):
    """A worker running one shard's task is killed (SIGKILL): Ray reruns that task, the shards still
    join into the local run's numbers."""
    killer = killing_first("ray::attack_task")
    local, remote, _, _ = _sharded_runs(tmp_path, {}, ["pgd", "fgsm"], 20, during_ray=killer)
    assert killer.killed, "no worker was seen running an attack"
    _same_points(local, remote)


def test_task_options_ask_a_gpu_for_cuda_runs(ray_cluster):
    """A CUDA run's tasks ask Ray for a whole GPU each (not run here: no GPU); a CPU run's for none."""
    from workbench_plugins.robustness import distributed

    assert distributed.task_options("cuda:0") == {"num_cpus": 1, "num_gpus": 1}
    assert distributed.task_options("cuda") == {"num_cpus": 1, "num_gpus": 1}
    assert distributed.task_options("cpu") == {"num_cpus": 1, "num_gpus": 0}
    assert distributed.task_options(None) == {"num_cpus": 1, "num_gpus": 0}
    opts = distributed.task_options("cuda:1")
    fn = ray_cluster._remote_fn(distributed.attack_task, opts["num_cpus"], opts["num_gpus"], 2)
    assert fn._default_options["num_gpus"] == 1 and fn._default_options["num_cpus"] == 1


def test_plan_splits_eps_only_where_points_are_independent():
    from workbench_plugins.robustness import distributed
    from workbench_plugins.robustness.evaluate import SweepConfig

    config = SweepConfig(attacks=["pgd", "gaussian_noise", "cw"], eps=[0.1, 0.2], shard_size=100)
    tasks = distributed.plan(config, 250)
    assert [key for key, *_ in tasks if key[0] == 0] == [(0, 0, 0), (0, 0, 1), (0, 0, 2)]
    assert len([1 for key, *_ in tasks if key[0] == 1]) == 2 * 3  # a task per eps and shard
    assert len([1 for key, *_ in tasks if key[0] == 2]) == 3      # cw's minimal norms serve every eps
    assert {ab for *_, ab in tasks} == {(0, 100), (100, 200), (200, 250)}
    assert distributed.plan(config, 250, stored={("gaussian_noise", "0.1")}) == \
        [t for t in tasks if not (t[0][0] == 1 and t[2] == [(0.1, "0.1")])]
