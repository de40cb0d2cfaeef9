"""Hardening: adversarial fine-tuning of an already trained model, and noise augmentation.

Methods:

- ``pgd`` (Madry et al. 2018): each batch is attacked with L-inf PGD
  (random start, ``steps`` steps of 2.5 * eps / steps) and the model is trained
  on the result;
- ``fgsm`` ("fast is better than free", Wong et al. 2020): one FGSM step of
  1.25 * eps from a uniform random start in the eps ball, at about the cost of
  plain training;
- ``noise``: Gaussian-noise augmentation of standard deviation eps (corruption
  robustness, no gradients to the input).

The loss is ``(1 - mix) * CE(clean) + mix * CE(perturbed)``; the default
``mix = 0.5`` keeps clean accuracy while the robust accuracy rises. Loss and
accuracy (on the perturbed batches) go to ``on_epoch`` after every epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import attacks as A
from .errors import RobustnessError

METHODS = ("pgd", "fgsm", "noise")


@dataclass
class HardenConfig:
    method: str = "pgd"
    eps: float = 0.1
    epochs: int = 5
    lr: float = 1e-3
    steps: int = 7
    mix: float = 0.5
    batch_size: int = 128
    seed: int = 0

    def describe(self) -> dict:
        return dict(self.__dict__)


def harden(module, train_set, config: HardenConfig, preprocessing, run_device, *,
           on_epoch=None, check_cancelled=None):
    """Fine-tune ``module`` in place; returns the per-epoch history [(epoch, loss, accuracy)]."""
    import torch
    import torch.nn.functional as F

    from .evaluate import make_target

    if getattr(module, "gradient_free", False):
        raise RobustnessError("an ONNX model cannot be fine-tuned here; load its weights as safetensors "
                              "with the architecture (--arch) instead")
    if config.method not in METHODS:
        raise RobustnessError(f"unknown hardening method {config.method!r}; choose from {', '.join(METHODS)}")
    if not 0.0 <= config.mix <= 1.0:
        raise RobustnessError("--mix must be between 0 and 1")
    device = run_device.device
    module.to(device)
    target = make_target(module, train_set, preprocessing, run_device)
    gen = torch.Generator().manual_seed(config.seed)
    attack_gen = torch.Generator().manual_seed(config.seed + 1)
    x_all = torch.as_tensor(train_set.x)
    y_all = torch.as_tensor(train_set.y)
    params = [p for p in module.parameters()]
    opt = torch.optim.Adam(params, lr=config.lr)
    scaler = torch.amp.GradScaler(device.type) if run_device.amp == "fp16" else None
    history = []
    for epoch in range(config.epochs):
        total, correct, loss_sum = 0, 0, 0.0
        order = torch.randperm(len(y_all), generator=gen)
        for i in range(0, len(order), config.batch_size):
            if check_cancelled:
                check_cancelled()
            idx = order[i:i + config.batch_size]
            xb, yb = x_all[idx].to(device), y_all[idx].to(device)
            module.eval()  # attacks see the model as it will be evaluated (dropout/batch-norm fixed)
            with A.frozen(module):
                if config.method == "pgd":
                    adv = A.pgd(target, xb, yb, config.eps, steps=config.steps, generator=attack_gen)
                elif config.method == "fgsm":
                    adv = A.pgd(target, xb, yb, config.eps, steps=1, alpha=1.25 * config.eps, generator=attack_gen)
                else:
                    noise = torch.randn(xb.shape, generator=attack_gen).to(device) * config.eps
                    adv = target.project(xb, xb + noise)
            module.train()
            logits_adv = target.logits(adv)
            loss = config.mix * F.cross_entropy(logits_adv, yb)
            if config.mix < 1.0:
                loss = loss + (1.0 - config.mix) * F.cross_entropy(target.logits(xb), yb)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits_adv.detach().argmax(1) == yb).sum())
            total += len(idx)
        module.eval()
        history.append((epoch, loss_sum / total, correct / total))
        if on_epoch:
            on_epoch(epoch, loss_sum / total, correct / total)
    return history
