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


SHARD_SIZE = 1024  # large enough that a GPU batch is rarely cut by a shard's end


def shard_seed(seed: int, shard: int) -> int:
    """The seed of one shard's generators: shard 0 keeps the run's seed (a set of up to one shard gives
    the numbers it gave before shards existed); the others derive theirs from (seed, shard)."""
    if shard == 0:
        return int(seed)
    import numpy as np

    return int(np.random.SeedSequence([int(seed) % 2 ** 32, int(shard)]).generate_state(1, np.uint64)[0] >> 1)


def shard_bounds(n: int, shard_size: int) -> list[tuple[int, int]]:
    """[(start, stop)] of the shards of n samples."""
    size = max(1, int(shard_size))
    return [(a, min(n, a + size)) for a in range(0, n, size)]


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
    square_queries: int = 5000              # the paper's and AutoAttack's budget
    p_init: float = 0.8                     # Square's initial fraction of pixels per square (AutoAttack's)
    deepfool_iter: int = 50
    examples: int = 8                       # adversarial images kept per point for the gallery (images only)
    norm: str = "linf"                      # threat model of apgd-*, autoattack (the others have their own)
    ensemble: str = "standard"              # autoattack: standard (APGD-CE, APGD-T, FAB-T, Square) or quick
    apgd_iter: int = 100
    cw_steps: int = 100
    cw_c: float = 1.0
    eps_by_norm: dict | None = None         # {"linf": [labels], "l2": [labels]}: a list per threat model
    cascade: bool = True                    # skip samples already broken at a smaller eps (untargeted)
    batched: bool | None = None             # PGD: every eps in one batch (None: on a GPU, not on the CPU)
    # samples per seeding shard: each shard's random streams are seeded from (seed, shard) and no batch
    # straddles two shards, so a run split by shards over a cluster gives the local run's numbers. A
    # constant of the run, never the number of workers (shard 0 keeps the seed itself)
    shard_size: int = SHARD_SIZE

    def labels(self) -> list[str]:
        return list(self.eps_labels) if self.eps_labels else [repr(float(e)) for e in self.eps]

    def norm_of(self, name: str) -> str:
        if name in CORRUPTIONS and name not in A.ATTACKS:
            return "l2"
        return A.NORM_OF.get(name) or self.norm

    def points_of(self, name: str) -> list[tuple[float, str]]:
        """(eps, label) of one attack, smallest first: its threat model's own list when one was given."""
        labels = self.labels()
        values = [float(e) for e in self.eps]
        own = (self.eps_by_norm or {}).get(self.norm_of(name)) if name in A.ATTACKS else None
        if own:
            labels, values = [str(v) for v in own], [float(v) for v in own]
        return sorted(zip(values, labels), key=lambda p: p[0])

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
    members: dict = field(default_factory=dict)    # autoattack: robust accuracy after each attack of the ensemble
    # sweep(raw=True) only: per-sample loss, the minimal norms found, the ensemble's survivor counts; what
    # merge_points needs to rebuild the point of a whole set from its shards'
    raw: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("samples", "examples", "raw")}


@dataclass
class SweepResult:
    clean_accuracy: float
    clean_per_class: dict
    clean_pred: object
    labels: object
    points: list[PointResult] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    clean_loss: object = None     # per-sample cross-entropy of the clean pass

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


