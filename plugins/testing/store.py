"""The testing plugin's tables in the project file, and reading them back.

Kept light (plain SQL strings and small functions): the plugin object
imports MIGRATIONS at start-up.
"""

from __future__ import annotations

import json
import time

MIGRATIONS = (
    (1, """
CREATE TABLE testing_runs (
    run_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, python TEXT, python_version TEXT,
    code_hash TEXT, status TEXT NOT NULL, message TEXT, tests INTEGER, passed INTEGER, failed INTEGER,
    errors INTEGER, skipped INTEGER, flaky INTEGER, coverage_percent REAL, duration REAL);
CREATE TABLE testing_cases (
    run_id INTEGER NOT NULL, test_id TEXT NOT NULL, file TEXT, name TEXT, classname TEXT, outcome TEXT NOT NULL,
    duration REAL, message TEXT, flaky INTEGER NOT NULL DEFAULT 0, reruns TEXT, markers TEXT);
CREATE INDEX testing_cases_run ON testing_cases (run_id, test_id);
CREATE TABLE testing_coverage (
    run_id INTEGER NOT NULL, path TEXT NOT NULL, percent REAL, statements INTEGER, covered_lines INTEGER,
    branches INTEGER, covered_branches INTEGER, missing_ranges TEXT);
CREATE INDEX testing_coverage_run ON testing_coverage (run_id);
CREATE TABLE testing_fuzz (
    run_id INTEGER NOT NULL, entry TEXT NOT NULL, kind TEXT NOT NULL, error_type TEXT, location TEXT,
    message TEXT, minimal_input TEXT, occurrences INTEGER);
CREATE TABLE testing_probes (
    run_id INTEGER NOT NULL, probe_id TEXT NOT NULL, category TEXT, severity TEXT, runs INTEGER,
    answered INTEGER, hits INTEGER, errors INTEGER, hit_rate REAL);
CREATE TABLE testing_transcripts (
    run_id INTEGER NOT NULL, probe_id TEXT NOT NULL, attempt INTEGER, seed INTEGER, temperature REAL,
    prompt TEXT, answer TEXT, hit INTEGER, matched TEXT, latency_s REAL, error TEXT);
"""),
    # Each test group's own coverage (score.py): the files its tests executed.
    (2, """
CREATE TABLE testing_group_coverage (
    run_id INTEGER NOT NULL, grp TEXT NOT NULL, percent REAL, statements INTEGER, covered_lines INTEGER,
    branches INTEGER, covered_branches INTEGER, files INTEGER, PRIMARY KEY (run_id, grp));
"""),
    # coverage.py's parse of a target's files, kept for its next run (runner.run_suite's
    # parse_cache): derived data, outside the project's hashes like every *_cache table.
    (3, """
CREATE TABLE testing_parse_cache (target TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
"""),
)

CASE_COLUMNS = "run_id, test_id, file, name, classname, outcome, duration, message, flaky, reruns, markers"


def case_row(run_id: int, c: dict) -> tuple:
    return (run_id, c["id"], c.get("file"), c.get("name"), c.get("classname"), c["outcome"], c.get("duration"),
            c.get("message"), 1 if c.get("flaky") else 0, _json_list(c.get("reruns")), _json_list(c.get("markers")))


def _json_list(values) -> str:
    return json.dumps(values) if values else "[]"  # most cases have none: skip the encoder


def cases(store, run_id: int, *, failing_only: bool = False) -> list[dict]:
    where = " AND outcome IN ('failed', 'error')" if failing_only else ""
    rows = store.query(f"SELECT {CASE_COLUMNS} FROM testing_cases WHERE run_id=?{where} ORDER BY rowid", (run_id,))
    for r in rows:
        r["id"] = r.pop("test_id")
        r["flaky"] = bool(r["flaky"])
        r["reruns"] = json.loads(r["reruns"] or "[]")
        r["markers"] = json.loads(r["markers"] or "[]")
    return rows


def run_row(store, run_id: int) -> dict | None:
    return store.query_one("SELECT * FROM testing_runs WHERE run_id=?", (run_id,))


def coverage_files(store, run_id: int) -> list[dict]:
    rows = store.query("SELECT path, percent, statements, covered_lines, branches, covered_branches, missing_ranges "
                       "FROM testing_coverage WHERE run_id=? ORDER BY path", (run_id,))
    for r in rows:
        r["missing_ranges"] = json.loads(r["missing_ranges"] or "[]")
    return rows


def group_coverage(store, run_id: int) -> dict[str, dict]:
    """{group: its own coverage row} of a run; empty for imports and runs without per-group data."""
    return {r.pop("grp"): r for r in store.query(
        "SELECT grp, percent, statements, covered_lines, branches, covered_branches, files "
        "FROM testing_group_coverage WHERE run_id=?", (run_id,))}


def fuzz_findings(store, run_id: int) -> list[dict]:
    return store.query("SELECT * FROM testing_fuzz WHERE run_id=? ORDER BY rowid", (run_id,))


def probe_results(store, run_id: int) -> list[dict]:
    return store.query("SELECT * FROM testing_probes WHERE run_id=? ORDER BY rowid", (run_id,))


def transcripts(store, run_id: int) -> list[dict]:
    return store.query("SELECT * FROM testing_transcripts WHERE run_id=? ORDER BY rowid", (run_id,))


_FAILING = "('failed', 'error')"


