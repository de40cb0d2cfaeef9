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


def test_worst_case_per_sample_and_r_on_the_protocol_grid():
    # three samples; sample 0 falls to fgsm at 0.1, sample 1 to pgd at 0.1, sample 2 is wrong clean
    rows = [(0.1, 0, False), (0.1, 1, True), (0.1, 2, False),     # fgsm
            (0.1, 0, True), (0.1, 1, False), (0.1, 2, False),     # pgd
            (0.05, 0, True), (0.05, 1, True), (0.05, 2, False)]
    wc = score.worst_case(3, rows)
    assert wc == {0.1: 0.0, 0.05: pytest.approx(2 / 3)}  # neither attack alone gets sample 0 and 1
    proto = {"norm": "linf", "eps": [0.05, 0.1], "attacks": ["pgd"], "budget": {}}
    assert score.r_of(proto, wc) == pytest.approx(100 * (2 / 3 + 0.0) / 2)
    assert score.r_of({**proto, "eps": [0.05, 0.2]}, wc) is None  # an epsilon the run lacks: no number


def test_protocol_comparability():
    params = {"attacks": ["pgd", "fgsm", "gaussian_noise", "square-l2"], "eps": ["0.05", "0.1"], "steps": 10,
              "step_size": None, "restarts": 1, "random_start": True, "square_queries": 5000, "p_init": 0.8,
              "targeted": False, "norm": "linf", "eps_by_norm": {"l2": ["0.5"]}}
    proto = score.run_protocol(params)
    assert proto["norm"] == "linf" and proto["attacks"] == ["fgsm", "pgd"] and proto["eps"] == [0.05, 0.1]
    assert score.run_protocol(params, "l2")["eps"] == [0.5]  # its own list per threat model
    assert score.comparable(proto, params) == (True, "")
    assert score.comparable(proto, {**params, "eps": ["0.01", "0.05"]}) == (False, "does not evaluate ε = 0.1")
    assert score.comparable(proto, {**params, "steps": 2})[1] == "pgd: steps = 2, the protocol's is 10"
    assert not score.comparable(proto, {**params, "attacks": ["pgd"]})[0]
    assert not score.comparable(proto, {**params, "targeted": True})[0]
    # more attacks, more epsilons: still comparable (they can only lower the worst case)
    assert score.comparable(proto, {**params, "attacks": params["attacks"] + ["apgd-ce"],
                                    "eps": ["0.05", "0.1", "0.2"]})[0]
    assert score.describe(proto).startswith("L∞, ε ∈ {0.05, 0.1}, worst case per sample over fgsm, pgd (steps 10")


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
