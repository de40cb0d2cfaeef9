"""The project state hash a report describes, and the project summary."""

from __future__ import annotations

import hashlib

from workbench.core.database import _canonical


def is_cache_table(name: str) -> bool:
    """A plugin table named ``<id>_..._cache`` holds derived data (it can be rebuilt from the
    evidence), so it is not part of the state a report describes."""
    return name.endswith("_cache")


class StateMixin:
    # ------------------------------------------------------------------- state
    # Rows that record a report being written, or the file being encrypted or decrypted, are about the
    # container, not part of the state a report describes.
    _STATE_EXCLUDES = {"events": "WHERE kind NOT IN ('report', 'file')", "meta": "WHERE key NOT IN ('events_head', 'file_identity')"}

    def state_sha256(self) -> str:
        """SHA-256 over every table's rows in a fixed order: what a report describes.

        Logging "report exported" afterwards does not change it, so `workbench info`
        prints the hash of the PDF for as long as nothing else changed.
        """
        h = hashlib.sha256()
        tables = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            if not is_cache_table(r[0])]
        for table in tables:
            h.update(f"\x1e{table}\x1e".encode())
            pk = [r[1] for r in sorted(self.conn.execute(f'PRAGMA table_info("{table}")'), key=lambda r: r[5])
                  if r[5] > 0]
            order = ", ".join(f'"{c}"' for c in pk) if pk else "rowid"
            where = self._STATE_EXCLUDES.get(table, "")
            for row in self.conn.execute(f'SELECT * FROM "{table}" {where} ORDER BY {order}'):
                h.update(_canonical([v.hex() if isinstance(v, bytes) else v for v in tuple(row)]).encode())
                h.update(b"\n")
        return h.hexdigest()

    def summary(self) -> dict:
        counts = {t: self.conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                  for t in ("runs", "findings", "triage", "artifacts", "metrics", "events")}
        return {"path": str(self.path), "name": self.name, "project_id": self.project_id,
                "schema": self.schema_version, "created": self.meta("created"), "key_id": self.key_id, "counts": counts}


