"""A project with rows in every table of every built-in plugin, written the way plugins write:
inside a real run, through the plugin's own store (the SDK), then finished. The rows are generic
(made from each table's declared column types) so that the integrity tests cover whatever tables the
plugins have today, including ones added after these tests were written."""

from __future__ import annotations

import contextlib
import io
import sqlite3

from workbench.core.findings import Finding
from workbench.core.plugins import load_plugins
from workbench.core.project import Project
from workbench.core.state import classify_tables, table_columns

ROWS = 12  # per table and run: several pages of the file hold results


def _value(col_type: str, table: str, col: str, i: int):
    t = (col_type or "").upper()
    if "INT" in t:
        return i + 1
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return i + 0.25
    if "BLOB" in t:
        return bytes([i % 256]) * 16
    return f"{table}.{col}.{i}" + ("-" * (i % 7))


def insert_rows(store, table: str, run_id: int | None, n: int = ROWS) -> None:
    info = list(store.execute(f'PRAGMA table_info("{table}")'))
    cols = [r[1] for r in info]
    rows = []
    for i in range(n):
        rows.append([run_id if c == "run_id" else _value(r[2], table, c, i) for c, r in zip(cols, info)])
    marks = ",".join("?" * len(cols))
    names = ",".join(f'"{c}"' for c in cols)
    written = 0
    with store.transaction():
        for row in rows:
            try:  # a table's own constraints (a single-row settings table) may refuse some generic rows
                store.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', row)
                written += 1
            except sqlite3.IntegrityError:
                pass
    assert written, f"no generic row fits {table}"


def plugin_tables(project, plugin_id: str) -> dict[str, list[str]]:
    kinds = classify_tables(project.conn)
    return {k: [t for t in v if t.startswith(plugin_id + "_")] for k, v in kinds.items()}


def fill_project(path, *, name: str = "Integrity target") -> Project:
    """Create *path* with every loaded plugin's tables filled; returns it closed. Each plugin gets one
    finished run whose rows fill its run-scoped tables, findings, metrics and an artifact; its
    project-wide tables (settings) get rows too; its caches and declared unhashed tables as well."""
    registry = load_plugins()
    with Project.create(path, name=name, plugins=registry.plugins) as project:
        for plugin in registry.plugins:
            store = project.store(plugin.id)
            tables = plugin_tables(project, plugin.id)
            run = project.create_run(plugin.id, "job", {"plugin": plugin.id}, title=f"{plugin.title} run",
                                     target=f"/data/{plugin.id}")
            project.start_run(run)
            with store.transaction():
                for table in tables["run"]:
                    insert_rows(store, table, run)
                store.add_findings(run, [Finding(plugin=plugin.id, rule=f"{plugin.id.upper()}{i}", severity=("LOW", "MEDIUM", "HIGH")[i % 3],
                                                 confidence="HIGH", title=f"finding {i}", message=f"message {i}",
                                                 path=f"src/{plugin.id}_{i}.py", line=i + 1,
                                                 fingerprint=f"{plugin.id}-fp{i}") for i in range(ROWS)])
                store.add_metrics("series", [(1000.0 + i, i * 0.5) for i in range(ROWS)], run_id=run)
                store.add_artifact("evidence", f"{plugin.id}.bin", bytes(range(64)), run_id=run)
            project.finish_run(run, "done", summary={"rows": ROWS, "plugin": plugin.id})
            for table in tables["project"] + tables["skipped"]:
                insert_rows(store, table, None, 3)
        project.set_triage(["code_audit-fp1"], "false_positive", "test input")
        project.set_meta("score_weights", '{"code_audit": 2.0}')
    return path


def raw_edit(path, *statements) -> None:
    """Edit the file with plain sqlite3, as a tamperer would (foreign keys off, no workbench)."""
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA foreign_keys=OFF")
        for sql in statements:
            if isinstance(sql, tuple):
                conn.execute(*sql)
            else:
                conn.execute(sql)
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def first_column(path, table: str, kind: str) -> str:
    """A column of *table* that is not run_id and holds values of *kind* (text or number)."""
    conn = sqlite3.connect(str(path))
    try:
        for c in table_columns(conn, table):
            if c == "run_id":
                continue
            v = conn.execute(f'SELECT "{c}" FROM "{table}" LIMIT 1').fetchone()
            if v is None:
                continue
            if kind == "text" and isinstance(v[0], str) or kind == "number" and isinstance(v[0], (int, float)):
                return c
        return [c for c in table_columns(conn, table) if c != "run_id"][0]
    finally:
        conn.close()


def cli(*argv) -> tuple[int, str]:
    from workbench import cli as wb_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = wb_cli.main([str(a) for a in argv])
    return rc, out.getvalue() + err.getvalue()
