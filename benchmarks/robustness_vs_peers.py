"""PGD-L∞ over scikit-learn's digits: ours against torchattacks and IBM ART, in the same run.

    python benchmarks/robustness_vs_peers.py [-n RUNS] [--device cpu|cuda|mps] [--amp bf16|fp16] [--threads N]
    python benchmarks/robustness_vs_peers.py --sweep [-n RUNS] [--threads 1]

Setting (the issue's): eps 0.1, 10 steps of 0.025, random start, batch 256, all
1,797 digits (8x8, in [0, 1]), the workbench's digits CNN trained first with a
fixed seed. Each tool turns every image into an adversarial one and the
model's accuracy on them is the robust accuracy. Each timing covers the attack
and the final prediction; the median of RUNS runs is printed, then the ratios,
by wall-clock time and by this process's CPU time (steadier on a shared
machine, and with --threads 1 the same measure of work).
Our run puts a CNN's weights in channels-last order on the CPU (same outputs,
faster pooling and convolution); the peers get the same layout (the model is
converted once, before any tool runs), so the comparison is of the attacks, not
of the memory layout.

--sweep: a 5-epsilon PGD sweep (eps 0.02, 0.05, 0.1, 0.15, 0.2; 10 steps of
eps/4; random start): the workbench's sweep (samples wrong clean are not
attacked, samples broken at a smaller eps are not attacked again at larger
ones, and a sample stops once broken) against torchattacks running the five
PGD attacks one after the other over all samples. Robust accuracy per eps is
printed for both (they differ only by the random start's noise; ours can only
be lower or equal for a given draw).
A peer that is not installed is reported as missing, not silently skipped.
With --amp, only our attack uses autocast (torchattacks and ART have none).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

EPS, STEPS, ALPHA, BATCH = 0.1, 10, 0.025, 256


def setup(device_name, amp, threads):
    import numpy as np
    import torch

    from workbench_plugins.robustness import data, device, models

    rd = device.select(device_name, amp=amp, threads=threads)
    train_set, test_set = data.digits(seed=0)
    from workbench_plugins.robustness.evaluate import to_channels_last

    torch.manual_seed(0)
    module = models.train(models.digits_cnn(), train_set, epochs=15, seed=0)
    if rd.device.type == "cpu":
        to_channels_last(module)  # every tool gets the layout our run would give it
    x = np.concatenate([train_set.x, test_set.x])
    y = np.concatenate([train_set.y, test_set.y])
    return rd, module.to(rd.device).eval(), x, y


SWEEP = (0.02, 0.05, 0.1, 0.15, 0.2)


def ours_sweep(rd, module, x, y, seed):
    from workbench_plugins.robustness.data import Dataset
    from workbench_plugins.robustness.evaluate import SweepConfig, sweep
    from workbench_plugins.robustness.preprocess import Preprocessing

    cfg = SweepConfig(attacks=["pgd"], eps=list(SWEEP), steps=STEPS, rel_alpha=0.25, batch_size=BATCH, seed=seed,
                      examples=0)
    res = sweep(_own_copy(module), Dataset(x, y, "image", "digits"), cfg, Preprocessing(), rd)
    return [res.robust_accuracy()["pgd"][repr(e)] for e in SWEEP]


def torchattacks_sweep(rd, module, x, y, seed):
    import torch
    import torchattacks

    torch.manual_seed(seed)
    out = []
    for eps in SWEEP:
        attack = torchattacks.PGD(module, eps=eps, alpha=eps / 4, steps=STEPS, random_start=True)
        out.append(_torchattacks_accuracy(rd, module, attack, x, y))
    return out


def _torchattacks_accuracy(rd, module, attack, x, y) -> float:
    """Accuracy of *module* on torchattacks' adversarial examples, batch by batch."""
    import torch

    correct = 0
    for a in range(0, len(y), BATCH):
        xb = torch.as_tensor(x[a:a + BATCH]).to(rd.device)
        yb = torch.as_tensor(y[a:a + BATCH]).to(rd.device)
        adv = attack(xb, yb)
        with torch.no_grad():
            correct += int((module(adv).argmax(1) == yb).sum())
    return correct / len(y)


_COPIES: dict = {}


def _own_copy(module):
    import copy

    if id(module) not in _COPIES:
        _COPIES[id(module)] = copy.deepcopy(module)
    return _COPIES[id(module)]


def ours(rd, module, x, y, seed):
    import torch

    from workbench_plugins.robustness import attacks as A
    from workbench_plugins.robustness.data import Dataset
    from workbench_plugins.robustness.evaluate import make_target
    from workbench_plugins.robustness.preprocess import Preprocessing

    module = _own_copy(module)
    correct = 0
    with A.frozen(module):
        target = make_target(module, Dataset(x, y, "image", "digits"), Preprocessing(), rd)
        gen = torch.Generator().manual_seed(seed)
        for a in range(0, len(y), BATCH):
            xb = torch.as_tensor(x[a:a + BATCH]).to(rd.device)
            yb = torch.as_tensor(y[a:a + BATCH]).to(rd.device)
            adv = A.pgd(target, xb, yb, EPS, steps=STEPS, alpha=ALPHA, generator=gen)
            with torch.no_grad():
                correct += int((target.logits(adv).argmax(1) == yb).sum())
    return correct / len(y)


