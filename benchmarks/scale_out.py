"""Scale-out on Ray: the audit, the robustness sweep and the anonymisation with 1 and 2 Ray workers
against the local run.

On this machine (loopback only): a local Ray instance with 1 CPU, then one with 2 CPUs; for each,
the same work as the local run, N times, medians printed. Measured:

- throughput (files/s for the audit, points/s for the sweep, rows/s for the anonymisation) and
  efficiency per worker (throughput on n workers / (n × local single-process throughput));
- the per-task cost of Ray itself (an empty task's round trip), the data moved per task
  (bytes put in the object store / tasks; the sweep's tasks are attack × eps batch × seeding shard,
  ``--shard-size`` samples a shard; the anonymisation's are count + apply per byte range);
- then, on paper, from those per-task figures: a sweep on 8 GPUs, an audit of 100 repositories,
  the anonymisation of 1 B rows.

The audit runs cold (fresh project, empty cache) every time; the local audit runs with ``--workers 1``
so that "local" is one process, the unit the efficiency compares with.

    python benchmarks/scale_out.py [-n 3] [--files 240] [--samples 300] [--shard-size 100] [--rows 100000]
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


def make_people(tmp: str, rows: int) -> tuple[str, object]:
    """A CSV of *rows* people (an email to pseudonymise, three quasi-identifiers with hierarchy files)
    and its policy: k = 5, 2 % suppression."""
    from workbench_plugins.anonymise.engine import Policy

    rnd = random.Random(3)
    zips = [f"{rnd.randint(10, 99)}{rnd.randint(100, 999)}" for _ in range(300)]
    path = os.path.join(tmp, "people.csv")
    with open(path, "w") as fh:
        fh.write("email,age,zip,sex,disease\n")
        for i in range(rows):
            fh.write(f"p{i}@example.org,{rnd.randint(18, 89)},{rnd.choice(zips)},{rnd.choice('FM')},"
                     f"{rnd.choice(['flu', 'cold', 'none', 'asthma'])}\n")
    hier = {}
    for col, lines in (("age", [f"{a};{a // 5 * 5}-{a // 5 * 5 + 4};{a // 10 * 10}-{a // 10 * 10 + 9};*"
                                for a in range(18, 90)]),
                       ("zip", [f"{z};{z[:3]}**;{z[:1]}****;*" for z in sorted(set(zips))]),
                       ("sex", ["F;*", "M;*"])):
        hier[col] = os.path.join(tmp, f"{col}.csv")
        with open(hier[col], "w") as fh:
            fh.write("\n".join(lines) + "\n")
    policy = Policy(columns={"email": {"role": "direct_identifier", "transform": "pseudonymise"}}, qi=hier, k=5,
                    suppression=0.02, keep_order=True)
    return path, policy


def anonymise_once(path: str, policy, ray: bool, tmp: str) -> tuple[float, dict, bytes]:
    from workbench_plugins.anonymise import distributed
    from workbench_plugins.anonymise.engine import anonymise_file

    out = tempfile.mktemp(suffix=".csv", dir=tmp)
    keys = {"pseudonym": b"k" * 32}
    t = time.perf_counter()
    if ray:
        from workbench.core import cluster

        with cluster.session("local"):
            summary = distributed.anonymise_on_cluster(path, out, policy, keys)
    else:
        summary = anonymise_file(path, out, policy, keys, workers=1)
    took = time.perf_counter() - t
    with open(out, "rb") as fh:
        data = fh.read()
    return took, summary, data


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
    ap.add_argument("--shard-size", type=int, default=100, help="the sweep's seeding shard (samples)")
    ap.add_argument("--rows", type=int, default=100_000, help="rows of the anonymised CSV")
    args = ap.parse_args()
    import dataclasses

    from workbench_plugins.robustness import distributed as rdist, engine

    from workbench.core import cluster

    # the sweep's seeding shard is a constant of the run (1024 by default); smaller here, so that the
    # few samples of the benchmark make several shards (local and Ray runs alike)
    plain_config = engine._sweep_config
    engine._sweep_config = lambda params: dataclasses.replace(plain_config(params), shard_size=args.shard_size)
    tmp = tempfile.mkdtemp(prefix="wb-scale-")
    tree = make_tree(os.path.join(tmp, "tree"), args.files)
    model = make_model(tmp, args.samples)
    people, policy = make_people(tmp, args.rows)
    rows = {}
    t_local = [audit_once(tree, None, tmp) for _ in range(args.n)]
    s_local = [sweep_once(model, None, tmp) for _ in range(args.n)]
    n_local = [anonymise_once(people, policy, False, tmp) for _ in range(args.n)]
    files = t_local[0][1]["files"]
    points = 4 * 2
    rows["local"] = (statistics.median(t for t, _ in t_local), statistics.median(t for t, _ in s_local), None, None,
                     statistics.median(t for t, _, _ in n_local), None)
    reference = (t_local[0][1]["findings"], s_local[0][1]["robust_accuracy"], n_local[0][2])
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
            sweep_run = dict(rdist.LAST_RUN)
            anonymise_once(people, policy, True, tmp)  # warm
            tn = [anonymise_once(people, policy, True, tmp) for _ in range(args.n)]
            assert all(s["findings"] == reference[0] for _, s in ta), "audit on Ray differs from local"
            assert all(s["robust_accuracy"] == reference[1] for _, s in ts), "sweep on Ray differs from local"
            assert all(out == reference[2] for _, _, out in tn), "anonymised output on Ray differs from local"
            overhead = task_overhead(c)
            # the sweep's bytes: the weights (counted by put) and each shard's samples, once a run
            sweep_bytes = (b2 - b1) + args.n * sweep_run.get("sample_bytes", 0)
            rows[f"ray x{workers}"] = (statistics.median(t for t, _ in ta), statistics.median(t for t, _ in ts),
                                       overhead, ((b1 - b0) / max(1, k1 - k0), sweep_bytes / max(1, k2 - k1),
                                                  (k1 - k0) / args.n, (k2 - k1) / args.n),
                                       statistics.median(t for t, _, _ in tn), tn[0][1]["cluster"])
            per_task[workers] = rows[f"ray x{workers}"]
        finally:
            cluster.release()

    la, ls, _, _, ln, _ = rows["local"]
    print(f"\naudit: {files} files; sweep: {points} points (4 attacks x 2 eps) on {args.samples} digits in "
          f"shards of {args.shard_size}; anonymise: {args.rows:,} rows, k=5 + pseudonyms; medians of {args.n}; "
          "results identical to the local run (checked; the anonymised file byte for byte)")
    print(f"{'run':10s} {'audit s':>8s} {'files/s':>8s} {'eff/w':>6s} {'sweep s':>8s} {'points/s':>8s} "
          f"{'eff/w':>6s} {'anon s':>7s} {'rows/s':>9s} {'eff/w':>6s}")
    for name, (a, s, _, _, an, _) in rows.items():
        n = 1 if name == "local" else int(name[-1])
        print(f"{name:10s} {a:8.2f} {files / a:8.1f} {la / (a * n):6.2f} {s:8.2f} {points / s:8.2f} "
              f"{ls / (s * n):6.2f} {an:7.2f} {args.rows / an:9.0f} {ln / (an * n):6.2f}")
    ov, (abytes, sbytes, atasks, stasks) = per_task[2][2], per_task[2][3]
    anon = per_task[2][5]
    anon_tasks = anon["tasks"]
    print(f"\nper task (2 workers): Ray's own cost {ov * 1000:.1f} ms (empty task); "
          f"audit {atasks:.0f} tasks/run, {abytes / 1024:.0f} KiB moved per task; "
          f"sweep {stasks:.0f} tasks/run (attack x eps batch x shard), {sbytes / 1024:.1f} KiB moved per task "
          f"(weights once per run, each shard's samples once); anonymise {anon_tasks} tasks/run "
          f"({anon['shards']} shards), {anon['bytes_in'] / anon['shards'] / 1024:.0f} KiB of input per shard, "
          f"{anon['bytes_out'] / anon['shards'] / 1024:.0f} KiB of output back per shard, "
          f"{anon['distinct_tuples']:,} distinct QI tuples merged")
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
    print(f"  8 models x 4 attacks x 2 eps on 8 GPUs over CIFAR-10's 10,000 test images (10 seeding shards of 1024): "
          f"320 tasks (model x attack x shard; cascading attacks keep their eps together) in 40 waves; here "
          f"{per_point:.2f} worker-s per point on the CPU; on a GPU the per-shard time is the GPU's, plus "
          f"{ov * 1000:.1f} ms of Ray per task; each task moves its shard's samples (3 MiB of 32x32x3 float32) "
          f"and its points' per-sample outcomes back; each model's weights travel once ({sbytes / 1024:.1f} KiB "
          "per task here)")
    an2 = per_task[2][4]
    per_row = an2 * 2 / args.rows  # worker-seconds per row here, driver included
    bpr = anon["bytes_in"] / args.rows
    shards_1b = -(-int(1e9 * bpr) // (64 << 20))
    print(f"  1 B rows (anonymise, {bpr:.0f} B a row): {shards_1b:,} shards of 64 MiB, 2 tasks each; "
          f"{per_row * 1e6:.1f} worker-us per row here -> {per_row * 1e9 / 3600:.0f} worker-hours in all, / W workers; "
          f"the driver's search reads the distinct QI tuples ({anon['distinct_tuples']:,} here), not the rows; "
          f"the driver still cuts and sends the input ({bpr * 1e9 / 2 ** 30:.0f} GiB) and appends the output "
          "(single writer): at ~1 GB/s per direction that is the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
