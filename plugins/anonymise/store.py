"""The anonymiser's tables in a project and how one run is recorded in them."""

from __future__ import annotations

import json

MIGRATIONS = (
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


def record_run(store, run_id: int, params, policy, summary: dict, key_ids: dict, findings: list) -> None:
    """The verified output, its columns, its findings and its access list, in one transaction."""
    with store.transaction():
        store.execute(
            "INSERT INTO anonymise_outputs (run_id, input, output, policy, levels, suppressed_rows, "
            "information_loss, metric, p_reid_before, p_reid_after, verification, key_ids) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, params.target, params.output, json.dumps(policy.to_dict(), sort_keys=True),
             json.dumps(summary.get("levels")), summary.get("suppressed_rows"),
             summary.get("information_loss"), summary.get("metric"),
             (summary.get("risk_before") or {}).get("p_reidentification"),
             summary.get("p_reidentification"), json.dumps(summary.get("verification")),
             json.dumps(key_ids)))
        store.executemany(
            "INSERT INTO anonymise_columns (run_id, column_name, entity, role, confidence, transform) "
            "VALUES (?,?,?,?,?,?)",
            [(run_id, c, s.get("entity"), s.get("role"), s.get("confidence"), s.get("transform", "keep"))
             for c, s in policy.columns.items()])
        store.add_findings(run_id, findings)
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for name, pub in sorted(params.recipients.items()):
            role = params.roles.get(name, "reviewer")
            store.execute("INSERT INTO anonymise_access (run_id, output, name, role, public_key, granted_at) "
                          "VALUES (?,?,?,?,?,?)", (run_id, params.output, name, role, pub, now))
            store.log_event("anonymise.grant", f"{name} ({role}) may read {params.output}",
                            {"output": params.output, "name": name, "role": role, "public_key": pub})
        store.log_event("anonymise.output", f"wrote verified output {params.output}",
                        {"input": params.target, "rows": summary.get("rows_out"), "key_ids": key_ids})
