"""Adversarial fine-tuning raises PGD robust accuracy on the same model; the hardened model
is exported as safetensors and reloads with the same predictions."""

from __future__ import annotations

import pytest

from workbench_plugins.robustness import device, evaluate, harden, models
from workbench_plugins.robustness.preprocess import Preprocessing


def _pgd_accuracy(module, test_set, eps=0.1):
    cfg = evaluate.SweepConfig(attacks=["pgd"], eps=[eps], steps=10, seed=0)
    res = evaluate.sweep(module, test_set, cfg, Preprocessing(), device.select("cpu", threads=1))
    return res.clean_accuracy, res.points[0].robust_accuracy


@pytest.mark.parametrize("method, epochs", [("pgd", 3), ("fgsm", 4)])
def test_adversarial_finetuning_raises_pgd_robust_accuracy(demo_copy, tmp_path, method, epochs):
    module, train_set, test_set = demo_copy
    clean_before, robust_before = _pgd_accuracy(module, test_set)
    seen = []
    history = harden.harden(module, train_set, harden.HardenConfig(method=method, eps=0.1, epochs=epochs, steps=5),
                            Preprocessing(), device.select("cpu", threads=1), on_epoch=lambda *a: seen.append(a))
    assert [h[0] for h in history] == list(range(epochs)) and seen == history
    assert all(loss > 0 and 0 <= acc <= 1 for _, loss, acc in history)
    clean_after, robust_after = _pgd_accuracy(module, test_set)
    assert robust_after >= robust_before + 0.10, (method, robust_before, robust_after)
    assert clean_after >= clean_before - 0.05  # the mix of clean and adversarial batches keeps clean accuracy

    path = tmp_path / f"hardened-{method}.safetensors"
    models.save_safetensors(module, str(path), "digits_cnn", {}, extra={"hardened": method})
    again = models.load_model(str(path))
    assert again.arch == "digits_cnn"
    assert _pgd_accuracy(again.module, test_set) == (clean_after, robust_after)


def test_noise_augmentation_helps_against_noise(demo_copy):
    module, train_set, test_set = demo_copy
    cfg = evaluate.SweepConfig(attacks=["gaussian_noise"], eps=[0.4])
    before = evaluate.sweep(module, test_set, cfg, Preprocessing(), device.select("cpu", threads=1)).points[0].robust_accuracy
    harden.harden(module, train_set, harden.HardenConfig(method="noise", eps=0.4, epochs=3), Preprocessing(),
                  device.select("cpu", threads=1))
    after = evaluate.sweep(module, test_set, cfg, Preprocessing(), device.select("cpu", threads=1)).points[0].robust_accuracy
    assert after > before


def test_bad_hardening_requests(demo_copy):
    from workbench_plugins.robustness.errors import RobustnessError

    module, train_set, _ = demo_copy
    with pytest.raises(RobustnessError, match="unknown hardening method 'trades'"):
        harden.harden(module, train_set, harden.HardenConfig(method="trades"), Preprocessing(), device.select("cpu", threads=1))
    with pytest.raises(RobustnessError, match="between 0 and 1"):
        harden.harden(module, train_set, harden.HardenConfig(mix=2.0), Preprocessing(), device.select("cpu", threads=1))
