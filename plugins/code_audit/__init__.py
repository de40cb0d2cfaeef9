"""Code audit: bandit in parallel, an AI/ML rule pack, secrets and model-file scans.

This module stays light: it is imported at start-up by the plugin registry.
The engines are imported when a job, a command or the tab needs them.
"""

from __future__ import annotations

import os
from types import MappingProxyType

from workbench.api import JobDef, Plugin
from workbench_plugins.code_audit.store import MIGRATIONS

PLUGIN_ID = "code_audit"
VERSION = "0.2.0"


class CodeAuditPlugin(Plugin):
    id = PLUGIN_ID
    title = "Code audit"
    version = VERSION
    tab = "workbench_plugins.code_audit.tab:CodeAuditTab"
    # the report's Method section prints this beside the pillar's score
    method = ("The source code was read by static analysis (bandit with AI/ML rules), a secrets scanner "
              "and a model-file scanner that reads pickle opcodes without loading them. Nothing was run.")
    migrations = MIGRATIONS
    commands = "workbench_plugins.code_audit.cli:add_cli"
    report = "workbench_plugins.code_audit.report:report_sections"
    scorer = "workbench_plugins.code_audit.score:score"
    jobs = MappingProxyType({
        # the parameter dataclasses by path: imported when a job or its form first reads them
        "audit": JobDef("workbench_plugins.code_audit.engine:run",
                        "workbench_plugins.code_audit.params:AuditParams", "audit"),
        "deps": JobDef("workbench_plugins.code_audit.deps.engine:run",
                       "workbench_plugins.code_audit.deps.params:DepsParams", "deps"),
    })

    def demo_jobs(self, samples_dir):
        from workbench_plugins.code_audit.engine import prepare_demo

        tree = prepare_demo(os.path.join(str(samples_dir), "vulnerable_ml"))
        return [self.job_spec("audit", target=tree)]


plugin = CodeAuditPlugin()
