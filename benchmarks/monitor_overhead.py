"""What watching the machine costs: sampling CPU at 1 Hz and 10 Hz against Glances, and redraw time.

Sampling: the monitor's whole pipeline (psutil and /proc sampling, one
detector per series, the three tiers, the default rules, a batch written to a
SQLite file every 5 s) runs in a fresh process for ``--seconds``; its cost is
the process's CPU time over wall time after start-up, in percent of one core.
Glances (``glances --stdout cpu.total,mem.percent -t INTERVAL``) is measured
the same way, from outside, after its own start-up, when it is installed;
the ratio is ours / Glances. Glances samples more (every plugin, the process
list), which is the point of comparing with what a user would otherwise run.

Redraw: pyqtgraph offscreen (QT_QPA_PLATFORM=offscreen): 8 series x 3,600
points (an hour at 1 Hz) and 1 series x 86,400 points (a day), one frame =
roll the numpy ring buffers, ``setData`` per curve, a synchronous repaint.
The day-long series is drawn with pyqtgraph's peak downsampling and
clip-to-view (what the tab uses), and also without, for reference.

History: a project holding 24 h of 1 Hz raw samples of 8 series (691,200
rows in the core metrics table) and their 1 min tier: reading a 24 h window
of one series raw (86,400 rows) against the 1 min tier the tab falls back to
(1,440 rows), the tab's incremental read of a job series when nothing is new,
and ``metric_sources(since)`` (a scan of the metrics table: the tab calls it
once, then discovers series through the running runs).

Every figure is the median of ``--runs`` runs (sampling) or of 60 frames. A frame's
CPU time is printed beside its wall time: on a shared, loaded machine the wall
time mostly measures waiting for a core.

    python benchmarks/monitor_overhead.py [--seconds 20] [--runs 3] [--skip-glances] [--skip-redraw]
                                          [--skip-history]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, os, sys, time, tempfile
from workbench_plugins.monitor.engine import Monitor
from workbench_plugins.monitor.store import SQLiteWriter
interval, seconds = float(sys.argv[1]), float(sys.argv[2])
watch = sys.argv[3:]                           # a folder watched recursively (change notification + sweeps)
db = os.path.join(tempfile.mkdtemp(), "bench.sqlite")
writer = SQLiteWriter(db)
mon = Monitor(writer.write, interval=interval, flush_every=5.0, gpu=True, watch=watch)
mon.tick()                                     # first sample primes the counters
c0, w0 = time.process_time(), time.monotonic()
mon.run_for(seconds)
cpu, wall = time.process_time() - c0, time.monotonic() - w0
print(json.dumps({"cpu": cpu, "wall": wall, "samples": mon.samples, "series": len(mon.detectors)}))
"""


def ours(interval: float, seconds: float, watch=()) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(interval), str(seconds), *watch], capture_output=True,
                         text=True, check=True, timeout=seconds + 120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def glances(interval: float, seconds: float, exe: str) -> dict:
    import psutil

    proc = subprocess.Popen([exe, "--stdout", "cpu.total,mem.percent", "-t", str(interval)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p = psutil.Process(proc.pid)
        time.sleep(8.0)                              # let it import and take its first samples
        t0 = p.cpu_times()
        w0 = time.monotonic()
        time.sleep(seconds)
        t1 = p.cpu_times()
        wall = time.monotonic() - w0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    cpu = (t1.user + t1.system) - (t0.user + t0.system)
    return {"cpu": cpu, "wall": wall}


def pct(r: dict) -> float:
    return 100.0 * r["cpu"] / r["wall"]


def sampling(seconds: float, runs: int, with_glances: bool) -> None:
    exe = shutil.which("glances") or os.path.join(os.path.dirname(sys.executable), "glances")
    if not os.path.exists(exe):
        exe = None
    print(f"sampling cost, % of one core, median of {runs} runs of {seconds:g} s ({os.cpu_count()} cores here)")
    for hz in (1, 10):
        interval = 1.0 / hz
        mine = [ours(interval, seconds) for _ in range(runs)]
        m = statistics.median(pct(r) for r in mine)
        per = statistics.median(1000.0 * r["cpu"] / max(1, r["samples"]) for r in mine)
        line = f"  {hz:>2} Hz  monitor {m:6.3f}%  ({per:.2f} ms CPU per tick, {mine[0]['series']} series)"
        if with_glances and exe:
            theirs = [glances(interval, seconds, exe) for _ in range(runs)]
            g = statistics.median(pct(r) for r in theirs)
            line += f"   glances {g:6.3f}%   ratio monitor/glances {m / g if g else float('nan'):.3f}"
        elif with_glances:
            line += "   (glances not installed: no comparison)"
        print(line, flush=True)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        n, size = 200, 64 << 10
        for i in range(n):
            sub = os.path.join(tmp, f"d{i % 10}")
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, f"f{i}.bin"), "wb") as fh:
                fh.write(os.urandom(size))
        mine = [ours(1.0, seconds, [tmp]) for _ in range(runs)]
        print(f"   1 Hz  monitor {statistics.median(pct(r) for r in mine):6.3f}%  with a watched folder of {n} files "
              f"({n * size >> 20} MiB; notification, 5 s stat sweep, 300 s full re-hash)", flush=True)
    integrity_latency(runs)


