"""Scale-out on Ray: the audit and the robustness sweep with 1 and 2 Ray workers against the local run.

On this machine (loopback only): a local Ray instance with 1 CPU, then one with 2 CPUs; for each,
the same work as the local run, N times, medians printed. Measured:

- throughput (files/s for the audit, points/s for the sweep) and efficiency per worker
  (throughput on n workers / (n × local single-process throughput));
- the per-task cost of Ray itself (an empty task's round trip), the data moved per task
  (bytes the driver put in the object store / tasks);
- then, on paper, from those per-task figures: a sweep on 8 GPUs, an audit of 100 repositories.

The audit runs cold (fresh project, empty cache) every time; the local audit runs with ``--workers 1``
so that "local" is one process, the unit the efficiency compares with.

    python benchmarks/scale_out.py [-n 3] [--files 240] [--samples 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_tree(root: str, files: int) -> str:
    rnd = random.Random(1)
    for i in range(files):
        pkg = os.path.join(root, f"pkg{i // 30}")
        os.makedirs(pkg, exist_ok=True)
        body = ["import pickle, subprocess", ""]
        for j in range(rnd.randint(5, 60)):
            body += [f"def f{j}(d):", f"    subprocess.call('run{j} ' + d, shell=True)",
                     f"    return pickle.loads(d + b'{j}')", ""]
        with open(os.path.join(pkg, f"m{i}.py"), "w") as fh:
            fh.write("\n".join(body) + f"\npassword = 'hunter{i}x!'\n")
    return root


def audit_once(tree: str, ray: str | None, tmp: str) -> tuple[float, dict]:
    from workbench.cli import main

    proj = tempfile.mktemp(suffix=".wbproj", dir=tmp)
    out = proj + ".json"
    argv = ["audit", tree, "-p", proj, "--summary-json", out, "--no-models"]
    argv += ["--ray", ray] if ray else ["--workers", "1"]
    t = time.perf_counter()
    assert main(argv) == 0
    return time.perf_counter() - t, json.load(open(out))


def sweep_once(model: dict, ray: str | None, tmp: str) -> tuple[float, dict]:
    from workbench.cli import main

    proj = tempfile.mktemp(suffix=".wbproj", dir=tmp)
    out = proj + ".json"
    argv = ["robustness", "--model", model["weights"], "--arch", model["arch"], "--data", model["data"],
            "--attack", "fgsm,pgd,gaussian_noise,square", "--eps", "0.05,0.1", "--steps", "10",
            "--queries", "100", "--device", "cpu", "--threads", "1", "-p", proj, "--summary-json", out]
    argv += ["--ray", ray] if ray else []
    t = time.perf_counter()
    assert main(argv) == 0
    return time.perf_counter() - t, json.load(open(out))


def make_model(tmp: str, samples: int) -> dict:
    import numpy as np
    import torch

    from workbench_plugins.robustness import data, models

    train, test = data.digits(seed=0)
    torch.manual_seed(0)
    module = models.digits_cnn()
    models.train(module, train, epochs=3, seed=0)
    weights = os.path.join(tmp, "cnn.safetensors")
    models.save_safetensors(module, weights, "digits_cnn")
    npz = os.path.join(tmp, "digits.npz")
    np.savez(npz, x=test.x[:samples], y=test.y[:samples])
    return {"weights": weights, "arch": "digits_cnn", "data": npz}


def task_overhead(c, n: int = 200) -> float:
    """Seconds per empty task, submitted in a batch and waited for (the scheduler's cost)."""
    t = time.perf_counter()
    list(c.run_tasks(_noop, [(i, (i,)) for i in range(n)], max_in_flight=64))
    return (time.perf_counter() - t) / n


def _noop(x):
    return x


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=3, help="repeats (medians)")
    ap.add_argument("--files", type=int, default=240)
    ap.add_argument("--samples", type=int, default=300)
    args = ap.parse_args()
    from workbench.core import cluster

    tmp = tempfile.mkdtemp(prefix="wb-scale-")
    tree = make_tree(os.path.join(tmp, "tree"), args.files)
    model = make_model(tmp, args.samples)
    rows = {}
    t_local = [audit_once(tree, None, tmp) for _ in range(args.n)]
    s_local = [sweep_once(model, None, tmp) for _ in range(args.n)]
    files = t_local[0][1]["files"]
    points = 4 * 2
    rows["local"] = (statistics.median(t for t, _ in t_local), statistics.median(t for t, _ in s_local), None, None)
    reference = (t_local[0][1]["findings"], s_local[0][1]["robust_accuracy"])
    per_task = {}
    for workers in (1, 2):
        c = cluster.start_local(num_cpus=workers)
        try:
            audit_once(tree, "local", tmp)  # warm the workers' imports (bandit, torch) once
            sweep_once(model, "local", tmp)
            b0, k0 = c.bytes_out, c.tasks_submitted
            ta = [audit_once(tree, "local", tmp) for _ in range(args.n)]
            b1, k1 = c.bytes_out, c.tasks_submitted
            ts = [sweep_once(model, "local", tmp) for _ in range(args.n)]
            b2, k2 = c.bytes_out, c.tasks_submitted
            assert all(s["findings"] == reference[0] for _, s in ta), "audit on Ray differs from local"
            assert all(s["robust_accuracy"] == reference[1] for _, s in ts), "sweep on Ray differs from local"
            overhead = task_overhead(c)
            rows[f"ray x{workers}"] = (statistics.median(t for t, _ in ta), statistics.median(t for t, _ in ts),
                                       overhead, ((b1 - b0) / max(1, k1 - k0), (b2 - b1) / max(1, k2 - k1),
                                                  (k1 - k0) / args.n, (k2 - k1) / args.n))
            per_task[workers] = rows[f"ray x{workers}"]
        finally:
            cluster.release()

    la, ls, _, _ = rows["local"]
    print(f"\naudit: {files} files; sweep: {points} points (4 attacks x 2 eps) on {args.samples} digits; "
          f"medians of {args.n}; results identical to the local run (checked)")
    print(f"{'run':10s} {'audit s':>8s} {'files/s':>8s} {'eff/worker':>10s} {'sweep s':>8s} {'points/s':>8s} "
          f"{'eff/worker':>10s}")
    for name, (a, s, _, _) in rows.items():
        n = 1 if name == "local" else int(name[-1])
        print(f"{name:10s} {a:8.2f} {files / a:8.1f} {la / (a * n):10.2f} {s:8.2f} {points / s:8.2f} "
              f"{ls / (s * n):10.2f}")
    ov, (abytes, sbytes, atasks, stasks) = per_task[2][2], per_task[2][3]
    print(f"\nper task (2 workers): Ray's own cost {ov * 1000:.1f} ms (empty task); "
          f"audit {atasks:.0f} tasks/run, {abytes / 1024:.0f} KiB moved per task; "
          f"sweep {stasks:.0f} tasks/run, {sbytes / 1024:.0f} KiB moved per task (weights once per run)")
    # on paper, from the measured per-task figures
    a2 = per_task[2][0]
    per_file = a2 * 2 / files  # worker-seconds per file on the cluster
    s2 = per_task[2][1]
    per_point = s2 * 2 / points
    print("\non paper (linear in the measured per-task costs; the driver's walk, hashing and commits serial):")
    print(f"  100 repositories of {files} files: {per_file * 1000:.0f} ms of worker time per file here (wall x "
          f"workers / files, driver included) -> {per_file * files * 100:.0f} worker-s in all, "
          f"/ W workers + {ov * 1000:.1f} ms per task of Ray overhead ({atasks:.0f} tasks of {abytes / 1024:.0f} KiB "
          "per repository); a re-audit sends only changed files (per-file cache on the driver)")
    print(f"  8 models x 4 attacks x 2 eps on 8 GPUs: 32 tasks (model x attack) in 4 waves; here {per_point:.2f} "
          "worker-s per point on the CPU; on GPUs the per-point time is the GPU's, and each model's weights "
          f"travel once ({sbytes / 1024:.0f} KiB per task here)")
    print("  1 B rows (anonymise): workers send back only the distinct quasi-identifier tuples with counts, so the "
          "driver's search is bounded by the number of distinct tuples, not rows; the apply phase still runs on "
          "the driver: not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
