"""Monitor: live system, GPU and job metrics, anomaly detection, log rules, file integrity, alerts.

This module stays light (it is imported when the plugin registry starts):
the engines - sampler.py, detector.py, tiers.py, rules.py, actions.py,
logs.py, logrules.py, integrity.py, score.py, engine.py - are imported by
the job, the command or the tab that needs them.
"""

from __future__ import annotations

from types import MappingProxyType

from workbench.api import JobDef, Plugin
from workbench_plugins.monitor.store import MIGRATIONS

PLUGIN_ID = "monitor"
DEMO_SECONDS = 5.0  # the demo's recording: long enough for the detector's warm-up and a few samples
VERSION = "0.1.0"


class MonitorPlugin(Plugin):
    id = PLUGIN_ID
    title = "Monitor"
    version = VERSION
    tab = "workbench_plugins.monitor.tab:MonitorTab"
    # the report's Method section prints this beside the pillar's score
    method = "Runtime metrics were compared with a baseline and the share of anomalous samples was counted."
    # a plain attribute: the registry's check reads it at load, so a property importing the store on
    # first read deferred nothing, and re-ran its import at each project open, after PySide6's import
    # hook was installed (that hook reads the source of each module named in an import: ~0.1 ms)
    migrations = MIGRATIONS
    commands = "workbench_plugins.monitor.cli:add_cli"
    report = "workbench_plugins.monitor.report:report_sections"
    scorer = "workbench_plugins.monitor.score:score"
    jobs = MappingProxyType({"monitor": JobDef("workbench_plugins.monitor.engine:run",
                                              "workbench_plugins.monitor.params:MonitorParams", "monitor")})
    # How far each log has been read (offsets), rewritten at every flush: working state, not a result,
    # so outside the audit log's digests (every other table is hashed; see docs/plugins.md).
    unhashed_tables = ("monitor_log_state",)

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
