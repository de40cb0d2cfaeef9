"""The anonymise job's parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

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
