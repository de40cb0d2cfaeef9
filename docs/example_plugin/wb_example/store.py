"""The example plugin's table, how a run is written to it, and how it is read back."""

from __future__ import annotations

MIGRATIONS = (
    (1, "CREATE TABLE example_files (run_id INTEGER NOT NULL, path TEXT NOT NULL, "
        "lines INTEGER NOT NULL, longest INTEGER NOT NULL)"),
)


def save_run(store, run_id: int, rows: list[dict], findings: list) -> None:
    """The files, the findings and the line-length metric of one run, in one transaction."""
    with store.transaction():
        store.executemany("INSERT INTO example_files (run_id, path, lines, longest) VALUES (?,?,?,?)",
                          [(run_id, r["path"], r["lines"], r["longest"]) for r in rows])
        store.add_findings(run_id, findings)
        store.add_metrics("longest_line", [(i, r["longest"]) for i, r in enumerate(rows)], run_id=run_id)


def files(store, run_id: int, *, longest_first: bool = False) -> list[dict]:
    """The files of a run: {path, lines, longest}, by path (or longest line first)."""
    order = "longest DESC" if longest_first else "path"
    return store.query(f"SELECT path, lines, longest FROM example_files WHERE run_id=? ORDER BY {order}",
                       (run_id,))
