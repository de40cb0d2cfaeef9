"""The plugin's jobs: ``robustness`` (a sweep) and ``harden`` (sweep, fine-tune, export, sweep again).

Both are ``run(params, ctx) -> summary``. Every finished point is committed
(plugin tables + the metric ``robust_accuracy/<version>/<attack>`` with
epsilon as x) before the next starts, and every hardening epoch likewise
(``harden/loss``, ``harden/accuracy`` with the epoch as x), so a cancel keeps
what finished. ``ctx.check_cancelled()`` is called between batches.

For ``harden`` on user data, the data is split by a seeded permutation:
70 % to fine-tune on, the other 30 % to evaluate before and after. The demo
uses the digits train and test splits.
"""

from __future__ import annotations

import os

from .errors import RobustnessError
from .params import DEMO_TARGET


def _setup(params, ctx, *, split: bool):
    import numpy as np

    from . import data, device, models
    from .preprocess import Preprocessing

    rd = device.select(params.device, amp=params.amp, threads=params.threads)
    seeds = device.seed_everything(params.seed)
    if params.target == DEMO_TARGET:
        ctx.log("training the built-in digits CNN (a few seconds)")
        loaded, train_set, eval_set = models.demo_model(seed=params.seed, epochs=params.demo_epochs,
                                                        device=rd.device)
        loaded.module.to("cpu")
    else:
        loaded = models.load_model(params.target, arch=params.arch, arch_kwargs=params.arch_kwargs,
                                   trust_imports=params.trust_import)
        for note in loaded.notes:
            ctx.log(note)
        if loaded.trusted and ctx.store is not None:
            ctx.store.log_event("trusted_model", f"loaded {params.target} as trusted ({loaded.format})",
                                {"path": params.target, "notes": loaded.notes})
        # per-feature bounds are checked by the sweep's projection; the scalar range is checked here
        full = data.load(params.data, target=params.target_column,
                         input_range=None if params.lower is not None else tuple(params.input_range))
        if split:
            order = np.random.default_rng(params.seed).permutation(len(full))
            cut = int(round(len(full) * 0.7))
            train_set, eval_set = full.subset(order[:cut]), full.subset(order[cut:])
        else:
            train_set, eval_set = None, full
    if params.limit:
        eval_set = eval_set.subset(slice(0, params.limit))
    pre = Preprocessing(input_range=tuple(params.input_range), mean=list(params.mean), std=list(params.std),
                        immutable=list(params.immutable), lower=params.lower, upper=params.upper)
    return rd, seeds, loaded, train_set, eval_set, pre


def _sweep_config(params):
    from .evaluate import SweepConfig

    return SweepConfig(attacks=list(params.attacks), eps=[float(e) for e in params.eps], eps_labels=list(params.eps),
                       steps=params.steps, alpha=params.step_size, restarts=params.restarts,
                       targeted=params.targeted, batch_size=params.batch_size, seed=params.seed,
                       square_queries=params.square_queries, p_init=params.p_init,
                       random_start=params.random_start, norm=params.norm, ensemble=params.ensemble,
                       apgd_iter=params.apgd_iter, eps_by_norm=params.eps_by_norm)


def _run_sweep(params, ctx, module, eval_set, pre, rd, version: str, offset: int = 0, total: int | None = None):
    from . import store as S
    from .evaluate import sweep

    config = _sweep_config(params)
    n_points = sum(len(config.points_of(a)) for a in config.attacks)  # an eps list per threat model
    total = total or n_points

    def on_clean(result):
        if ctx.store is not None:
            S.save_clean(ctx.store, ctx.run_id, version, result)
        ctx.log(f"{version}: clean accuracy {result.clean_accuracy:.4f} on {len(result.labels)} samples")

    def on_point(point):
        if ctx.store is not None:
            S.save_point(ctx.store, ctx.run_id, version, point, eval_set.y)

    def on_progress(done, _total, message):
        ctx.progress(offset + done, total, f"{version}: {message}")

    return sweep(module, eval_set, config, pre, rd, on_point=on_point, on_progress=on_progress,
                 check_cancelled=ctx.check_cancelled, on_log=ctx.log, on_clean=on_clean)