def predict(target, x, batch_size: int, device, y=None):
    """Clean predictions; with ``y``, (predictions, per-sample cross-entropy) from the same pass."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from .device import run_in_batches

    def chunk(a, b):
        with torch.no_grad():
            logits = target.logits(torch.as_tensor(x[a:b]).to(device))
            loss = None if y is None else F.cross_entropy(
                logits, torch.as_tensor(y[a:b]).to(device), reduction="none").cpu().numpy()
            return logits.argmax(1).cpu().numpy(), loss

    parts, _ = run_in_batches(len(x), batch_size, chunk, device=device)
    pred = np.concatenate([p[0] for p in parts])
    return pred if y is None else (pred, np.concatenate([p[1] for p in parts]))


def cascades(config: SweepConfig, name: str) -> bool:
    """Whether an attack's points depend on each other: untargeted, a sample broken at a smaller eps is
    broken at every larger one (its adversarial example lies in the larger ball too), and one
    misclassified clean needs no attack at all, so each eps attacks only the samples still robust."""
    kind = "corruption" if name in CORRUPTIONS and name not in A.ATTACKS else "attack"
    return config.cascade and kind == "attack" and not config.targeted and name not in A.MINIMAL


def goals(y, num_classes: int, config: SweepConfig, offset: int = 0):
    """The class each sample is pushed towards: its own (untargeted), the next one, or a seeded other class
    drawn shard by shard (so a shard's draws do not depend on the samples before it)."""
    import numpy as np
    import torch

    if not config.targeted:
        return y
    if config.target != "random":
        return (y + 1) % num_classes
    first = offset // max(1, config.shard_size)
    parts = [(y[a:b] + torch.randint(1, num_classes, (b - a,), generator=torch.Generator().manual_seed(
        shard_seed(config.seed + 1, first + k))).numpy()) % num_classes
        for k, (a, b) in enumerate(shard_bounds(len(y), config.shard_size))]
    return np.concatenate(parts) if parts else y.copy()


def _point(name, kind, eps, label, norm, adv_pred, loss, pert, mean_pert, counts, y_all, goal_all, clean_pred,
           clean_correct, num_classes, targeted, seconds, used, examples, raw=None) -> PointResult:
    """One point's figures from its per-sample outcome (the same code for a local run and for a point
    merged from a cluster run's shards, so the floats are the same)."""
    import numpy as np

    goal_hit = (adv_pred == goal_all) if targeted else (adv_pred != y_all)
    broke = goal_hit & clean_correct
    robust = adv_pred == y_all
    if mean_pert is None:
        mean_pert = float(pert[broke].mean()) if broke.any() else 0.0
    # survivors among the samples attacked; the others were broken already
    members = {k: v / len(y_all) for k, v in counts.items()} if counts else {}
    return PointResult(
        attack=name, kind=kind, eps=float(eps), eps_label=label, norm=norm,
        robust_accuracy=float(robust.mean()),
        success_rate=float(broke.sum() / max(1, clean_correct.sum())),
        mean_loss=float(loss.mean()), mean_perturbation=mean_pert,
        per_class=_per_class(robust, y_all, num_classes),
        samples={"index": np.arange(len(y_all)), "clean_pred": clean_pred, "adv_pred": adv_pred,
                 "norm": np.asarray(pert).astype(np.float32)},
        seconds=seconds, batch_size=used, examples=examples, members=members, raw=raw or {})


def merge_points(parts: list, y_all, clean_pred, num_classes: int, config: SweepConfig) -> PointResult:
    """The point of the whole set from the same point of its shards (``sweep(raw=True)`` on consecutive
    slices, in order): the per-sample outcomes are joined and the figures computed as ``sweep`` computes
    them, so they equal a local run's exactly."""
    import numpy as np

    first = parts[0]
    adv_pred = np.concatenate([p.samples["adv_pred"] for p in parts])
    loss = np.concatenate([p.raw["loss"] for p in parts])
    pert = np.concatenate([p.samples["norm"] for p in parts])
    minimal = [p.raw["minimal"] for p in parts if p.raw.get("minimal") is not None]
    mean_pert = None
    if minimal:
        joined = np.concatenate(minimal)
        mean_pert = float(joined.mean()) if joined.size else 0.0
    counts: dict = {}
    for p in parts:
        for k, v in (p.raw.get("members") or {}).items():
            counts[k] = counts.get(k, 0) + v
    starts = np.cumsum([0] + [len(p.raw["loss"]) for p in parts])
    examples = [(int(i) + int(off), x, xa) for p, off in zip(parts, starts) for i, x, xa in p.examples][:config.examples]
    return _point(first.attack, first.kind, first.eps, first.eps_label, first.norm, adv_pred, loss, pert, mean_pert,
                  counts, y_all, goals(y_all, num_classes, config), clean_pred, clean_pred == y_all, num_classes,
                  config.targeted, sum(p.seconds for p in parts), min(p.batch_size for p in parts), examples)


def sweep(module, dataset, config: SweepConfig, preprocessing, run_device, *,
          on_point=None, on_progress=None, check_cancelled=None, on_log=None, on_clean=None,
          clean=None, offset: int = 0, feature_std=None, raw: bool = False) -> SweepResult:
    """Every attack of *config* at each of its eps over *dataset*.

    For one shard range of a cluster run: *offset* is the index of ``dataset.x[0]`` in the whole set (a
    multiple of ``config.shard_size``), *clean* the (predictions, losses) of the driver's clean pass for
    these samples, *feature_std* the whole set's (tabular noise), and *raw* keeps what
    :func:`merge_points` needs."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from .device import run_in_batches

    check_names(config.attacks, dataset.kind)
    if config.shard_size < 1 or offset % config.shard_size:
        raise RobustnessError(f"a shard range must start on a shard boundary (offset {offset}, shard size "
                              f"{config.shard_size})")
    if getattr(module, "gradient_free", False):
        needs = [a for a in config.attacks if a in A.GRADIENT_ATTACKS]
        if needs:
            raise RobustnessError(f"{', '.join(needs)} need{'s' if len(needs) == 1 else ''} gradients, which this "
                                  "model (ONNX) does not give; use square and the corruptions")
    if not config.eps:
        raise RobustnessError("no epsilons given")
    if any(e < 0 for e in config.eps):
        raise RobustnessError("epsilons must not be negative")
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
        if clean is None:
            clean_pred, clean_loss_all = predict(target, x_all, config.batch_size, device, y_all)
        else:  # the driver's clean pass: the very same floats as a local run's
            clean_pred, clean_loss_all = np.asarray(clean[0]), np.asarray(clean[1])
        clean_correct = clean_pred == y_all
        result = SweepResult(float(clean_correct.mean()), _per_class(clean_correct, y_all, num_classes),
                             clean_pred, y_all, settings={"config": config.describe(),
                                                         "preprocessing": preprocessing.describe(),
                                                         "device": run_device.describe(),
                                                         "num_classes": num_classes, "samples": len(y_all)},
                             clean_loss=clean_loss_all)
        if on_clean:
            on_clean(result)
        if dataset.kind == "tabular":
            feature_std = torch.as_tensor(x_all.std(axis=0, keepdims=True) if feature_std is None
                                          else feature_std).to(device)
        else:
            feature_std = None
        total = sum(len(config.points_of(n)) for n in config.attacks)
        done = 0
        if config.targeted and any(n in ("apgd-t", "autoattack") for n in config.attacks):
            raise RobustnessError("apgd-t and autoattack choose their own targets; leave --targeted out")
        goal_all = goals(y_all, num_classes, config, offset)

        def clean_losses():
            return clean_loss_all

        first_shard = offset // config.shard_size
        bounds = shard_bounds(len(y_all), config.shard_size)

        def by_shard(todo, seed, run):
            """``run(the shard's share of todo, the shard's generator)`` shard after shard: no batch straddles
            two shards and each shard's random streams start from its own seed, whoever computes it."""
            parts, used = [], config.batch_size
            for k, (a, b) in enumerate(bounds):
                mine = todo[(todo >= a) & (todo < b)]
                if len(mine):
                    got, used = run(mine, torch.Generator().manual_seed(shard_seed(seed, first_shard + k)))
                    parts.extend(got)
            return parts, used

        for name in config.attacks:
            minimal_cache = None
            kind = "corruption" if name in CORRUPTIONS and name not in A.ATTACKS else "attack"
            norm = config.norm_of(name)
            # untargeted: a sample broken at a smaller eps is broken at every larger one (its adversarial
            # example lies in the larger ball too), and one misclassified clean needs no attack at all
            cascade = cascades(config, name)
            prev = None
            batched = None
            # all eps in one batch where a wide batch is what keeps the device busy (a GPU); on the CPU the
            # eps run in order, each on the samples still robust, which does less work
            if cascade and name in ("pgd", "pgd_l2") and config.restarts == 1 and \
                    (config.batched if config.batched is not None else device.type != "cpu"):
                t0 = time.perf_counter()
                batched = _pgd_sweep(target, config, name, norm, x_all, y_all, clean_correct, device, dataset.kind,
                                     check_cancelled, on_log, by_shard)
                # one attack for every eps: each point is charged its share of the time
                batched_share = (time.perf_counter() - t0) / max(1, len(config.points_of(name)))
            for eps, label in config.points_of(name):
                if check_cancelled:
                    check_cancelled()
                started = time.perf_counter()
                alpha = (config.rel_alpha * eps) if config.rel_alpha is not None else config.alpha
                members: dict = {}

                examples: list = []
                keep = config.examples if dataset.kind == "image" else 0
                if cascade:
                    settled = ~clean_correct if prev is None else (prev[0] != y_all)
                    todo = np.nonzero(~settled)[0]
                else:
                    todo = np.arange(len(y_all))

                def chunk(a, b, name=name, eps=eps, gen=None, alpha=alpha, norm=norm, examples=examples,
                          todo=todo, members=members):
                    if check_cancelled:
                        check_cancelled()
                    sel = todo[a:b]
                    xb = torch.as_tensor(x_all[sel]).to(device)
                    yb = torch.as_tensor(y_all[sel]).to(device)
                    gb = torch.as_tensor(goal_all[sel]).to(device)
                    tt = config.targeted
                    if name == "fgsm":
                        adv = A.fgsm(target, xb, gb, eps, targeted=tt)
                    elif name in ("pgd", "pgd_l2"):
                        adv = A.pgd(target, xb, gb, eps, steps=config.steps, alpha=alpha, norm=norm,
                                    random_start=config.random_start, restarts=config.restarts,
                                    targeted=tt, generator=gen, early_stop=cascade)
                    elif name in ("apgd-ce", "apgd-dlr"):
                        adv, _ = A.apgd(target, xb, yb, eps, n_iter=config.apgd_iter, norm=norm,
                                        loss="ce" if name == "apgd-ce" else "dlr", targeted=tt,
                                        y_target=gb if tt else None, generator=gen)
                    elif name == "apgd-t":
                        adv, _ = A.apgd_targeted(target, xb, yb, eps, n_iter=config.apgd_iter, norm=norm,
                                                 n_targets=9 if config.ensemble == "standard" else 3,
                                                 generator=gen)
                    elif name == "autoattack":
                        def on_member(member, fooled, members=members, yb=yb):
                            members[member] = members.get(member, 0) + int((~fooled).sum())
                        adv, _ = A.ensemble(target, xb, yb, eps, version=config.ensemble, norm=norm,
                                            generator=gen, n_queries=config.square_queries, p_init=config.p_init,
                                            n_iter=config.apgd_iter, on_member=on_member)
                    elif name in ("square", "square-l2"):
                        adv = A.square(target, xb, gb, eps, n_queries=config.square_queries, p_init=config.p_init,
                                       targeted=tt, generator=gen, norm=norm)
                    else:
                        adv = corrupt(name, xb, eps, low=target.low, high=target.high, generator=gen,
                                      feature_std=feature_std, mask=target.mask)
                    with torch.no_grad():
                        logits = target.logits(adv)
                        loss = F.cross_entropy(logits, yb, reduction="none")
                        pert = A._flat_norm(adv - xb, norm)
                    pred = logits.argmax(1).cpu().numpy()
                    if len(examples) < keep:
                        broken = np.nonzero((pred != y_all[sel]) & clean_correct[sel])[0][:keep - len(examples)]
                        adv_np = adv[torch.as_tensor(broken, device=adv.device)].float().cpu().numpy()
                        examples.extend((int(sel[i]), x_all[sel[i]], adv_np[k]) for k, i in enumerate(broken))
                    return pred, loss.cpu().numpy(), pert.cpu().numpy()

                if batched is not None:
                    adv_pred, loss, pert = clean_pred.copy(), clean_losses().copy(), np.zeros(len(y_all), np.float32)
                    todo, (b_pred, b_loss, b_pert, b_examples), used = batched[0], batched[1][eps], batched[2]
                    adv_pred[todo], loss[todo], pert[todo] = b_pred, b_loss, b_pert
                    examples.extend(b_examples[:keep])
                    mean_pert = minimal = None
                elif name in A.MINIMAL:
                    if config.targeted and name == "deepfool":
                        raise RobustnessError("deepfool is untargeted only; leave it out of a targeted run")
                    if minimal_cache is None:
                        def min_chunk(a, b, name=name):
                            if check_cancelled:
                                check_cancelled()
                            xb = torch.as_tensor(x_all[a:b]).to(device)
                            yb = torch.as_tensor(y_all[a:b]).to(device)
                            if name == "deepfool":
                                adv, found = A.deepfool(target, xb, yb, max_iter=config.deepfool_iter,
                                                        num_classes=num_classes)
                            else:
                                gb = torch.as_tensor(goal_all[a:b]).to(device)
                                adv, found = A.cw_l2(target, xb, gb, c=config.cw_c, steps=config.cw_steps,
                                                     targeted=config.targeted)
                            with torch.no_grad():
                                logits = target.logits(adv)
                                loss = F.cross_entropy(logits, yb, reduction="none")
                            return (logits.argmax(1).cpu().numpy(), loss.cpu().numpy(),
                                    A._flat_norm(adv - xb, "l2").cpu().numpy(), found.cpu().numpy())

                        parts, used = by_shard(np.arange(len(y_all)), config.seed, lambda mine, _gen: run_in_batches(
                            len(mine), config.batch_size, lambda a, b, mine=mine: min_chunk(int(mine[a]), int(mine[b - 1]) + 1),
                            device=device))
                        minimal_cache = [np.concatenate([p[i] for p in parts]) for i in range(4)], used
                    (df_pred, df_loss, df_norm, df_found), used = minimal_cache
                    # a minimal perturbation breaks the sample at every eps at or above its norm
                    within = df_found & clean_correct & (df_norm <= eps + 1e-7)
                    adv_pred = np.where(within, df_pred, clean_pred)
                    loss = np.where(within, df_loss, clean_losses())
                    pert = np.where(within, df_norm, 0.0)
                    minimal = df_norm[df_found & clean_correct]
                    mean_pert = float(minimal.mean()) if minimal.size else 0.0
                else:
                    parts, used = by_shard(todo, config.seed, lambda mine, gen: run_in_batches(
                        len(mine), config.batch_size, lambda a, b, mine=mine, gen=gen: chunk(a, b, gen=gen, todo=mine),
                        device=device, on_halve=(lambda s: on_log(f"out of memory: batch size halved to {s}"))
                        if on_log else None))
                    minimal = None
                    if len(todo) == len(y_all):
                        adv_pred = np.concatenate([p[0] for p in parts])
                        loss = np.concatenate([p[1] for p in parts])
                        pert = np.concatenate([p[2] for p in parts])
                    else:
                        # the samples not attacked keep their outcome at the smaller eps (or clean)
                        adv_pred, loss, pert = (clean_pred.copy(), clean_losses().copy(),
                                                np.zeros(len(y_all), dtype=np.float32)) if prev is None else \
                            (prev[0].copy(), prev[1].copy(), prev[2].copy())
                        if parts:
                            adv_pred[todo] = np.concatenate([p[0] for p in parts])
                            loss[todo] = np.concatenate([p[1] for p in parts])
                            pert[todo] = np.concatenate([p[2] for p in parts])
                    mean_pert = None
                prev = (adv_pred, loss, pert)
                point = _point(name, kind, eps, label, norm, adv_pred, loss, pert, mean_pert, members, y_all, goal_all,
                               clean_pred, clean_correct, num_classes, config.targeted,
                               time.perf_counter() - started + (batched_share if batched is not None else 0.0), used,
                               examples if name not in A.MINIMAL else [],
                               {"loss": loss, "minimal": minimal, "members": dict(members)} if raw else None)
                members = point.members
                result.points.append(point)
                if members and on_log:
                    on_log(f"autoattack eps={label}: robust accuracy after " +
                           ", ".join(f"{k} {v:.4f}" for k, v in members.items()))
                done += 1
                if on_point:
                    on_point(point)
                if on_progress:
                    on_progress(done, total, f"{name} eps={label}: robust accuracy {point.robust_accuracy:.3f}")
    return result


def _pgd_sweep(target, config, name, norm, x_all, y_all, clean_correct, device, kind, check_cancelled, on_log,
               by_shard):
    """Every eps of a PGD sweep in one batched attack (per-sample eps) over the samples right clean.

    Returns (indices attacked, {eps: (pred, loss, norm, examples)}, batch size used)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from .device import run_in_batches

    levels = [e for e, _ in config.points_of(name)]
    todo = np.nonzero(clean_correct)[0]
    keep = config.examples if kind == "image" else 0
    # rows are (eps, sample): a chunk of b samples is E * b rows, so chunks shrink to keep the batch's memory
    per_chunk = max(1, config.batch_size // max(1, len(levels)) * 2)

    def chunk(a, b, todo, gen):
        if check_cancelled:
            check_cancelled()
        sel = todo[a:b]
        xb = torch.as_tensor(x_all[sel]).to(device)
        yb = torch.as_tensor(y_all[sel]).to(device)
        adv = A.pgd_sweep(target, xb, yb, levels, steps=config.steps, alpha=config.alpha, rel_alpha=config.rel_alpha,
                          norm=norm, random_start=config.random_start, generator=gen)
        out = []
        with torch.no_grad():
            for k in range(len(levels)):
                logits = target.logits(adv[k])
                pred = logits.argmax(1)
                broken = (pred != yb).nonzero().squeeze(1)[:keep]
                ex = [(int(sel[i]), x_all[sel[i]], adv[k][i].float().cpu().numpy()) for i in broken.tolist()]
                out.append((pred.cpu().numpy(), F.cross_entropy(logits, yb, reduction="none").cpu().numpy(),
                            A._flat_norm(adv[k] - xb, norm).cpu().numpy(), ex))
        return out

    parts, used = by_shard(todo, config.seed, lambda mine, gen: run_in_batches(
        len(mine), per_chunk, lambda a, b, mine=mine, gen=gen: chunk(a, b, mine, gen), device=device,
        on_halve=(lambda s: on_log(f"out of memory: batch size halved to {s}")) if on_log else None))
    used = used if parts else per_chunk
    result = {}
    for k, e in enumerate(levels):
        got = [p[k] for p in parts]
        result[e] = (np.concatenate([g[0] for g in got]) if got else np.zeros(0, np.int64),
                     np.concatenate([g[1] for g in got]) if got else np.zeros(0, np.float32),
                     np.concatenate([g[2] for g in got]) if got else np.zeros(0, np.float32),
                     [x for g in got for x in g[3]])
    return todo, result, used
