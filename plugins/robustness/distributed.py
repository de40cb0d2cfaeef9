"""The robustness sweep on a Ray cluster (``workbench robustness --ray``).

Tasks are (model version × attack × ε batch × data shard). Shards are the evaluation set's seeding
shards (``SweepConfig.shard_size`` samples, a constant of the run, never the number of workers): each
shard's random streams are seeded from (seed, shard) and no batch straddles two shards, in a local run
as on a worker, so every sample's outcome is the same wherever it is computed. An attack whose points
depend on each other (the cascade: a sample broken at a smaller ε is not attacked again at a larger
one; a minimal attack computed once for all ε) keeps its whole ε list in one batch; the others send
one task per ε. The driver joins the shards' per-sample outcomes and computes each point's figures
with the code a local run uses (``evaluate.merge_points``), so they equal the local run's exactly.
A task asks for a whole GPU where the run asks for CUDA.

What travels: the weights as safetensors bytes (one object reference, shared by every task, and the
model is rebuilt once per worker process), each shard's samples with the driver's clean outcome for
them (one object reference per shard, shared by the shard's tasks), the ``--arch`` file as source
text (written to a temporary file and imported on the worker: it runs there, as it runs here), and the
settings. Never a pickle of a user's object. The clean pass runs here; a point is committed as soon as
all its shards are back. Run again after its driver died, the same command takes the ε batches the
unfinished run stored completely and sends only the others.
"""

from __future__ import annotations

import os

from workbench.api import active_cluster as cluster, cluster_session as on_cluster  # noqa: F401 (used by cli, engine)


def _model_spec(loaded) -> tuple[dict, bytes]:
    """What rebuilds the model on a worker: the architecture by name or as source, the weights as
    safetensors bytes."""
    from safetensors.torch import save

    from .errors import RobustnessError

    arch = loaded.arch
    if not arch or loaded.format in ("torchscript", "onnx", "pickle"):
        raise RobustnessError(f"--ray: a {loaded.format} model cannot be rebuilt on a worker from safetensors "
                              "weights; give the weights with --arch (a built-in or FILE.py:Class)")
    spec = {"arch": arch, "arch_kwargs": dict(loaded.arch_kwargs or {}), "source": None}
    if ":" in arch and arch.rpartition(":")[0].endswith(".py"):
        path, _, name = arch.rpartition(":")
        with open(path, encoding="utf-8") as fh:
            spec["source"] = fh.read()
        spec["arch"] = name
        spec["file_name"] = os.path.basename(path)
    state = {k: v.detach().to("cpu").contiguous() for k, v in loaded.module.state_dict().items()}
    return spec, save(state)


def _rebuild(spec: dict, weights: bytes):
    import tempfile

    from safetensors.torch import load

    from . import models

    if spec["source"] is not None:
        # the file is needed only while it is imported: nothing of the user's is left on the worker
        with tempfile.TemporaryDirectory(prefix="wb-arch-") as folder:
            path = os.path.join(folder, spec["file_name"])
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(spec["source"])
            module = models.build_arch(f"{path}:{spec['arch']}", spec["arch_kwargs"])
    else:
        module = models.build_arch(spec["arch"], spec["arch_kwargs"])
    models._apply_state(module, load(weights), "weights sent by the driver")
    module.eval()
    return module


_MODEL: dict = {}  # this worker process's last model: {"digest": ..., "module": ...}
# the driver's figures of its last run (benchmarks/scale_out.py reads them)
LAST_RUN: dict = {}


def _cached_model(spec: dict, weights: bytes):
    """The model of *spec*, rebuilt once per worker process for all the tasks of a run."""
    if _MODEL.get("digest") != spec.get("digest"):
        _MODEL.clear()
        _MODEL.update(digest=spec.get("digest"), module=_rebuild(spec, weights))
    return _MODEL["module"]


def task_options(device: str | None) -> dict:
    """Ray resources of one sweep task: a whole GPU where the run asks for CUDA (a task's batches fill
    one), else one CPU."""
    return {"num_cpus": 1, "num_gpus": 1 if (device or "").startswith("cuda") else 0}