def integrity_latency(runs: int) -> None:
    """From a same-size edit with the mtime put back to its alert: the change notification (checked every
    tick) against the stat sweep, which cannot see it, and the full re-hash backstop (every 300 s)."""
    import tempfile

    from workbench_plugins.monitor.integrity import FileWatcher

    waits = []
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "weights.bin")
        with open(f, "wb") as fh:
            fh.write(b"A" * (4 << 20))
        w = FileWatcher([tmp], rehash_every_s=3600)
        try:
            for i in range(max(runs, 5)):
                st = os.stat(f)
                t0 = time.perf_counter()
                with open(f, "r+b") as fh:
                    fh.write(bytes([65 + (i + 1) % 26]) * 16)
                os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
                while not w.check(0.0, sweep=False):
                    time.sleep(0.001)
                waits.append((time.perf_counter() - t0) * 1000)
        finally:
            w.close()
    print(f"same-size edit, mtime restored, 4 MiB file: alert {statistics.median(waits):.1f} ms after the edit "
          f"(median of {len(waits)}; notification, then one SHA-256 of the file); the stat sweep alone never "
          "sees it, the full re-hash within 300 s", flush=True)


def redraw() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=False)

    def frames(widget, curves, buffers, n=60):
        times, cpu = [], []
        rng = np.random.default_rng(0)
        for _ in range(n):
            t0 = time.perf_counter()
            c0 = time.process_time()
            for curve, (x, y) in zip(curves, buffers):
                y[:-1] = y[1:]                       # the ring buffer advances one sample
                y[-1] = rng.normal()
                x += 1.0
                curve.setData(x, y)
            widget.viewport().repaint()          # paints the scene now, synchronously
            app.processEvents()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return statistics.median(times) * 1000.0, statistics.median(cpu) * 1000.0

    def setup(n_series, n_points, downsample):
        w = pg.PlotWidget()
        w.resize(1200, 500)
        w.show()
        plot = w.getPlotItem()
        if downsample:
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
        rng = np.random.default_rng(1)
        bufs = [(np.arange(n_points, dtype=float), rng.normal(size=n_points).cumsum()) for _ in range(n_series)]
        curves = [plot.plot(pen=pg.intColor(i, n_series)) for i in range(n_series)]
        app.processEvents()
        return w, curves, bufs

    print("redraw, ms per frame (median of 60), pyqtgraph offscreen 1200x500:")
    for label, n_series, n_points, ds in (("8 x 3,600 points", 8, 3600, True),
                                          ("1 x 86,400 points", 1, 86400, True),
                                          ("8 x 3,600 points, no downsampling", 8, 3600, False),
                                          ("1 x 86,400 points, no downsampling", 1, 86400, False)):
        w, curves, bufs = setup(n_series, n_points, ds)
        ms, cpu_ms = frames(w, curves, bufs)
        print(f"  {label:<38} {ms:7.2f} ms wall, {cpu_ms:6.2f} ms CPU  "
              f"({'within' if ms < 16 else 'over'} the 16 ms frame budget)", flush=True)
        w.close()


def history(runs: int = 7) -> None:
    import statistics
    import tempfile
    import time

    from workbench.core.plugin_store import PluginStore
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    day, names = 86400, [f"s{i}" for i in range(8)]
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(os.path.join(tmp, "h.wbproj"), plugins=load_plugins().plugins)
        try:
            store = PluginStore(project, "monitor")
            t0 = time.time() - day
            for name in names:
                store.add_metrics(name, [(t0 + i, float(i % 97)) for i in range(day)], run_id=1)
            store.executemany("INSERT INTO monitor_tiers (run_id, tier, series, start, count, sum, min, max, "
                              "anomalies) VALUES (1, '1m', ?, ?, 60, 2880.0, 0.0, 96.0, 0)",
                              [(n, t0 + 60 * i) for n in names for i in range(day // 60)])
            robust = PluginStore(project, "robustness")
            robust.add_metrics("harden/loss", [(e, 1.0 / (e + 1)) for e in range(50)], run_id=2)

            def median_ms(fn) -> float:
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    fn()
                    times.append((time.perf_counter() - start) * 1000)
                return statistics.median(times)

            raw = median_ms(lambda: store.metrics("s0", run_id=1, since=t0))
            tier = median_ms(lambda: store.query("SELECT start, sum / count AS mean FROM monitor_tiers WHERE run_id=1 "
                                                 "AND tier='1m' AND series='s0' AND start >= ? ORDER BY start", (t0,)))
            poll = median_ms(lambda: store.metrics("harden/loss", plugin="robustness", run_id=2, since=49))
            sources = median_ms(lambda: store.metric_sources(time.time() - 600))
        finally:
            project.close()
    print(f"history, ms (median of {runs}), 8 series x 24 h at 1 Hz in the project:")
    print(f"  24 h of one series, raw (86,400 rows)        {raw:9.2f}")
    print(f"  24 h of one series, 1 min tier (1,440 rows)  {tier:9.2f}   raw / tier = {raw / tier:.0f}x")
    print(f"  incremental job-series read, nothing new     {poll:9.3f}")
    print(f"  metric_sources(since 10 min) (table scan)     {sources:9.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-glances", action="store_true")
    ap.add_argument("--skip-sampling", action="store_true")
    ap.add_argument("--skip-redraw", action="store_true")
    ap.add_argument("--skip-history", action="store_true")
    args = ap.parse_args(argv)
    if not args.skip_sampling:
        sampling(args.seconds, args.runs, not args.skip_glances)
    if not args.skip_redraw:
        redraw()
    if not args.skip_history:
        history()
    return 0


if __name__ == "__main__":
    sys.exit(main())
