"""Robustness: safe model loading, adversarial and corruption sweeps, adversarial fine-tuning.

This module stays light (it is imported when the window starts): no torch,
no numpy. The engines are imported by the job, the commands and the tab.

Modules: ``data`` (loaders), ``models`` (architectures, safe loading),
``preprocess`` (input range, mean/std), ``attacks``, ``corruptions``,
``evaluate`` (sweeps), ``harden`` (adversarial fine-tuning), ``device``,
``score`` (R(x)), ``params``, ``engine`` (the jobs), ``store``, ``cli``, ``report``, ``tab``.
"""

from __future__ import annotations

from types import MappingProxyType

from workbench.api import JobDef, Plugin
from workbench_plugins.robustness.store import MIGRATIONS

PLUGIN_ID = "robustness"
VERSION = "0.1.0"


class RobustnessPlugin(Plugin):
    id = PLUGIN_ID
    title = "Robustness"
    version = VERSION
    tab = "workbench_plugins.robustness.tab:RobustnessTab"
    # the report's Method section prints this beside the pillar's score
    method = ("Models were attacked under the project's protocol (threat model, ε values, attack ensemble); "
              "the score is the accuracy that remains under the worst attack per sample, averaged over the "
              "protocol's ε values.")
    # a plain attribute: the registry's check reads it at load, so a property importing the store on
    # first read deferred nothing, and re-ran its import at each project open, after PySide6's import
    # hook was installed (that hook reads the source of each module named in an import: ~0.1 ms)
    migrations = MIGRATIONS
    commands = "workbench_plugins.robustness.cli:add_cli"
    report = "workbench_plugins.robustness.report:report_sections"
    scorer = "workbench_plugins.robustness.score:score"
    jobs = MappingProxyType({
        # the parameter dataclasses by path: imported when a job or its form first reads them
        "robustness": JobDef("workbench_plugins.robustness.engine:run_sweep",
                             "workbench_plugins.robustness.params:SweepParams", "robustness of"),
        "harden": JobDef("workbench_plugins.robustness.engine:run_harden",
                         "workbench_plugins.robustness.params:HardenParams", "harden"),
    })

    def score_detail(self, store) -> str:
        """The protocol R is measured under, printed on the report's cover beside the score."""
        from .score import score_detail

        return score_detail(store)

    def demo_jobs(self, samples_dir):
        from workbench_plugins.robustness.params import DEMO_TARGET

        return [self.job_spec("robustness", target=DEMO_TARGET, attacks=["fgsm", "pgd", "gaussian_noise"],
                              eps=["0.05", "0.1", "0.2"])]


plugin = RobustnessPlugin()
