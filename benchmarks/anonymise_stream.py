"""Streaming at every size: a people CSV of ~98 bytes a row (2 M rows = 197 MB, the size that
used to be read whole) through `anonymise_file`, the entry point a user calls, with keyed
pseudonyms (HMAC-SHA256) for three columns (email, customer_id, ip) and phone masking.

Data: by default every row is another person (email, customer_id and ip all but unique: the
worst case, one HMAC per cell); `--repeat R` makes a transactions-like file where each
customer (id, email, ip) occurs R times on average, spread over the whole file.

Each size runs in a fresh interpreter that reports its own peak RSS (VmHWM) and CPU time,
that of its worker processes included (read from the forkserver that forks and reaps them);
rows/s follows the share of the cores the run got, CPU µs/row is the code's own cost, so both
are printed with the load average. Aim: >= 500k rows/s and <= 600 MB peak at 2 M rows.

Usage: .venv/bin/python benchmarks/anonymise_stream.py [--rows 2000000] [--runs 3]
       [--workers N] [--repeat R]     (several sizes: --rows 200000,2000000)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def generate_csv(path: Path, rows: int, seed: int = 11, repeat: float = 1.0):
    """id, customer_id, name, email, phone, ip, city, amount, built column-wise: unique identifiers,
    or (repeat > 1) rows // repeat customers, each row one of them at random."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    firsts = pa.array(["ann", "bob", "carla", "dmitri", "eve", "femi", "gus", "hana", "ivo", "jun"])
    cities = pa.array(["Oslo", "Lyon", "Porto", "Graz", "Turku", "Leeds", "Gent", "Brno"])
    names = ["id", "customer_id", "name", "email", "phone", "ip", "city", "amount"]
    customers = max(1, int(rows / repeat))
    with pacsv.CSVWriter(path, pa.schema([(c, pa.string()) for c in names])) as w:
        step = 500_000
        for start in range(0, rows, step):
            n = min(step, rows - start)
            ids = pa.array(np.arange(start, start + n).astype(str))
            who = np.arange(start, start + n) if repeat <= 1 else rng.integers(0, customers, n)
            cust = pc.binary_join_element_wise(pa.scalar("C"), pa.array(np.char.zfill(who.astype(str), 8)), "")
            first = firsts.take(pa.array(who % len(firsts) if repeat > 1 else rng.integers(0, len(firsts), n)))
            email = pc.binary_join_element_wise(first, pa.scalar("."), pa.array(who.astype(str)),
                                                pa.scalar("@ex.org"), "")
            phone = pc.binary_join_element_wise(pa.scalar("+44 20 "),
                                                pa.array(rng.integers(10_000_000, 99_999_999, n).astype(str)), "")
            if repeat > 1:  # a customer's usual address
                abc = np.stack([(who >> 16) & 255, (who >> 8) & 255, who & 255], axis=1)
            else:
                abc = rng.integers(0, 256, (n, 3))
            ip = pa.array([f"10.{a}.{b}.{c}" for a, b, c in abc])
            city = cities.take(pa.array(rng.integers(0, len(cities), n)))
            amount = pa.array(np.round(rng.gamma(2, 40, n), 2).astype(str))
            w.write_batch(pa.record_batch([ids, cust, first, email, phone, ip, city, amount], names=names))


SCRIPT = r"""
import json, os, resource, sys, time
def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
def live_children_cpu():
    # the forkserver is still running: its own CPU and that of the workers it forked and reaped
    total = 0.0
    for task in os.listdir("/proc/self/task"):
        for pid in open(f"/proc/self/task/{task}/children").read().split():
            try:
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
    return total
def cpu():
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime
               for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) + live_children_cpu()
from workbench_plugins.anonymise.engine import Policy, anonymise_file
D = "direct_identifier"
pol = Policy(columns={"email": {"transform": "pseudonymise", "role": D},
                      "customer_id": {"transform": "pseudonymise", "role": D},
                      "ip": {"transform": "pseudonymise", "role": D},
                      "phone": {"transform": "mask", "role": D}})
c0, t = cpu(), time.perf_counter()
workers = None if sys.argv[3] == "auto" else int(sys.argv[3])
s = anonymise_file(sys.argv[1], sys.argv[2], pol, {"pseudonym": bytes(range(32))}, workers=workers)
print(json.dumps({"rows": s["rows_out"], "seconds": time.perf_counter() - t, "peak": peak_mib(),
                  "cpu": cpu() - c0, "streamed": bool(s.get("streamed")), "workers": s.get("workers", 1),
                  "worker_peak": s.get("worker_peak_rss_mib", 0)}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="2000000", help="comma-separated sizes")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", default="auto", help="processes (default: the engine's choice, one per core)")
    ap.add_argument("--repeat", type=float, default=1.0,
                    help="average rows per customer (1: every row another person, the default)")
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory(prefix="anon-stream-") as d:
        for rows in (int(x) for x in args.rows.split(",")):
            src = Path(d) / f"people-{rows}.csv"
            generate_csv(src, rows, repeat=args.repeat)
            rates, peaks, cpus, streamed, wpeaks = [], [], [], None, []
            for _ in range(args.runs):
                p = subprocess.run([sys.executable, "-c", SCRIPT, str(src), str(Path(d) / "out.csv"),
                                    str(args.workers)],
                                   capture_output=True, text=True, env=env, timeout=3600)
                if p.returncode:
                    print(p.stderr[-2000:])
                    return 1
                r = json.loads(p.stdout.strip().splitlines()[-1])
                rates.append(r["rows"] / r["seconds"])
                peaks.append(r["peak"])
                cpus.append(r["cpu"] / r["rows"] * 1e6)
                streamed, workers = r["streamed"], r["workers"]
                wpeaks.append(r["worker_peak"])
            data = "unique identifiers" if args.repeat <= 1 else f"~{args.repeat:g} rows per customer"
            mem = (f"peak RSS {max(peaks):.0f} MiB" if workers == 1 else
                   f"peak RSS {max(peaks):.0f} MiB + {workers} workers x {max(wpeaks):.0f} MiB "
                   f"(= {max(peaks) + workers * max(wpeaks):.0f} MiB at most)")
            print(f"{rows:,} rows, {src.stat().st_size / 1e6:.0f} MB, {data}, 3 keyed pseudonyms + phone mask, "
                  f"{'streamed' if streamed else 'in memory'}, {workers} process(es): median "
                  f"{statistics.median(rates):,.0f} rows/s of {args.runs} {[round(x) for x in rates]}, {mem}, "
                  f"CPU {statistics.median(cpus):.2f} us/row (load {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} cores)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