def eps_batches(config, name: str) -> list[list[tuple[float, str]]]:
    """An attack's (eps, label) points cut into the batches sent as separate tasks: all together where
    the points depend on each other (the cascade; a minimal attack found once for every eps), one
    point a task otherwise."""
    from . import attacks as A
    from .evaluate import cascades

    points = config.points_of(name)
    if cascades(config, name) or name in A.MINIMAL:
        return [points]
    return [[p] for p in points]


def _batch_config(config, name: str, batch):
    import dataclasses

    return dataclasses.replace(config, attacks=[name], eps=[e for e, _ in batch], eps_labels=[lab for _, lab in batch],
                               eps_by_norm=None)


def attack_task(spec: dict, weights: bytes, shard: dict, config, pre, device_args: dict, seed: int, offset: int,
                feature_std):
    """On a worker: one attack's batch of eps over one shard range, as a local run computes it there."""
    from . import device
    from .evaluate import sweep

    rd = device.select(**device_args)
    device.seed_everything(seed)
    module = _cached_model(spec, weights)
    points = sweep(module, shard["data"], config, pre, rd, clean=shard["clean"], offset=offset,
                   feature_std=feature_std, raw=True).points
    for p in points:  # the driver has these already
        p.samples = {"adv_pred": p.samples["adv_pred"], "norm": p.samples["norm"]}
    return points


def _stored_points(ctx, version: str, config) -> dict[tuple[str, str], object]:
    """Points of a previous run of the same command that did not finish (its driver died, it was
    cancelled or failed): {(attack, eps label): PointResult}. Rerunning the same command resumes: an
    eps batch whose every point is stored there is not sent again."""
    import numpy as np

    from . import store as S
    from .evaluate import PointResult

    store = ctx.store
    if store is None:
        return {}
    me = store.run(ctx.run_id)
    if me is None:
        return {}
    earlier = [r for r in store.runs(job=me.job, status=None)
               if r.id < ctx.run_id and r.status in ("interrupted", "cancelled", "failed")
               and r.params == me.params]
    if not earlier:
        return {}
    run_id = earlier[-1].id
    rows = {(r["attack"], r["eps_label"]): r for r in S.points(store, run_id) if r["model_version"] == version}
    out: dict = {}
    for name in config.attacks:
        for batch in eps_batches(config, name):
            if any((name, label) not in rows for _, label in batch):
                continue  # a batch's points are computed together: a partial one runs again
            for _, label in batch:
                r = rows[(name, label)]
                sm = S.samples(store, run_id, version, name, label)
                ex = S.examples(store, run_id, version, name, label)
                out[(name, label)] = PointResult(
                    attack=name, kind=r["kind"], eps=r["eps"], eps_label=label, norm=r["norm"],
                    robust_accuracy=r["robust_accuracy"], success_rate=r["success_rate"], mean_loss=r["mean_loss"],
                    mean_perturbation=r["mean_perturbation"], per_class=r["per_class"],
                    samples={"index": np.array([x["idx"] for x in sm]),
                             "clean_pred": np.array([x["clean_pred"] for x in sm]),
                             "adv_pred": np.array([x["adv_pred"] for x in sm]),
                             "norm": np.array([x["norm"] for x in sm], dtype=np.float32)},
                    seconds=r["seconds"], batch_size=r["batch_size"],
                    examples=[(x["idx"], x["x"], x["x_adv"]) for x in ex])
    if out:
        ctx.log(f"resuming run {run_id}: {len(out)} points already stored, not sent again")
    return out


def plan(config, n_samples: int, stored=()) -> list[tuple[tuple[int, int, int], str, list, tuple[int, int]]]:
    """The tasks of one model version: [((attack index, batch index, shard index), attack, batch,
    (start, stop))], the batches all of whose points are in *stored* left out."""
    from .evaluate import shard_bounds

    bounds = shard_bounds(n_samples, config.shard_size)
    out = []
    for i, name in enumerate(config.attacks):
        for j, batch in enumerate(eps_batches(config, name)):
            if all((name, label) in stored for _, label in batch):
                continue
            out.extend(((i, j, k), name, batch, ab) for k, ab in enumerate(bounds))
    return out


