"""Automated testing: run a project's tests under coverage, import JUnit and
Cobertura XML, fuzz model entry points, probe a local LLM endpoint.

This module stays light: the plugin registry imports it at start-up. The
engines (runner, junit, fuzz, probes, score) are imported when a job, a
command, the report or the tab needs them.
"""

from __future__ import annotations

from types import MappingProxyType

from workbench.api import JobDef, Plugin
from workbench_plugins.testing.store import MIGRATIONS

PLUGIN_ID = "testing"
VERSION = "0.1.0"
_ENGINE = "workbench_plugins.testing.engine"
_PARAMS = "workbench_plugins.testing.params"  # imported when a job or its form first reads them


class TestingPlugin(Plugin):
    __test__ = False  # not a pytest test class

    id = PLUGIN_ID
    title = "Tests"
    version = VERSION
    tab = "workbench_plugins.testing.tab:TestingTab"
    # the report's Method section prints this beside the pillar's score
    method = "The project's tests (and fuzz and probe checks) were run and their results recorded."
    migrations = MIGRATIONS
    commands = "workbench_plugins.testing.cli:add_cli"
    report = "workbench_plugins.testing.report:report_sections"
    scorer = "workbench_plugins.testing.score:score"
    jobs = MappingProxyType({
        "test": JobDef(f"{_ENGINE}:run_tests", f"{_PARAMS}:TestRunParams", "test"),
        "import": JobDef(f"{_ENGINE}:run_import", f"{_PARAMS}:ImportParams", "import"),
        "fuzz": JobDef(f"{_ENGINE}:run_fuzz", f"{_PARAMS}:FuzzParams", "fuzz"),
        "probe": JobDef(f"{_ENGINE}:run_probe", f"{_PARAMS}:ProbeParams", "probe"),
        "load": JobDef(f"{_ENGINE}:run_load", f"{_PARAMS}:LoadParams", "load test"),
    })

    def demo_jobs(self, samples_dir):
        from workbench_plugins.testing.demo import demo_specs

        return demo_specs(self, samples_dir)


plugin = TestingPlugin()
