"""One sample of the machine: a flat ``{series: value}`` dict (psutil, /proc, NVML).

Series names (rates are per second, between this sample and the previous):

==========================  =================================================
``cpu.total``, ``cpu.core<i>``  busy percent, from ``cpu_times`` deltas (this
                                probe's own, so another psutil user in the
                                process cannot reset it)
``load.1/5/15``                 load average
``mem.used_pct``, ``mem.used``, ``mem.available``, ``swap.used_pct``
``disk.read_Bps``, ``disk.write_Bps``, ``disk.read_iops``, ``disk.write_iops``
``net.<if>.rx_Bps``, ``net.<if>.tx_Bps``
``net.connections``             open inet sockets (listening ones excluded)
``net.outbound``                outbound connections (see connections.py)

                                Both come from a socket-table scan, which
                                costs milliseconds on a busy kernel; it runs
                                every ``connections_every`` seconds, and at
                                once whenever a non-loopback interface sent
                                bytes since the last sample - so an outbound
                                attempt is seen on the next tick while an
                                offline machine pays for a scan rarely.
``proc.<pid>.cpu_pct``, ``.rss``, ``.threads``   for the pids being followed
``gpu<i>.*``                    see gpu.py
==========================  =================================================
"""

from __future__ import annotations

import os
import time

import psutil

from .connections import Conn, OutboundClassifier, list_connections
from .gpu import GpuProbe

MIN_INTERVAL = 0.1
MAX_INTERVAL = 60.0


def check_interval(seconds: float) -> float:
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"sampling interval must be a number of seconds, got {seconds!r}") from None
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise ValueError(f"sampling interval must be between {MIN_INTERVAL} and {MAX_INTERVAL} s, got {seconds}")
    return seconds


def _is_loopback_nic(name: str) -> bool:
    return name == "lo" or name.startswith("lo") and name[2:].isdigit() or name.lower().startswith("loopback")


