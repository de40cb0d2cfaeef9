"""Code audit: bandit in parallel, an AI/ML rule pack, secrets and model-file scans.

This module stays light: it is imported at start-up by the plugin registry.
The engines are imported when a job, a command or the tab needs them.
"""

from __future__ import annotations

import os

from workbench.core.jobs import JobSpec
from workbench.core.plugins import JobDef, Plugin

PLUGIN_ID = "code_audit"
VERSION = "0.1.0"


class CodeAuditPlugin(Plugin):
    id = PLUGIN_ID
    title = "Code audit"
    version = VERSION
    tab = "workbench_plugins.code_audit.tab:CodeAuditTab"
    jobs = {"audit": JobDef("workbench_plugins.code_audit.engine:run", "Audit a source tree")}

    @property
    def migrations(self):  # type: ignore[override]
        from workbench_plugins.code_audit.store import MIGRATIONS

        return MIGRATIONS

    def job_spec(self, target: str, **params) -> JobSpec:
        target = os.path.realpath(target)
        return JobSpec(PLUGIN_ID, "audit", self.jobs["audit"].ref, {"target": target, **params},
                       title=f"audit {os.path.basename(target) or target}", target=target)

    def add_cli(self, subparsers) -> None:
        from workbench_plugins.code_audit.cli import add_cli

        add_cli(self, subparsers)

    def report_sections(self, project, options=None):
        from workbench_plugins.code_audit.score import report_sections

        return report_sections(project, options or {})

    def score(self, project):
        from workbench_plugins.code_audit.score import score

        return score(project)

    def demo_jobs(self, samples_dir):
        from workbench_plugins.code_audit.engine import prepare_demo

        tree = prepare_demo(os.path.join(str(samples_dir), "vulnerable_ml"))
        return [self.job_spec(tree)]


plugin = CodeAuditPlugin()