def _worst_case(result, norm: str) -> dict[float, float]:
    """{eps: robust accuracy under the worst case per sample} over the attack points of one threat model."""
    from .score import worst_case

    rows = []
    right = result.clean_pred == result.labels
    for p in result.points:
        if p.kind == "attack" and p.norm == norm:
            ok = right & (p.samples["adv_pred"] == result.labels)
            rows.extend((p.eps, i, bool(v)) for i, v in enumerate(ok))
    return worst_case(len(result.labels), rows)


def _summary(result, params, protocol: dict | None = None) -> dict:
    """The run's figures; ``score`` is R under ``protocol`` (the project's), None when the run does not cover it."""
    from . import score as R

    success: dict[str, dict[str, float]] = {}
    perturbation: dict[str, dict[str, float]] = {}
    shifts: dict[str, dict[str, float]] = {}
    for p in result.points:
        success.setdefault(p.attack, {})[p.eps_label] = p.success_rate
        perturbation.setdefault(p.attack, {})[p.eps_label] = p.mean_perturbation
        if p.kind == "corruption":
            shifts.setdefault(p.attack, {})[p.eps_label] = p.robust_accuracy
    pdict = params.__dict__ if hasattr(params, "__dict__") else dict(params)
    own = R.run_protocol(pdict)
    protocol = protocol or own
    worst: dict[str, dict[str, float]] = {}
    for norm in ("linf", "l2"):
        wc = _worst_case(result, norm)
        labels = {float(e): e for e in R.eps_of(pdict, norm)}
        if wc:
            worst[norm] = {labels.get(e, repr(e)): v for e, v in sorted(wc.items())}
    ok, why = R.comparable(protocol, pdict) if protocol else (False, "no adversarial attack")
    value = R.r_of(protocol, _worst_case(result, protocol["norm"])) if ok else None
    main = (own or protocol or {}).get("norm", "linf")
    return {"clean_accuracy": result.clean_accuracy, "robust_accuracy": result.robust_accuracy(),
            "success_rate": success, "mean_perturbation": perturbation,
            "worst_case_accuracy": worst.get(main, {}), "worst_case_by_norm": worst,
            "score": value, "protocol": {**(protocol or {}), "text": R.describe(protocol), "comparable": ok,
                                         "why_not": why},
            "natural_shifts": shifts, "samples": int(len(result.labels))}


def _project_protocol(params, ctx) -> dict | None:
    """The project's protocol; the first run (or one with set_protocol) sets it to its own."""
    from . import score as R
    from . import store as S

    own = R.run_protocol(params.__dict__)
    if ctx.store is None:
        return own
    current = S.protocol(ctx.store)
    if own is not None and (current is None or params.set_protocol):
        S.set_protocol(ctx.store, own, ctx.run_id)
        ctx.log(f"project protocol set: {R.describe(own)}")
        return own
    return current


def _describe(params, loaded, rd, seeds) -> dict:
    # shard_size with the seeds: each shard of that many samples has its own random streams, so a set
    # larger than one shard gives other (seeded) numbers than a run made before per-shard seeding
    return {"model": params.target, "format": loaded.format, "arch": loaded.arch,
            "data": params.data or "sklearn digits (test split)", "device": rd.describe(),
            "seeds": {**seeds, "shard_size": _sweep_config(params).shard_size}}


def run_sweep(params, ctx) -> dict:
    """The ``robustness`` job."""
    rd, seeds, loaded, _, eval_set, pre = _setup(params, ctx, split=False)
    from . import distributed

    if distributed.cluster() is not None:  # --ray: tasks per attack × ε batch × data shard, the same points
        result = distributed.run_sweep(params, ctx, loaded, eval_set, pre, rd, _sweep_config(params), params.label)
    else:
        result = _run_sweep(params, ctx, loaded.module, eval_set, pre, rd, params.label)
    protocol = _project_protocol(params, ctx)
    return {**_describe(params, loaded, rd, seeds), "model_version": params.label,
            **_summary(result, params, protocol)}