def workbench_job_pids(parent: int | None = None) -> list[int]:
    """Pids of the workbench's job workers: the multiprocessing spawn children of *parent* (by default
    this process's parent, the window or CLI that started the monitor job), this process excluded."""
    me = os.getpid()
    try:
        children = psutil.Process(parent if parent is not None else os.getppid()).children()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
    pids = []
    for child in children:
        if child.pid == me:
            continue
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                pids.append(child.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return pids


class SystemProbe:
    def __init__(self, *, pids=(), per_core: bool = True, gpu: bool = True, connections: bool = True,
                 classifier: OutboundClassifier | None = None, connections_every: float = 10.0,
                 follow_workbench_jobs: bool = False):
        self.per_core = per_core
        # the monitor job runs in a workbench worker: its siblings (other spawn workers of the
        # same window) are the workbench's own jobs, followed as they come and go
        self.follow_workbench_jobs = follow_workbench_jobs
        self._last_job_scan: float | None = None
        self.connections_enabled = connections
        self.connections_every = connections_every
        self._last_scan: float | None = None
        self._nic_sent_changed = False
        self.classifier = classifier or OutboundClassifier()
        self.gpu = GpuProbe() if gpu else None
        self._procs: dict[int, psutil.Process] = {}
        self.gone: list[int] = []          # pids that exited since the last sample
        self.last_outbound: list[Conn] = []
        self._prev_cpu = None
        self._prev_disk = None
        self._prev_net = None
        self._prev_t: float | None = None
        for pid in pids:
            self.follow(pid)

    @property
    def gpu_status(self) -> str:
        return self.gpu.status if self.gpu else "GPU sampling off"

    def follow(self, pid: int) -> None:
        try:
            proc = psutil.Process(int(pid))
            proc.cpu_percent(None)  # the first call only primes the counter
        except psutil.NoSuchProcess:
            raise ValueError(f"no process with pid {pid}") from None
        except psutil.AccessDenied:
            raise ValueError(f"not allowed to read process {pid}") from None
        self._procs[int(pid)] = proc

    def unfollow(self, pid: int) -> None:
        self._procs.pop(int(pid), None)

    def sample(self) -> dict[str, float]:
        now = time.monotonic()
        dt = now - self._prev_t if self._prev_t is not None else None
        self._prev_t = now
        out: dict[str, float] = {}
        self._cpu(out)
        try:
            one, five, fifteen = os.getloadavg()
            out["load.1"], out["load.5"], out["load.15"] = one, five, fifteen
        except (AttributeError, OSError):
            pass  # Windows has none
        vm = psutil.virtual_memory()
        out["mem.used_pct"] = float(vm.percent)
        out["mem.used"] = float(vm.total - vm.available)
        out["mem.available"] = float(vm.available)
        try:
            out["swap.used_pct"] = float(psutil.swap_memory().percent)
        except (RuntimeError, OSError):
            pass
        self._disk(out, dt)
        self._net(out, dt)
        if self.connections_enabled and self._scan_due(now):
            self._last_scan = now
            self._nic_sent_changed = False
            conns = list_connections()
            out["net.connections"] = float(sum(1 for c in conns if c.state != "LISTEN" and c.state != "NONE"))
            self.last_outbound = self.classifier.outbound(conns)
            out["net.outbound"] = float(len(self.last_outbound))
        if self.follow_workbench_jobs and (self._last_job_scan is None or now - self._last_job_scan >= 2.0):
            self._last_job_scan = now
            for pid in workbench_job_pids():
                if pid not in self._procs:
                    try:
                        self.follow(pid)
                    except ValueError:
                        pass  # it ended between the scan and the read
        self._processes(out)
        if self.gpu is not None:
            out.update(self.gpu.sample())
        return out

    def _scan_due(self, now: float) -> bool:
        if self._last_scan is None or self._nic_sent_changed:
            return True
        return now - self._last_scan >= self.connections_every

    def _cpu(self, out: dict) -> None:
        times = psutil.cpu_times(percpu=True)
        prev, self._prev_cpu = self._prev_cpu, times
        if prev is None or len(prev) != len(times):
            return
        busy_all = total_all = 0.0
        for i, (a, b) in enumerate(zip(prev, times)):
            total = sum(b) - sum(a)
            idle = (b.idle - a.idle) + (getattr(b, "iowait", 0.0) - getattr(a, "iowait", 0.0))
            busy = max(0.0, total - idle)
            busy_all += busy
            total_all += total
            if self.per_core:
                out[f"cpu.core{i}"] = 100.0 * busy / total if total > 0 else 0.0
        out["cpu.total"] = 100.0 * busy_all / total_all if total_all > 0 else 0.0

    def _disk(self, out: dict, dt: float | None) -> None:
        try:
            d = psutil.disk_io_counters()
        except (RuntimeError, OSError):
            d = None
        prev, self._prev_disk = self._prev_disk, d
        if d is None or prev is None or not dt:
            return
        out["disk.read_Bps"] = max(0, d.read_bytes - prev.read_bytes) / dt
        out["disk.write_Bps"] = max(0, d.write_bytes - prev.write_bytes) / dt
        out["disk.read_iops"] = max(0, d.read_count - prev.read_count) / dt
        out["disk.write_iops"] = max(0, d.write_count - prev.write_count) / dt

    def _net(self, out: dict, dt: float | None) -> None:
        try:
            n = psutil.net_io_counters(pernic=True)
        except (RuntimeError, OSError):
            return
        prev, self._prev_net = self._prev_net, n
        if prev is None or not dt:
            return
        for nic, c in n.items():
            p = prev.get(nic)
            if p is None:
                continue
            if c.bytes_sent != p.bytes_sent and not _is_loopback_nic(nic):
                self._nic_sent_changed = True
            name = nic.replace(".", "_")
            out[f"net.{name}.rx_Bps"] = max(0, c.bytes_recv - p.bytes_recv) / dt
            out[f"net.{name}.tx_Bps"] = max(0, c.bytes_sent - p.bytes_sent) / dt

    def _processes(self, out: dict) -> None:
        for pid, proc in list(self._procs.items()):
            try:
                with proc.oneshot():
                    cpu = proc.cpu_percent(None)
                    rss = proc.memory_info().rss
                    threads = proc.num_threads()
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                del self._procs[pid]
                self.gone.append(pid)
                continue
            except psutil.AccessDenied:
                continue
            out[f"proc.{pid}.cpu_pct"] = float(cpu)
            out[f"proc.{pid}.rss"] = float(rss)
            out[f"proc.{pid}.threads"] = float(threads)

    def close(self) -> None:
        if self.gpu is not None:
            self.gpu.close()
