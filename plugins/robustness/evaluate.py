"""Robustness sweeps: every attack and corruption over a list of epsilons (or severities).

``sweep`` hands each finished (attack, epsilon) point to ``on_point`` as soon as
it is done, so a caller can store and stream it; a cancel between batches keeps
every point already delivered.

Definitions, per point (N samples, y the true labels):

- robust accuracy: share of all N samples still classified as y after the attack;
- success rate: among samples the model got right before the attack, the share
  the attack broke (untargeted: any wrong class; targeted: the target class);
- mean loss: mean cross-entropy against y under attack;
- mean perturbation: mean norm (the attack's norm; L2 for corruptions) of
  x_adv - x over the samples the attack broke; for DeepFool, the average
  minimal perturbation it found;
- per class: robust accuracy among the samples of each true class;
- per sample: index, clean prediction, adversarial prediction, perturbation norm.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import attacks as A
from .corruptions import CORRUPTIONS, IMAGE_CORRUPTIONS, TABULAR_CORRUPTIONS, corrupt
from .errors import RobustnessError


@dataclass
class SweepConfig:
    attacks: list[str]
    eps: list[float]
    eps_labels: list[str] | None = None     # as the user wrote them; default str(eps)
    steps: int = 10
    alpha: float | None = None              # step size; None: 2.5 * eps / steps
    rel_alpha: float | None = None          # step size as a fraction of eps (overrides alpha)
    restarts: int = 1
    random_start: bool = True
    targeted: bool = False
    target: str = "next"                    # "next": (y + 1) mod K; "random": a seeded other class
    batch_size: int = 256
    seed: int = 0
    square_queries: int = 300
    deepfool_iter: int = 50
    examples: int = 8                       # adversarial images kept per point for the gallery (images only)

    def labels(self) -> list[str]:
        return list(self.eps_labels) if self.eps_labels else [repr(float(e)) for e in self.eps]

    def describe(self) -> dict:
        d = dict(self.__dict__)
        d["eps_labels"] = self.labels()
        return d


@dataclass
class PointResult:
    attack: str
    kind: str                     # "attack" or "corruption"
    eps: float
    eps_label: str
    norm: str
    robust_accuracy: float
    success_rate: float
    mean_loss: float
    mean_perturbation: float
    per_class: dict
    samples: dict                 # index, clean_pred, adv_pred, norm (numpy arrays)
    seconds: float
    batch_size: int
    examples: list = field(default_factory=list)   # [(index, x, x_adv)] of samples the attack broke


    def summary(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("samples", "examples")}


@dataclass
class SweepResult:
    clean_accuracy: float
    clean_per_class: dict
    clean_pred: object
    labels: object
    points: list[PointResult] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def robust_accuracy(self) -> dict:
        out: dict = {}
        for p in self.points:
            out.setdefault(p.attack, {})[p.eps_label] = p.robust_accuracy
        return out


def _per_class(correct, y, num_classes: int) -> dict:
    import numpy as np

    out = {}
    for c in range(num_classes):
        sel = y == c
        if sel.any():
            out[str(c)] = float(np.mean(correct[sel]))
    return out


def check_names(names: list[str], kind: str) -> None:
    allowed = A.ATTACKS + (IMAGE_CORRUPTIONS if kind == "image" else TABULAR_CORRUPTIONS)
    for n in names:
        if n not in allowed:
            hint = "" if n not in CORRUPTIONS else f" ({n} does not apply to {kind} data)"
            raise RobustnessError(f"unknown attack or corruption {n!r}{hint}; choose from {', '.join(allowed)}")


def to_channels_last(module) -> bool:
    """Put a convolutional model's weights in channels-last order, in place, on the CPU.

    oneDNN's convolutions and max-pooling then run in NHWC, which on the CPU is
    several times faster for pooling and gives bit-identical outputs (checked
    against NCHW in the tests), so attacks find the same examples faster.
    Parameters stay the same objects (an optimiser holding them is unaffected)
    and exported weights are made contiguous again. TorchScript and
    non-convolutional models are left alone. True when it converted.
    """
    import torch

    if not isinstance(module, torch.nn.Module) or isinstance(module, torch.jit.ScriptModule):
        return False
    if not any(isinstance(m, torch.nn.Conv2d) for m in module.modules()):
        return False
    module.to(memory_format=torch.channels_last)
    return True


def make_target(module, dataset, preprocessing, run_device):
    """The AttackTarget for ``module`` on ``dataset`` (model moved to the run's device)."""
    sample_shape = tuple(dataset.x.shape[1:])
    preprocessing.check(dataset.kind, sample_shape)
    if len(sample_shape) == 3 and run_device.device.type == "cpu":
        to_channels_last(module)
    model = preprocessing.wrap(module, dataset.kind, sample_shape).to(run_device.device).eval()
    low, high = preprocessing.bounds(dataset.kind, sample_shape, run_device.device)
    mask = preprocessing.mutable_mask(dataset.kind, sample_shape, run_device.device)
    return A.AttackTarget(model, low, high, mask, run_device.autocast)


def predict(target, x, batch_size: int, device):
    import numpy as np
    import torch

    from .device import run_in_batches

    def chunk(a, b):
        with torch.no_grad():
            return target.logits(torch.as_tensor(x[a:b]).to(device)).argmax(1).cpu().numpy()

    parts, _ = run_in_batches(len(x), batch_size, chunk, device=device)
    return np.concatenate(parts)


def sweep(module, dataset, config: SweepConfig, preprocessing, run_device, *,
          on_point=None, on_progress=None, check_cancelled=None, on_log=None, on_clean=None) -> SweepResult:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from .device import run_in_batches

    check_names(config.attacks, dataset.kind)
    if getattr(module, "gradient_free", False):
        needs = [a for a in config.attacks if a in A.GRADIENT_ATTACKS]
        if needs:
            raise RobustnessError(f"{', '.join(needs)} need{'s' if len(needs) == 1 else ''} gradients, which this "
                                  "model (ONNX) does not give; use square and the corruptions")
    if not config.eps:
        raise RobustnessError("no epsilons given")
    if any(e < 0 for e in config.eps):
        raise RobustnessError("epsilons must not be negative")
    labels = config.labels()
    device = run_device.device
    num_classes = None
    x_all, y_all = dataset.x, dataset.y
    with A.frozen(module):
        target = make_target(module, dataset, preprocessing, run_device)
        with torch.no_grad():
            num_classes = int(target.logits(torch.as_tensor(x_all[:1]).to(device)).shape[1])
        from .data import validate

        validate(x_all, y_all, dataset.source, num_classes=num_classes)
        preprocessing.check_data(x_all, dataset.source)
        clean_pred = predict(target, x_all, config.batch_size, device)
        clean_correct = clean_pred == y_all
        result = SweepResult(float(clean_correct.mean()), _per_class(clean_correct, y_all, num_classes),
                             clean_pred, y_all, settings={"config": config.describe(),
                                                         "preprocessing": preprocessing.describe(),
                                                         "device": run_device.describe(),
                                                         "num_classes": num_classes, "samples": len(y_all)})
        if on_clean:
            on_clean(result)
        if dataset.kind == "tabular":
            feature_std = torch.as_tensor(x_all.std(axis=0, keepdims=True)).to(device)
        else:
            feature_std = None
        total = len(config.attacks) * len(config.eps)
        done = 0
        for name in config.attacks:
            deepfool_cache = None
            for eps, label in zip(config.eps, labels):
                if check_cancelled:
                    check_cancelled()
                started = time.perf_counter()
                gen = torch.Generator().manual_seed(config.seed)
                if config.targeted:
                    if config.target == "random":
                        off = torch.randint(1, num_classes, (len(y_all),), generator=torch.Generator().manual_seed(
                            config.seed + 1)).numpy()
                        goal_all = (y_all + off) % num_classes
                    else:
                        goal_all = (y_all + 1) % num_classes
                else:
                    goal_all = y_all
                kind = "corruption" if name in CORRUPTIONS and name not in A.ATTACKS else "attack"
                norm = A.NORM_OF.get(name, "l2")
                alpha = (config.rel_alpha * eps) if config.rel_alpha is not None else config.alpha

                examples: list = []
                keep = config.examples if dataset.kind == "image" else 0

                def chunk(a, b, name=name, eps=eps, gen=gen, alpha=alpha, norm=norm, examples=examples):
                    if check_cancelled:
                        check_cancelled()
                    xb = torch.as_tensor(x_all[a:b]).to(device)
                    yb = torch.as_tensor(y_all[a:b]).to(device)
                    gb = torch.as_tensor(goal_all[a:b]).to(device)
                    if name == "fgsm":
                        adv = A.fgsm(target, xb, gb, eps, targeted=config.targeted)
                    elif name in ("pgd", "pgd_l2"):
                        adv = A.pgd(target, xb, gb, eps, steps=config.steps, alpha=alpha, norm=norm,
                                    random_start=config.random_start, restarts=config.restarts,
                                    targeted=config.targeted, generator=gen)
                    elif name == "square":
                        adv = A.square(target, xb, gb, eps, n_queries=config.square_queries,
                                       targeted=config.targeted, generator=gen)
                    else:
                        adv = corrupt(name, xb, eps, low=target.low, high=target.high, generator=gen,
                                      feature_std=feature_std, mask=target.mask)
                    with torch.no_grad():
                        logits = target.logits(adv)
                        loss = F.cross_entropy(logits, yb, reduction="none")
                        pert = A._flat_norm(adv - xb, norm)
                    pred = logits.argmax(1).cpu().numpy()
                    if len(examples) < keep:
                        broken = np.nonzero((pred != y_all[a:b]) & clean_correct[a:b])[0][:keep - len(examples)]
                        adv_np = adv[torch.as_tensor(broken, device=adv.device)].float().cpu().numpy()
                        examples.extend((a + int(i), x_all[a + int(i)], adv_np[k]) for k, i in enumerate(broken))
                    return pred, loss.cpu().numpy(), pert.cpu().numpy()

                if name == "deepfool":
                    if config.targeted:
                        raise RobustnessError("deepfool is untargeted only; leave it out of a targeted run")
                    if deepfool_cache is None:
                        def df_chunk(a, b):
                            if check_cancelled:
                                check_cancelled()
                            xb = torch.as_tensor(x_all[a:b]).to(device)
                            yb = torch.as_tensor(y_all[a:b]).to(device)
                            adv, found = A.deepfool(target, xb, yb, max_iter=config.deepfool_iter,
                                                    num_classes=num_classes)
                            with torch.no_grad():
                                logits = target.logits(adv)
                                loss = F.cross_entropy(logits, yb, reduction="none")
                            return (logits.argmax(1).cpu().numpy(), loss.cpu().numpy(),
                                    A._flat_norm(adv - xb, "l2").cpu().numpy(), found.cpu().numpy())

                        parts, used = run_in_batches(len(y_all), config.batch_size, df_chunk, device=device)
                        deepfool_cache = [np.concatenate([p[i] for p in parts]) for i in range(4)], used
                    (df_pred, df_loss, df_norm, df_found), used = deepfool_cache
                    # a minimal perturbation breaks the sample at every eps at or above its norm
                    within = df_found & clean_correct & (df_norm <= eps + 1e-7)
                    adv_pred = np.where(within, df_pred, clean_pred)
                    with torch.no_grad():
                        clean_loss = _clean_loss(target, x_all, y_all, config.batch_size, device)
                    loss = np.where(within, df_loss, clean_loss)
                    pert = np.where(within, df_norm, 0.0)
                    minimal = df_norm[df_found & clean_correct]
                    mean_pert = float(minimal.mean()) if minimal.size else 0.0
                else:
                    parts, used = run_in_batches(len(y_all), config.batch_size, chunk, device=device,
                                                 on_halve=(lambda s: on_log(f"out of memory: batch size halved to {s}"))
                                                 if on_log else None)
                    adv_pred = np.concatenate([p[0] for p in parts])
                    loss = np.concatenate([p[1] for p in parts])
                    pert = np.concatenate([p[2] for p in parts])
                    mean_pert = None
                goal_hit = (adv_pred == goal_all) if config.targeted else (adv_pred != y_all)
                broke = goal_hit & clean_correct
                robust = adv_pred == y_all
                if mean_pert is None:
                    mean_pert = float(pert[broke].mean()) if broke.any() else 0.0
                point = PointResult(
                    attack=name, kind=kind, eps=float(eps), eps_label=label, norm=norm,
                    robust_accuracy=float(robust.mean()),
                    success_rate=float(broke.sum() / max(1, clean_correct.sum())),
                    mean_loss=float(loss.mean()), mean_perturbation=mean_pert,
                    per_class=_per_class(robust, y_all, num_classes),
                    samples={"index": np.arange(len(y_all)), "clean_pred": clean_pred, "adv_pred": adv_pred,
                             "norm": pert.astype(np.float32)},
                    seconds=time.perf_counter() - started, batch_size=used,
                    examples=examples if name != "deepfool" else [])
                result.points.append(point)
                done += 1
                if on_point:
                    on_point(point)
                if on_progress:
                    on_progress(done, total, f"{name} eps={label}: robust accuracy {point.robust_accuracy:.3f}")
    return result


def _clean_loss(target, x, y, batch_size, device):
    import numpy as np
    import torch
    import torch.nn.functional as F

    out = []
    for a in range(0, len(y), batch_size):
        xb = torch.as_tensor(x[a:a + batch_size]).to(device)
        yb = torch.as_tensor(y[a:a + batch_size]).to(device)
        out.append(F.cross_entropy(target.logits(xb), yb, reduction="none").cpu().numpy())
    return np.concatenate(out)
