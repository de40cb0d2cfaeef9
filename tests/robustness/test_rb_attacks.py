"""Attacks on the digits CNN trained in the test: agreement with torchattacks, and the
properties each attack must have (bounds, norms, targets, preprocessing, restarts)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench_plugins.robustness import attacks as A
from workbench_plugins.robustness import device, evaluate
from workbench_plugins.robustness.preprocess import Preprocessing

EPS = [0.05, 0.1, 0.2]


def _sweep(module, test_set, names, eps=EPS, **kw):
    cfg = evaluate.SweepConfig(attacks=names, eps=eps, **kw)
    return evaluate.sweep(module, test_set, cfg, Preprocessing(), device.select("cpu", threads=1))


def _torchattacks_accuracy(module, test_set, make_attack, seed=0, batch=256):
    import torch

    torch.manual_seed(seed)  # torchattacks draws its random start from the global generator
    correct = 0
    for a in range(0, len(test_set), batch):
        x = torch.as_tensor(test_set.x[a:a + batch])
        y = torch.as_tensor(test_set.y[a:a + batch])
        adv = make_attack()(x, y)
        with torch.no_grad():
            correct += int((module(adv).argmax(1) == y).sum())
    return correct / len(test_set)


def test_fgsm_and_pgd_agree_with_torchattacks(digits_demo):
    torchattacks = pytest.importorskip("torchattacks")
    loaded, _, test_set = digits_demo
    module = loaded.module
    eps_list = [0.05, 0.1]
    ours = _sweep(module, test_set, ["fgsm", "pgd"], eps=eps_list, steps=10, rel_alpha=0.25, seed=0).robust_accuracy()
    assert ours["pgd"]["0.1"] < ours["fgsm"]["0.05"] < 1.0  # the attacks do something
    for eps in eps_list:
        theirs_fgsm = _torchattacks_accuracy(module, test_set, lambda: torchattacks.FGSM(module, eps=eps))
        theirs_pgd = _torchattacks_accuracy(
            module, test_set, lambda: torchattacks.PGD(module, eps=eps, alpha=eps / 4, steps=10, random_start=True))
        assert abs(ours["fgsm"][repr(eps)] - theirs_fgsm) <= 0.01, (eps, ours["fgsm"], theirs_fgsm)
        assert abs(ours["pgd"][repr(eps)] - theirs_pgd) <= 0.01, (eps, ours["pgd"], theirs_pgd)


def test_pgd_is_at_least_as_strong_as_fgsm_and_restarts_help(digits_demo):
    loaded, _, test_set = digits_demo
    res = _sweep(loaded.module, test_set, ["fgsm", "pgd"], eps=[0.1], steps=10).robust_accuracy()
    assert res["pgd"]["0.1"] <= res["fgsm"]["0.1"]
    part = test_set.subset(slice(0, 250))
    one = _sweep(loaded.module, part, ["pgd"], eps=[0.1], steps=5, restarts=1).robust_accuracy()["pgd"]["0.1"]
    three = _sweep(loaded.module, part, ["pgd"], eps=[0.1], steps=5, restarts=3).robust_accuracy()["pgd"]["0.1"]
    assert three <= one


def test_perturbations_stay_in_the_ball_and_the_input_range(digits_demo):
    import torch

    loaded, _, test_set = digits_demo
    target = evaluate.make_target(loaded.module, test_set, Preprocessing(), device.select("cpu", threads=1))
    x = torch.as_tensor(test_set.x[:64])
    y = torch.as_tensor(test_set.y[:64])
    gen = torch.Generator().manual_seed(0)
    with A.frozen(loaded.module):
        linf = A.pgd(target, x, y, 0.1, steps=5, generator=gen)
        l2 = A.pgd(target, x, y, 0.5, steps=5, norm="l2", generator=gen)
        sq = A.square(target, x, y, 0.1, n_queries=30, generator=gen)
    for adv in (linf, l2, sq):
        assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert float((linf - x).abs().max()) <= 0.1 + 1e-6
    assert float((sq - x).abs().max()) <= 0.1 + 1e-6
    assert float((l2 - x).reshape(64, -1).norm(dim=1).max()) <= 0.5 + 1e-5
    assert all(p.requires_grad for p in loaded.module.parameters())  # restored after the run


def test_targeted_attacks_hit_the_target(digits_demo):
    loaded, _, test_set = digits_demo
    untargeted = _sweep(loaded.module, test_set, ["pgd"], eps=[0.2]).points[0]
    targeted = _sweep(loaded.module, test_set, ["pgd"], eps=[0.2], targeted=True).points[0]
    adv = targeted.samples["adv_pred"]
    hit = np.mean(adv == (test_set.y + 1) % 10)
    assert targeted.success_rate == pytest.approx(
        np.sum((adv == (test_set.y + 1) % 10) & (targeted.samples["clean_pred"] == test_set.y))
        / np.sum(targeted.samples["clean_pred"] == test_set.y))
    assert hit > 0.5  # most samples pushed into the chosen class, not just anywhere
    assert targeted.success_rate <= untargeted.success_rate + 1e-9


def test_preprocessing_makes_epsilon_input_space(digits_demo):
    """A model that normalises inside must give the same result as the same model with mean/std given."""
    import copy

    import torch

    loaded, _, test_set = digits_demo
    mean, std = 0.3, 0.4
    # inner expects normalised input z and undoes it: inner(z) = original(z * std + mean)
    class Denormalise(torch.nn.Module):
        def forward(self, z):
            return z * std + mean

    inner = torch.nn.Sequential(Denormalise(), copy.deepcopy(loaded.module))
    cfg = evaluate.SweepConfig(attacks=["fgsm"], eps=[0.1])
    plain = evaluate.sweep(loaded.module, test_set, cfg, Preprocessing(), device.select("cpu", threads=1))
    normed = evaluate.sweep(inner, test_set, cfg, Preprocessing(mean=[mean], std=[std]), device.select("cpu", threads=1))
    assert normed.clean_accuracy == pytest.approx(plain.clean_accuracy)
    assert abs(normed.points[0].robust_accuracy - plain.points[0].robust_accuracy) <= 0.005
    assert normed.settings["preprocessing"]["mean"] == [mean]


def test_deepfool_finds_small_perturbations_consistent_with_pgd_l2(digits_demo):
    loaded, _, test_set = digits_demo
    res = _sweep(loaded.module, test_set, ["deepfool", "pgd_l2"], eps=[0.5, 1.0, 2.0], steps=20)
    curves = res.robust_accuracy()
    df = [curves["deepfool"][k] for k in ("0.5", "1.0", "2.0")]
    assert df[0] >= df[1] >= df[2]
    assert df[2] < res.clean_accuracy - 0.3  # it does find adversarials within L2 = 2
    point = next(p for p in res.points if p.attack == "deepfool")
    assert 0 < point.mean_perturbation < 3.0  # the average minimal L2 perturbation on [0,1] 8x8 digits
    for k in ("0.5", "1.0", "2.0"):  # a minimal-perturbation attack is at most a little weaker than PGD
        assert curves["deepfool"][k] >= curves["pgd_l2"][k] - 0.05


def test_square_black_box_lowers_accuracy(digits_demo):
    loaded, _, test_set = digits_demo
    res = _sweep(loaded.module, test_set.subset(slice(0, 200)), ["square"], eps=[0.2], square_queries=100)
    assert res.points[0].robust_accuracy < res.clean_accuracy - 0.3


def test_corruptions_sweep_and_per_sample_results(digits_demo):
    loaded, _, test_set = digits_demo
    res = _sweep(loaded.module, test_set, ["gaussian_noise", "salt_pepper", "blur", "brightness", "contrast"],
                 eps=[0.1, 0.5])
    assert len(res.points) == 10
    by = {(p.attack, p.eps_label): p for p in res.points}
    assert by[("salt_pepper", "0.5")].robust_accuracy < by[("salt_pepper", "0.1")].robust_accuracy
    p = by[("gaussian_noise", "0.5")]
    assert p.kind == "corruption" and set(p.per_class) == {str(c) for c in range(10)}
    assert len(p.samples["index"]) == len(test_set) and p.samples["norm"].shape == (len(test_set),)
    acc_from_samples = float(np.mean(p.samples["adv_pred"] == test_set.y))
    assert p.robust_accuracy == pytest.approx(acc_from_samples)
    again = _sweep(loaded.module, test_set, ["gaussian_noise"], eps=[0.5])
    assert again.points[0].robust_accuracy == p.robust_accuracy  # seeded: reproducible


def test_tabular_model_with_bounds_and_immutable_features():
    import torch

    from workbench_plugins.robustness import models
    from workbench_plugins.robustness.data import Dataset

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    ds = Dataset(x, y, "tabular", "generated")
    torch.manual_seed(0)
    net = models.train(models.tabular_mlp(5, 2), ds, epochs=30)
    pre = Preprocessing(lower=[-4.0] * 5, upper=[4.0] * 5, immutable=[0, 4])
    cfg = evaluate.SweepConfig(attacks=["pgd", "feature_noise"], eps=[0.5, 1.0])
    res = evaluate.sweep(net, ds, cfg, pre, device.select("cpu", threads=1))
    assert res.clean_accuracy > 0.9
    assert res.robust_accuracy()["pgd"]["1.0"] < res.clean_accuracy
    target = evaluate.make_target(net, ds, pre, device.select("cpu", threads=1))
    xb, yb = torch.as_tensor(x[:50]), torch.as_tensor(y[:50])
    with A.frozen(net):
        adv = A.pgd(target, xb, yb, 1.0, steps=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(adv[:, 0], xb[:, 0]) and torch.equal(adv[:, 4], xb[:, 4])
    assert float((adv[:, 1:4] - xb[:, 1:4]).abs().max()) > 0.1
    assert float(adv.min()) >= -4.0 and float(adv.max()) <= 4.0
    from workbench_plugins.robustness.errors import RobustnessError

    tight = Preprocessing(lower=[-1.0] * 5, upper=[1.0] * 5)
    with pytest.raises(RobustnessError, match=r"generated: sample \d+, feature \d = .* is outside its bounds"):
        evaluate.sweep(net, ds, cfg, tight, device.select("cpu", threads=1))


def test_bad_sweep_requests_are_refused(digits_demo):
    from workbench_plugins.robustness.errors import RobustnessError

    loaded, _, test_set = digits_demo
    with pytest.raises(RobustnessError, match="unknown attack or corruption 'fab'"):
        _sweep(loaded.module, test_set, ["fab"])
    with pytest.raises(RobustnessError, match="choose their own targets"):
        _sweep(loaded.module, test_set, ["autoattack"], targeted=True)
    with pytest.raises(RobustnessError, match="feature_noise does not apply to image data"):
        _sweep(loaded.module, test_set, ["feature_noise"])
    with pytest.raises(RobustnessError, match="must not be negative"):
        _sweep(loaded.module, test_set, ["fgsm"], eps=[-0.1])


def test_channels_last_on_cpu_finds_the_same_examples_and_still_exports(demo_copy, tmp_path):
    """make_target reorders a CNN's weights to channels-last for speed: the attack must not change."""
    import copy

    import torch

    from workbench_plugins.robustness import models

    module, _, test_set = demo_copy
    plain = copy.deepcopy(module).to(memory_format=torch.contiguous_format)  # the layout a user trains in
    rd = device.select("cpu", threads=1)
    target = evaluate.make_target(module, test_set, Preprocessing(), rd)
    assert module[2].weight.is_contiguous(memory_format=torch.channels_last)  # 16 -> 32 channels
    assert not plain[2].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.as_tensor(test_set.x[:128])
    y = torch.as_tensor(test_set.y[:128])
    reference = A.AttackTarget(plain, torch.tensor(0.0), torch.tensor(1.0))
    with A.frozen(module), A.frozen(plain):
        fast = A.pgd(target, x, y, 0.1, steps=5, generator=torch.Generator().manual_seed(3))
        slow = A.pgd(reference, x, y, 0.1, steps=5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(fast, slow)
    path = tmp_path / "cl.safetensors"
    models.save_safetensors(module, str(path), "digits_cnn")
    again = models.load_model(str(path)).module
    with torch.no_grad():
        assert torch.equal(again(x), plain(x))