def with_torchattacks(rd, module, x, y, seed):
    import torch
    import torchattacks

    attack = torchattacks.PGD(module, eps=EPS, alpha=ALPHA, steps=STEPS, random_start=True)
    torch.manual_seed(seed)
    return _torchattacks_accuracy(rd, module, attack, x, y)


def with_art(rd, module, x, y, seed):
    import numpy as np
    import torch
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(model=module, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(x.shape[1:]),
                            nb_classes=10, clip_values=(0.0, 1.0),
                            device_type="gpu" if rd.device.type == "cuda" else "cpu")
    attack = ProjectedGradientDescent(clf, norm=np.inf, eps=EPS, eps_step=ALPHA, max_iter=STEPS,
                                      num_random_init=1, batch_size=BATCH, verbose=False)
    np.random.seed(seed)
    adv = attack.generate(x=x, y=np.eye(10, dtype=np.float32)[y])
    pred = clf.predict(adv, batch_size=BATCH).argmax(1)
    return float(np.mean(pred == y))


def sync(rd) -> None:
    if rd.device.type == "cuda":
        import torch

        torch.cuda.synchronize()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--device", default=None)
    ap.add_argument("--amp", choices=("bf16", "fp16"))
    ap.add_argument("--threads", type=int)
    ap.add_argument("--sweep", action="store_true", help="a 5-epsilon PGD sweep against torchattacks' five attacks")
    args = ap.parse_args(argv)

    rd, module, x, y = setup(args.device, args.amp, args.threads)
    if args.sweep:
        print(f"PGD-Linf sweep eps={SWEEP} steps={STEPS} alpha=eps/4 batch={BATCH}, {len(y)} digits, "
              f"device {rd.device} amp={rd.amp} threads={rd.threads}, channels-last for every tool")
        tools = {"ours": ours_sweep, "torchattacks": torchattacks_sweep}
    else:
        print(f"PGD-Linf eps={EPS} steps={STEPS} alpha={ALPHA} batch={BATCH}, {len(y)} digits, "
              f"device {rd.device} amp={rd.amp} threads={rd.threads}, channels-last for every tool")
        tools = {"ours": ours, "torchattacks": with_torchattacks, "ART": with_art}
    ready = {}
    for name, fn in tools.items():
        try:
            fn(rd, module, x[:BATCH], y[:BATCH], 0)  # warm-up (and import) outside the timing
            ready[name] = fn
        except ImportError as exc:
            print(f"{name:13s} not installed ({exc}); left out")
    times = {name: [] for name in ready}
    cpu = {name: [] for name in ready}
    accs = {name: [] for name in ready}
    # Round-robin with the starting tool rotated each round, so that a busy moment on a shared
    # machine (or a warm cache after one tool) favours no one.
    names = list(ready)
    for run in range(args.runs):
        for name in names[run % len(names):] + names[:run % len(names)]:
            fn = ready[name]
            sync(rd)
            t0, c0 = time.perf_counter(), time.process_time()
            accs[name].append(fn(rd, module, x, y, run))
            sync(rd)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    results = {}
    for name in ready:
        med = statistics.median(times[name])
        if args.sweep:  # one robust accuracy per eps: the median over runs of each
            per_eps = [statistics.median(a[k] for a in accs[name]) for k in range(len(SWEEP))]
            accs[name] = [sum(a) / len(a) for a in accs[name]]
            print(f"{name:13s} median {med:7.3f} s  CPU {statistics.median(cpu[name]):7.3f} s  robust accuracy "
                  + "  ".join(f"eps {e}: {v:.4f}" for e, v in zip(SWEEP, per_eps)))
        results[name] = (med, len(y) / med, accs[name], statistics.median(cpu[name]))
        if args.sweep:
            continue
        print(f"{name:13s} median {med:7.3f} s  {len(y) / med:9.0f} images/s  "
              f"CPU {statistics.median(cpu[name]):7.3f} s  "
              f"robust accuracy {statistics.median(accs[name]):.4f} "
              f"(runs: {', '.join(f'{a:.4f}' for a in accs[name])})")
    if "ours" in results:
        for name, (med, _, accs, cpu_med) in results.items():
            if name == "ours":
                continue
            speed = med / results["ours"][0]
            cpu_speed = cpu_med / results["ours"][3]
            diff = statistics.median(results["ours"][2]) - statistics.median(accs)
            print(f"ours vs {name}: {speed:.2f}x the speed (wall), {cpu_speed:.2f}x (CPU time), "
                  f"robust accuracy difference {100 * diff:+.2f} points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
