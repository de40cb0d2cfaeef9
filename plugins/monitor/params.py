"""The monitor job's parameters."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class MonitorParams:
    target: str = field(default_factory=socket.gethostname)   # the machine watched: runs group by it
    duration: float | None = None          # seconds; None: until cancelled
    interval: float = 1.0                  # sampling, 0.1-60 s
    flush_every: float = 5.0               # seconds between writes to the project
    logs: list[str] = field(default_factory=list)
    log_rules: str | None = None           # YAML file; the shipped inference-service rules when None
    watch: list[str] = field(default_factory=list)
    watch_every: float = 5.0               # seconds between stat sweeps of the watched files
    rehash_every: float = 300.0            # seconds between full re-hashes of every watched file (backstop)
    warmup: int = 30                       # samples per series the detector learns from (static bounds only then)
    pids: list[int] = field(default_factory=list)
    rules: list[dict] | None = None        # metric rules; None: the project's (or the defaults)
    gpu: bool = True
    follow_jobs: bool = False              # follow the workbench's other job workers (the tab sets it)
    raw_retention: float | None = None     # seconds of raw samples kept in the core metrics table; None: all

    def __post_init__(self) -> None:
        from workbench_plugins.monitor.sampler import check_interval

        check_interval(self.interval)
        if self.flush_every <= 0:
            raise ValueError(f"flush_every must be > 0 s, got {self.flush_every}")
        if self.watch_every <= 0:
            raise ValueError(f"watch_every must be > 0 s, got {self.watch_every}")
        if self.rehash_every <= 0:
            raise ValueError(f"rehash_every must be > 0 s, got {self.rehash_every}")
        if int(self.warmup) != self.warmup or self.warmup < 3:
            raise ValueError(f"warmup must be a whole number of samples >= 3, got {self.warmup}")
        if self.raw_retention is not None and self.raw_retention <= 0:
            raise ValueError(f"raw_retention must be > 0 s, got {self.raw_retention}")
        if self.duration is not None and self.duration <= 0:
            raise ValueError(f"duration must be > 0 s, got {self.duration}")