def run_sweep(params, ctx, loaded, eval_set, pre, rd, config, version: str):
    """The sweep of ``engine._run_sweep`` on the cluster; returns the same result."""
    import dataclasses
    import hashlib

    from . import store as S
    from .evaluate import merge_points, shard_bounds, sweep

    c = cluster()
    # the clean pass here: cheap, and it gives the run's result object, the stored clean outcome and
    # the clean losses every shard starts from
    clean = sweep(loaded.module, eval_set, dataclasses.replace(config, attacks=[]), pre, rd)
    if ctx.store is not None:
        S.save_clean(ctx.store, ctx.run_id, version, clean)
    ctx.log(f"{version}: clean accuracy {clean.clean_accuracy:.4f} on {len(clean.labels)} samples")
    num_classes = clean.settings["num_classes"]
    stored = _stored_points(ctx, version, config)
    tasks = plan(config, len(eval_set), stored)
    n_shards = len(shard_bounds(len(eval_set), config.shard_size))
    items = []
    if tasks:
        spec, weights = _model_spec(loaded)
        spec["digest"] = hashlib.sha256(weights).hexdigest()
        weights_ref = c.put(weights)
        feature_std = eval_set.x.std(axis=0, keepdims=True) if eval_set.kind == "tabular" else None
        shard_refs: dict = {}
        sent = 0
        device_args = {"override": params.device, "amp": params.amp, "threads": params.threads}
        for key, name, batch, (a, b) in tasks:
            if (a, b) not in shard_refs:
                part = eval_set.subset(slice(a, b))
                shard_refs[(a, b)] = c.put({"data": part, "clean": (clean.clean_pred[a:b], clean.clean_loss[a:b])})
                sent += part.x.nbytes + part.y.nbytes
            items.append((key, (spec, weights_ref, shard_refs[(a, b)], _batch_config(config, name, batch), pre,
                                device_args, params.seed, a, feature_std)))
        ctx.log(f"{version}: {len(items)} tasks over {n_shards} shards of {config.shard_size} samples; "
                f"{len(weights)} bytes of weights and {sent} bytes of samples put once")
        LAST_RUN.update(tasks=len(items), shards=n_shards, weights_bytes=len(weights), sample_bytes=sent)
    total = sum(len(config.points_of(n)) for n in config.attacks)
    done = 0
    merged: dict = {}     # (attack index, point index) -> PointResult
    waiting: dict = {}    # (attack index, batch index) -> {shard index: points}

    def commit(i, first, points):
        nonlocal done
        for n, point in enumerate(points):
            merged[(i, first + n)] = point
            if ctx.store is not None:
                S.save_point(ctx.store, ctx.run_id, version, point, eval_set.y)
            done += 1
            ctx.progress(done, total, f"{version}: {point.attack} eps={point.eps_label}: robust accuracy "
                                      f"{point.robust_accuracy:.3f}")

    for i, name in enumerate(config.attacks):  # what the unfinished run stored: committed again, not sent
        first = 0
        for batch in eps_batches(config, name):
            if all((name, label) in stored for _, label in batch):
                commit(i, first, [stored[(name, label)] for _, label in batch])
            first += len(batch)
    opts = task_options(params.device)
    for (i, j, k), points in c.run_tasks(attack_task, items, ctx=ctx, num_cpus=opts["num_cpus"],
                                         num_gpus=opts["num_gpus"]):
        got = waiting.setdefault((i, j), {})
        got[k] = points
        if len(got) < n_shards:
            continue
        del waiting[(i, j)]
        first = sum(len(b) for b in eps_batches(config, config.attacks[i])[:j])
        commit(i, first, [merge_points([got[s][p] for s in range(n_shards)], eval_set.y, clean.clean_pred,
                                       num_classes, config) for p in range(len(got[0]))])
    clean.points = [merged[key] for key in sorted(merged)]
    return clean