def _save_whole(models, loaded, out: str, extra: dict) -> None:
    """Write the weights beside *out* and rename them into place: a full disk is an error naming
    *out*, an earlier file of that name is left whole, and no temporary file stays."""
    from workbench.api import atomic_path

    try:
        with atomic_path(out) as tmp:
            models.save_safetensors(loaded.module, tmp, loaded.arch, loaded.arch_kwargs, extra)
    except BaseException as exc:
        # safetensors reports a failed write as SafetensorError("... I/O error: File too large (os error 27)")
        if isinstance(exc, OSError) or "I/O error" in str(exc):
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RobustnessError(f"{out}: cannot write the hardened weights ({why}); the previous file, "
                                  "if any, is unchanged") from exc
        raise


def _export(params, ctx, loaded, history) -> str:
    import tempfile

    from . import models

    extra = {"hardened_method": params.method, "hardened_eps": params.harden_eps, "epochs": len(history)}
    if params.output:
        out = params.output
    elif params.target != DEMO_TARGET:
        stem = os.path.splitext(params.target)[0]
        out = f"{stem}.hardened-{params.method}.safetensors"
    else:
        out = None
    if out is not None:
        if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise RobustnessError(f"{out}: the folder does not exist")
        _save_whole(models, loaded, out, extra)
    if ctx.store is not None:
        # The hardened weights also go into the project, so the report's model is never lost.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "hardened.safetensors")
            models.save_safetensors(loaded.module, path, loaded.arch, loaded.arch_kwargs, extra)
            with open(path, "rb") as fh:
                ctx.store.add_artifact("model", f"hardened-{params.method}.safetensors", fh.read(), run_id=ctx.run_id)
    return out or "(stored in the project as an artifact)"


def run_harden(params, ctx) -> dict:
    """The ``harden`` job: sweep the model, fine-tune it, export safetensors, sweep the hardened model."""
    from . import store as S
    from .harden import HardenConfig, harden

    rd, seeds, loaded, train_set, eval_set, pre = _setup(params, ctx, split=True)
    n_points = sum(len(_sweep_config(params).points_of(a)) for a in params.attacks)
    total = 2 * n_points + params.epochs
    before = _run_sweep(params, ctx, loaded.module, eval_set, pre, rd, "original", 0, total)

    def on_epoch(epoch, loss, acc):
        if ctx.store is not None:
            S.save_epoch(ctx.store, ctx.run_id, epoch, loss, acc)
        ctx.progress(n_points + epoch + 1, total, f"epoch {epoch + 1}/{params.epochs}: loss {loss:.4f}, "
                                                  f"accuracy {acc:.4f}")

    config = HardenConfig(method=params.method, eps=params.harden_eps, epochs=params.epochs, lr=params.lr,
                          steps=params.train_steps, mix=params.mix, batch_size=min(params.batch_size, 128),
                          seed=params.seed)
    history = harden(loaded.module, train_set, config, pre, rd, on_epoch=on_epoch, check_cancelled=ctx.check_cancelled)
    output = _export(params, ctx, loaded, history)
    after = _run_sweep(params, ctx, loaded.module, eval_set, pre, rd, "hardened", n_points + params.epochs, total)
    protocol = _project_protocol(params, ctx)
    summary = {**_describe(params, loaded, rd, seeds), "model_version": "hardened",
               **_summary(after, params, protocol)}
    summary["before"] = _summary(before, params, protocol)
    summary["history"] = [{"epoch": e, "loss": l, "accuracy": a} for e, l, a in history]
    summary["hardening"] = config.describe()
    summary["output"] = output
    return summary
