"""Monitor: live system, GPU and job metrics, anomaly detection, log rules, file integrity, alerts.

This module stays light (it is imported when the plugin registry starts):
the engines - sampler.py, detector.py, tiers.py, rules.py, actions.py,
logs.py, logrules.py, integrity.py, score.py, engine.py - are imported by
the job, the command or the tab that needs them.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from types import MappingProxyType

from workbench.api import JobDef, Plugin

PLUGIN_ID = "monitor"
DEMO_SECONDS = 5.0  # the demo's recording: long enough for the detector's warm-up and a few samples
VERSION = "0.1.0"


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


class MonitorPlugin(Plugin):
    id = PLUGIN_ID
    title = "Monitor"
    version = VERSION
    tab = "workbench_plugins.monitor.tab:MonitorTab"
    commands = "workbench_plugins.monitor.job:add_cli"
    report = "workbench_plugins.monitor.report:report_sections"
    scorer = "workbench_plugins.monitor.report:score"
    jobs = MappingProxyType({"monitor": JobDef("workbench_plugins.monitor.job:run", MonitorParams, "monitor")})
    # How far each log has been read (offsets), rewritten at every flush: working state, not a result,
    # so outside the audit log's digests (every other table is hashed; see docs/plugins.md).
    unhashed_tables = ("monitor_log_state",)

    @property
    def migrations(self):  # type: ignore[override]
        from workbench_plugins.monitor.store import MIGRATIONS

        return MIGRATIONS

    def demo_jobs(self, samples_dir):
        """A short recording of this machine that follows the demo's service logs (an SSH brute
        force, a SQL injection and a prompt injection are in them) and watches the demo's config,
        so the demo assesses monitoring too."""
        import os

        logs = os.path.join(str(samples_dir), "logs")
        if not os.path.isdir(logs):
            return []
        watched = os.path.join(str(samples_dir), "vulnerable_ml", "config.yaml")
        return [self.job_spec(
            "monitor", target="demo machine", duration=DEMO_SECONDS, interval=0.5, flush_every=1.0, warmup=3,
            logs=[os.path.join(logs, name) for name in sorted(os.listdir(logs)) if name.endswith(".log")],
            watch=[watched] if os.path.isfile(watched) else [], gpu=False)]


plugin = MonitorPlugin()
