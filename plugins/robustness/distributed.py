"""The robustness sweep on a Ray cluster (``workbench robustness --ray``).

One task per (model version × attack): the attack's whole ε list runs in one task, because the
sweep's cascade (a sample broken at a smaller ε is not attacked again at a larger one) and its
seeding (one generator per (attack, ε) point, seeded with the run's seed) make each attack's
points depend on each other, not on the other attacks. So every point equals the local run's.
A task asks for a GPU when the run asks for CUDA.

What travels: the weights as safetensors bytes (one object reference, shared by every task), the
evaluation set as arrays, the ``--arch`` file as source text (written to a temporary file and
imported on the worker: it runs there, as it runs here), and the settings. Never a pickle of a
user's object. The clean pass runs here; the points stream back and each is committed as it
arrives (as a local run commits each point). Run again after its driver died, the same command
takes the attacks the unfinished run stored completely and sends only the others.
"""

from __future__ import annotations

import itertools
import os

from workbench.api import active_cluster as cluster, cluster_session as on_cluster  # noqa: F401 (used by cli, jobs)


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
        folder = tempfile.mkdtemp(prefix="wb-arch-")
        path = os.path.join(folder, spec["file_name"])
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(spec["source"])
        module = models.build_arch(f"{path}:{spec['arch']}", spec["arch_kwargs"])
    else:
        module = models.build_arch(spec["arch"], spec["arch_kwargs"])
    models._apply_state(module, load(weights), "weights sent by the driver")
    module.eval()
    return module


def attack_task(spec: dict, weights: bytes, dataset, config, pre, device_args: dict, seed: int):
    """On a worker: the model rebuilt, one attack's ε list swept as a local run sweeps it."""
    from . import device
    from .evaluate import sweep

    rd = device.select(**device_args)
    device.seed_everything(seed)
    module = _rebuild(spec, weights)
    return sweep(module, dataset, config, pre, rd).points


def _stored_attacks(ctx, version: str, config) -> dict[str, list]:
    """Points of a previous run of the same command that did not finish (its driver died, it was
    cancelled or failed): {attack: its points} for each attack whose every point is stored there.
    Rerunning the same command resumes: those attacks are not sent again."""
    import numpy as np

    from . import store as S
    from .evaluate import PointResult

    store = ctx.store
    if store is None:
        return {}
    me = store.run(ctx.run_id)
    if me is None:
        return {}
    earlier = [r for r in store.runs(job=me["job"], status=None)
               if r["id"] < ctx.run_id and r["status"] in ("interrupted", "cancelled", "failed")
               and r["params"] == me["params"]]
    if not earlier:
        return {}
    run_id = earlier[-1]["id"]
    rows = [r for r in S.points(store, run_id) if r["model_version"] == version]
    out: dict[str, list] = {}
    for name in config.attacks:
        want = [label for _, label in config.points_of(name)]
        have = {r["eps_label"]: r for r in rows if r["attack"] == name}
        if not want or any(label not in have for label in want):
            continue  # an attack's points are computed together: a partial one runs again
        points = []
        for label in want:
            r = have[label]
            sm = S.samples(store, run_id, version, name, label)
            ex = S.examples(store, run_id, version, name, label)
            points.append(PointResult(
                attack=name, kind=r["kind"], eps=r["eps"], eps_label=label, norm=r["norm"],
                robust_accuracy=r["robust_accuracy"], success_rate=r["success_rate"], mean_loss=r["mean_loss"],
                mean_perturbation=r["mean_perturbation"], per_class=r["per_class"],
                samples={"index": np.array([x["idx"] for x in sm]),
                         "clean_pred": np.array([x["clean_pred"] for x in sm]),
                         "adv_pred": np.array([x["adv_pred"] for x in sm]),
                         "norm": np.array([x["norm"] for x in sm], dtype=np.float32)},
                seconds=r["seconds"], batch_size=r["batch_size"],
                examples=[(x["idx"], x["x"], x["x_adv"]) for x in ex]))
        out[name] = points
    if out:
        ctx.log(f"resuming run {run_id}: {', '.join(out)} already stored, not sent again")
    return out


def run_sweep(params, ctx, loaded, eval_set, pre, rd, config, version: str):
    """The sweep of ``jobs._run_sweep`` with the attacks on the cluster; returns the same result."""
    import dataclasses

    from . import store as S
    from .evaluate import sweep

    c = cluster()
    # the clean pass here: cheap, and it gives the run's result object and the stored clean outcome
    clean = sweep(loaded.module, eval_set, dataclasses.replace(config, attacks=[]), pre, rd)
    if ctx.store is not None:
        S.save_clean(ctx.store, ctx.run_id, version, clean)
    ctx.log(f"{version}: clean accuracy {clean.clean_accuracy:.4f} on {len(clean.labels)} samples")
    spec, weights = _model_spec(loaded)
    weights_ref, data_ref = c.put(weights), c.put(eval_set)
    device_args = {"override": params.device, "amp": params.amp, "threads": params.threads}
    gpus = 1 if (params.device or "").startswith("cuda") else 0
    stored = _stored_attacks(ctx, version, config)
    items = [((i, name), (spec, weights_ref, data_ref, dataclasses.replace(config, attacks=[name]), pre,
                          device_args, params.seed))
             for i, name in enumerate(config.attacks) if name not in stored]
    total = sum(len(config.points_of(n)) for n in config.attacks)
    by_attack: dict[int, list] = {}
    done = 0
    resumed = [((i, name), stored[name]) for i, name in enumerate(config.attacks) if name in stored]
    for (i, name), points in itertools.chain(resumed, c.run_tasks(attack_task, items, ctx=ctx, num_gpus=gpus)):
        by_attack[i] = points
        for point in points:
            if ctx.store is not None:
                S.save_point(ctx.store, ctx.run_id, version, point, eval_set.y)
            done += 1
            ctx.progress(done, total, f"{version}: {name} eps={point.eps_label}: robust accuracy "
                                      f"{point.robust_accuracy:.3f}")
    clean.points = [p for i in sorted(by_attack) for p in by_attack[i]]
    return clean