def compare_in_db(store, previous_id: int | None, run_id: int) -> dict:
    """``compare.compare_runs`` for two stored runs, done by SQLite (for imports of any size)."""
    if previous_id is None:
        return {"previous": False, "new_failures": [], "fixed": [], "still_failing": [], "new_tests": [],
                "removed_tests": []}

    def ids(sql: str, args: tuple) -> list[str]:
        return sorted(r["test_id"] for r in store.query(sql, args))

    joined = ("SELECT c.test_id FROM testing_cases c LEFT JOIN testing_cases p "
              "ON p.run_id=? AND p.test_id=c.test_id WHERE c.run_id=? AND ")
    return {
        "previous": True,
        "new_failures": ids(joined + f"c.outcome IN {_FAILING} AND (p.outcome IS NULL OR p.outcome NOT IN {_FAILING})",
                            (previous_id, run_id)),
        "fixed": ids(joined + f"c.outcome='passed' AND p.outcome IN {_FAILING}", (previous_id, run_id)),
        "still_failing": ids(joined + f"c.outcome IN {_FAILING} AND p.outcome IN {_FAILING}", (previous_id, run_id)),
        "new_tests": ids(joined + "p.test_id IS NULL", (previous_id, run_id)),
        "removed_tests": ids(joined + "p.test_id IS NULL", (run_id, previous_id)),
    }


def flip_rates(store, target: str, last_runs: int = 20) -> dict[str, dict]:
    """``compare.flaky_history`` over the target's last finished pytest runs, reading only tests that ever failed."""
    from .compare import flaky_history

    runs = store.query("SELECT run_id, code_hash FROM testing_runs WHERE target=? AND kind='pytest' AND "
                       "status='done' ORDER BY run_id DESC LIMIT ?", (target, last_runs))[::-1]
    if not runs:
        return {}
    ids = [r["run_id"] for r in runs]
    marks = ",".join("?" * len(ids))
    rows = store.query(
        f"SELECT run_id, test_id, outcome, reruns FROM testing_cases WHERE run_id IN ({marks}) AND test_id IN "
        f"(SELECT DISTINCT test_id FROM testing_cases WHERE run_id IN ({marks}) AND outcome IN {_FAILING})",
        (*ids, *ids))
    by_run: dict[int, list[dict]] = {i: [] for i in ids}
    for r in rows:
        by_run[r["run_id"]].append({"id": r["test_id"], "outcome": r["outcome"],
                                    "reruns": json.loads(r["reruns"] or "[]")})
    return flaky_history([{"code_hash": r["code_hash"], "cases": by_run[r["run_id"]]} for r in runs])


def uncovered_lines(store) -> dict[str, set[int]]:
    """{absolute file path: lines no test executed} from the latest finished pytest run of every target.

    For the cross-pillar view: a code-audit finding on one of these lines is
    "untested". Files the runs did not measure are absent (unknown, not untested).
    """
    import os

    out: dict[str, set[int]] = {}
    for run in store.latest_runs("test"):
        row = run_row(store, run["id"])
        if row is None:
            continue
        for f in coverage_files(store, run["id"]):
            path = f["path"] if os.path.isabs(f["path"]) else os.path.join(row["target"], f["path"])
            lines = out.setdefault(os.path.normpath(path), set())
            for first, last in f["missing_ranges"]:
                lines.update(range(first, last + 1))
    return out


# ------------------------------------------------------------ what the tab lists
def run_list(store) -> list[dict]:
    """Every run (tests and imports), newest first."""
    return store.query("SELECT run_id, kind, target, status, tests, passed, coverage_percent FROM testing_runs "
                       "ORDER BY run_id DESC")


def target_history(store, target: str) -> tuple[int, dict[str, list[tuple[int, float]]]]:
    """(how many runs, {"pass rate": [(n, %)], "coverage": [(n, %)]}) over the runs of *target*
    numbered from 1, oldest first; a run with no test that passed, failed or erred has no pass rate."""
    runs = store.query("SELECT passed, failed, errors, coverage_percent FROM testing_runs WHERE target=? "
                       "ORDER BY run_id", (target,))
    return len(runs), {
        "pass rate": [(i, 100.0 * r["passed"] / (r["passed"] + r["failed"] + r["errors"]))
                      for i, r in enumerate(runs, 1) if r["passed"] + r["failed"] + r["errors"]],
        "coverage": [(i, r["coverage_percent"]) for i, r in enumerate(runs, 1) if r["coverage_percent"] is not None]}


def all_fuzz(store) -> list[list]:
    """Every fuzz crash of every run, newest run first, as the tab's rows."""
    return [[r["entry"], r["kind"], r["error_type"], r["location"], r["minimal_input"][:200], r["occurrences"],
             r["run_id"]] for r in store.query("SELECT entry, kind, error_type, location, minimal_input, occurrences, "
                                               "run_id FROM testing_fuzz ORDER BY run_id DESC")]


def all_probes(store) -> list[list]:
    """Every probe result of every run, newest run first, as the tab's rows (hit rate in %)."""
    return [[r["probe_id"], r["category"], r["severity"], r["hits"], r["answered"], r["errors"],
             "n/a" if r["hit_rate"] is None else f"{r['hit_rate']:.0%}", r["run_id"]]
            for r in store.query("SELECT probe_id, category, severity, hits, answered, errors, hit_rate, run_id "
                                 "FROM testing_probes ORDER BY run_id DESC, rowid")]


def parse_cache(store, target: str) -> dict:
    """The parse cache of ``target`` (an absolute path) kept by its last run; empty if none."""
    row = store.query_one("SELECT data FROM testing_parse_cache WHERE target=?", (target,))
    try:
        return json.loads(row["data"]) if row else {}
    except ValueError:
        return {}  # a damaged entry costs one full parse, nothing else


def save_parse_cache(store, target: str, cache: dict) -> None:
    if not store.readonly:
        store.execute("INSERT OR REPLACE INTO testing_parse_cache (target, data, updated) VALUES (?,?,?)",
                      (target, json.dumps(cache, separators=(",", ":")), time.time()))
