"""Dataset anonymisation: PII detection, keyed pseudonymisation, optimal generalisation
under k-anonymity / l-diversity / t-closeness, re-identification risk, verified output.

This module stays light (no pyarrow, numpy or Faker at import): the engines import
them inside the functions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from workbench.api import JobDef, Plugin, secrets_available

#: transforms that need a key from the secrets backend
KEYED_TRANSFORMS = ("pseudonymise", "tokenise", "surrogate", "shift_dates")


@dataclass
class AnonymiseParams:
    target: str                      # the input file (CSV/TSV/Parquet/JSONL)
    output: str                      # the output CSV/TSV, written only if verification passes
    policy: dict = field(default_factory=dict)   # engine.Policy as a dict (never holds a key)
    encrypt_key: str = ""            # keyring name of a 32-byte key: the output is written encrypted
    recipients: dict = field(default_factory=dict)   # name -> X25519 public key (hex): encrypted to them
    roles: dict = field(default_factory=dict)        # name -> reviewer | data owner (access list)

    def __post_init__(self) -> None:
        if not self.output:
            raise ValueError("output is required")
        encrypted = bool(self.encrypt_key or self.recipients)
        if not encrypted and not self.output.lower().endswith((".csv", ".tsv", ".txt")):
            raise ValueError("output must be a .csv or .tsv file")
        if self.encrypt_key and self.recipients:
            raise ValueError("encrypt either to a key or to recipients, not both")
        for name, pub in dict(self.recipients).items():
            try:
                if len(bytes.fromhex(pub)) != 32:
                    raise ValueError
            except ValueError:
                raise ValueError(f"recipient {name!r}: the public key must be 64 hex digits (X25519)") from None
        from workbench_plugins.anonymise.engine import Policy

        Policy.from_dict(dict(self.policy), "policy")


class AnonymisePlugin(Plugin):
    id = "anonymise"
    title = "Anonymise"
    version = "0.1.0"
    tab = "workbench_plugins.anonymise.tab:AnonymiseTab"
    migrations = (
        (1, "CREATE TABLE anonymise_outputs (run_id INTEGER NOT NULL, input TEXT NOT NULL, "
            "output TEXT NOT NULL, policy TEXT NOT NULL, levels TEXT, suppressed_rows INTEGER, "
            "information_loss REAL, metric TEXT, p_reid_before REAL, p_reid_after REAL, "
            "verification TEXT, key_ids TEXT)"),
        (2, "CREATE TABLE anonymise_columns (run_id INTEGER NOT NULL, column_name TEXT NOT NULL, "
            "entity TEXT, role TEXT, confidence REAL, transform TEXT)"),
        (3, "CREATE TABLE anonymise_access (run_id INTEGER NOT NULL, output TEXT NOT NULL, "
            "name TEXT NOT NULL, role TEXT NOT NULL, public_key TEXT NOT NULL, granted_at TEXT NOT NULL, "
            "revoked_at TEXT)"),
    )
    commands = "workbench_plugins.anonymise.cli:add_cli"
    report = "workbench_plugins.anonymise.report:report_sections"
    scorer = "workbench_plugins.anonymise.score:score"
    jobs = MappingProxyType({
        "anonymise": JobDef("workbench_plugins.anonymise.job:run", AnonymiseParams, "anonymise"),
    })

    def demo_jobs(self, samples_dir):
        """The shipped people.csv with the detected policy, k = 5 and automatic hierarchies (what
        a user gets by loading it in the tab and pressing Run), so the demo assesses privacy."""
        import os

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
