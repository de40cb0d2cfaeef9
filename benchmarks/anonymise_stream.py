"""Streaming at every size: a people CSV of ~80 bytes a row (2 M rows = 160 MB, the size that
used to be read whole) through `anonymise_file`, the entry point a user calls, with keyed
pseudonyms (HMAC-SHA256) for three columns (email, customer_id, ip) and phone masking.

Each size runs in a fresh interpreter that reports its own peak RSS (VmHWM) and CPU time;
rows/s follows the share of the cores the run got, CPU µs/row is the code's own cost, so both
are printed with the load average. Aim: >= 500k rows/s and <= 600 MB peak at 2 M rows.

Usage: .venv/bin/python benchmarks/anonymise_stream.py [--rows 2000000] [--runs 3]
       (several sizes: --rows 200000,2000000)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def generate_csv(path: Path, rows: int, seed: int = 11):
    """id, customer_id, name, email, phone, ip, city, amount: unique identifiers, built column-wise."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    firsts = pa.array(["ann", "bob", "carla", "dmitri", "eve", "femi", "gus", "hana", "ivo", "jun"])
    cities = pa.array(["Oslo", "Lyon", "Porto", "Graz", "Turku", "Leeds", "Gent", "Brno"])
    names = ["id", "customer_id", "name", "email", "phone", "ip", "city", "amount"]
    with pacsv.CSVWriter(path, pa.schema([(c, pa.string()) for c in names])) as w:
        step = 500_000
        for start in range(0, rows, step):
            n = min(step, rows - start)
            ids = pa.array(np.arange(start, start + n).astype(str))
            cust = pc.binary_join_element_wise(pa.scalar("C"), pa.array(np.char.zfill(
                np.arange(start, start + n).astype(str), 8)), "")
            first = firsts.take(pa.array(rng.integers(0, len(firsts), n)))
            email = pc.binary_join_element_wise(first, pa.scalar("."), ids, pa.scalar("@ex.org"), "")
            phone = pc.binary_join_element_wise(pa.scalar("+44 20 "),
                                                pa.array(rng.integers(10_000_000, 99_999_999, n).astype(str)), "")
            ip = pa.array([f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 256, (n, 3))])
            city = cities.take(pa.array(rng.integers(0, len(cities), n)))
            amount = pa.array(np.round(rng.gamma(2, 40, n), 2).astype(str))
            w.write_batch(pa.record_batch([ids, cust, first, email, phone, ip, city, amount], names=names))


SCRIPT = r"""
import json, resource, sys, time
def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
def cpu():
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime
               for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
from workbench_plugins.anonymise.engine import Policy, anonymise_file
D = "direct_identifier"
pol = Policy(columns={"email": {"transform": "pseudonymise", "role": D},
                      "customer_id": {"transform": "pseudonymise", "role": D},
                      "ip": {"transform": "pseudonymise", "role": D},
                      "phone": {"transform": "mask", "role": D}})
c0, t = cpu(), time.perf_counter()
s = anonymise_file(sys.argv[1], sys.argv[2], pol, {"pseudonym": bytes(range(32))})
print(json.dumps({"rows": s["rows_out"], "seconds": time.perf_counter() - t, "peak": peak_mib(),
                  "cpu": cpu() - c0, "streamed": bool(s.get("streamed"))}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="2000000", help="comma-separated sizes")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory(prefix="anon-stream-") as d:
        for rows in (int(x) for x in args.rows.split(",")):
            src = Path(d) / f"people-{rows}.csv"
            generate_csv(src, rows)
            rates, peaks, cpus, streamed = [], [], [], None
            for _ in range(args.runs):
                p = subprocess.run([sys.executable, "-c", SCRIPT, str(src), str(Path(d) / "out.csv")],
                                   capture_output=True, text=True, env=env, timeout=3600)
                if p.returncode:
                    print(p.stderr[-2000:])
                    return 1
                r = json.loads(p.stdout.strip().splitlines()[-1])
                rates.append(r["rows"] / r["seconds"])
                peaks.append(r["peak"])
                cpus.append(r["cpu"] / r["rows"] * 1e6)
                streamed = r["streamed"]
            print(f"{rows:,} rows, {src.stat().st_size / 1e6:.0f} MB, 3 keyed pseudonyms + phone mask, "
                  f"{'streamed' if streamed else 'in memory'}: median {statistics.median(rates):,.0f} rows/s "
                  f"of {args.runs} {[round(x) for x in rates]}, peak RSS {max(peaks):.0f} MiB, "
                  f"CPU {statistics.median(cpus):.2f} us/row (load {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} cores)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
