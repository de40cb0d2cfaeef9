"""Device selection, precision, OOM batch halving, seeds; the R(x) score."""

from __future__ import annotations

import pytest

from workbench_plugins.robustness import device, score
from workbench_plugins.robustness.errors import RobustnessError


def test_cpu_selection_pins_threads():
    import torch

    rd = device.select("cpu", threads=1)
    assert rd.type == "cpu" and rd.threads == 1 and torch.get_num_threads() == 1
    assert rd.describe()["device"] == "cpu" and rd.describe()["amp"] is None
    auto = device.select(None, threads=1)
    assert auto.type == device.available()[0]


def test_amp_and_unknown_devices_are_refused_on_cpu():
    with pytest.raises(RobustnessError, match="--amp bf16 needs a GPU"):
        device.select("cpu", amp="bf16")
    with pytest.raises(RobustnessError, match="unknown device 'tpu'"):
        device.select("tpu")
    with pytest.raises(RobustnessError, match="unknown precision 'int8'"):
        device.select(None if "cuda" in device.available() else "cpu", amp="int8")
    if "cuda" not in device.available():
        with pytest.raises(RobustnessError, match="'cuda' is not available here"):
            device.select("cuda")


def test_batches_halve_on_out_of_memory_and_cover_every_sample():
    import torch

    calls, halved = [], []

    def work(a, b):
        if b - a > 40:  # what a GPU that fits 40 samples at a time would do
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        calls.append((a, b))
        return list(range(a, b))

    parts, used = device.run_in_batches(300, 256, work, on_halve=halved.append)
    assert used == 32 and halved == [128, 64, 32]
    assert [i for p in parts for i in p] == list(range(300))
    with pytest.raises(RobustnessError, match="even with a batch of one"):
        device.run_in_batches(3, 4, lambda a, b: (_ for _ in ()).throw(RuntimeError("out of memory")))
    with pytest.raises(ValueError, match="other"):
        device.run_in_batches(3, 4, lambda a, b: (_ for _ in ()).throw(ValueError("other")))


def test_seeds_are_recorded_and_reproduce():
    import torch

    assert device.seed_everything(7) == {"seed": 7}
    a = torch.rand(3)
    device.seed_everything(7)
    assert torch.equal(a, torch.rand(3))


def test_normalised_auc_and_combined_score():
    # flat at 1.0: r = 1; linear drop from 1 to 0 over [0, 0.2]: r = 0.5
    assert score.normalised_auc(1.0, {0.1: 1.0, 0.2: 1.0}) == pytest.approx(1.0)
    assert score.normalised_auc(1.0, {0.1: 0.5, 0.2: 0.0}) == pytest.approx(0.5)
    # trapezoid through (0, 0.9), (0.1, 0.5), (0.3, 0.1): (0.1*1.4/2 + 0.2*0.6/2) / 0.3
    assert score.normalised_auc(0.9, {0.3: 0.1, 0.1: 0.5}) == pytest.approx((0.07 + 0.06) / 0.3)
    r = {"pgd": 0.5, "gaussian_noise": 0.8}
    assert score.combine(r) == pytest.approx(100 * (1.0 * 0.5 + 0.5 * 0.8) / 1.5)
    assert score.combine(r, {"pgd": 1.0, "gaussian_noise": 0.0}) == pytest.approx(50.0)
    assert score.combine({}) is None


def test_package_import_does_not_import_torch():
    import subprocess
    import sys

    # the package, the plugin object's jobs and params, and what the window imports (tab, report, store)
    code = ("import sys, workbench_plugins.robustness as r; "
            "r.plugin.job_spec('robustness', target='demo'); r.plugin.migrations; "
            "import workbench_plugins.robustness.tab, workbench_plugins.robustness.report, "
            "workbench_plugins.robustness.cli, workbench_plugins.robustness.device; "
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False", out.stderr


def test_autocast_path_runs_and_agrees(digits_demo, demo_copy):
    """The GPU's autocast code path, exercised on the CPU (bf16 autocast exists there too)."""
    import torch

    from workbench_plugins.robustness import evaluate, harden
    from workbench_plugins.robustness.preprocess import Preprocessing

    loaded, _, test_set = digits_demo
    cfg = evaluate.SweepConfig(attacks=["fgsm", "pgd"], eps=[0.1])
    fp32 = evaluate.sweep(loaded.module, test_set, cfg, Preprocessing(), device.select("cpu", threads=1))
    bf16_dev = device.RunDevice(torch.device("cpu"), "bf16", 1)
    bf16 = evaluate.sweep(loaded.module, test_set, cfg, Preprocessing(), bf16_dev)
    assert bf16.settings["device"]["amp"] == "bf16"
    for a, b in zip(fp32.points, bf16.points):
        assert abs(a.robust_accuracy - b.robust_accuracy) <= 0.03, (a.attack, a.robust_accuracy, b.robust_accuracy)
    module, train_set, _ = demo_copy
    history = harden.harden(module, train_set, harden.HardenConfig(method="fgsm", epochs=1), Preprocessing(), bf16_dev)
    assert len(history) == 1 and history[0][1] > 0
