"""Dataset anonymisation: PII detection, keyed pseudonymisation, optimal generalisation
under k-anonymity / l-diversity / t-closeness, re-identification risk, verified output.

This module stays light (no pyarrow, numpy or Faker at import): the engines import
them inside the functions that need them.
"""

from __future__ import annotations

from types import MappingProxyType

from workbench.api import JobDef, Plugin
from workbench_plugins.anonymise.store import MIGRATIONS

#: transforms that need a key from the secrets backend
KEYED_TRANSFORMS = ("pseudonymise", "tokenise", "surrogate", "shift_dates")


class AnonymisePlugin(Plugin):
    id = "anonymise"
    title = "Anonymise"
    version = "0.1.0"
    tab = "workbench_plugins.anonymise.tab:AnonymiseTab"
    # the report's Method section prints this beside the pillar's score
    method = ("Datasets were de-identified by policy and the release was checked by estimating the "
              "probability that a record can be re-identified from the released data; only aggregates "
              "are reported.")
    migrations = MIGRATIONS
    commands = "workbench_plugins.anonymise.cli:add_cli"
    report = "workbench_plugins.anonymise.report:report_sections"
    scorer = "workbench_plugins.anonymise.score:score"
    jobs = MappingProxyType({
        # the parameter dataclass by path: imported when a job or its form first reads it
        "anonymise": JobDef("workbench_plugins.anonymise.engine:run",
                            "workbench_plugins.anonymise.params:AnonymiseParams", "anonymise"),
    })

    def demo_jobs(self, samples_dir):
        """The shipped people.csv with the detected policy, k = 5 and automatic hierarchies (what
        a user gets by loading it in the tab and pressing Run), so the demo assesses privacy."""
        import os

        # here, not at the top: the registry imports this module at start-up, and the secrets
        # backend (its modules, the encrypted file's) cost the window's first paint ~3 ms
        from workbench.api import secrets_available
        from workbench_plugins.anonymise.engine import make_policy
        from workbench_plugins.anonymise.reader import read_table

        src = os.path.join(str(samples_dir), "people.csv")
        if not os.path.isfile(src):
            return []
        policy = make_policy(read_table(src), k=5, suppression=0.04, source=src)
        if not secrets_available()[0]:
            # No keyring on this machine (and no encrypted file chosen): keyed transforms need a
            # stored key, so the demo redacts those columns instead and still assesses privacy.
            for spec in policy.columns.values():
                if spec.get("transform") in KEYED_TRANSFORMS:
                    spec["transform"] = "redact"
        return [self.job_spec("anonymise", target=src, output=os.path.join(str(samples_dir),
                                                                         "people-anonymised.csv"),
                              policy=policy.to_dict())]


plugin = AnonymisePlugin()
