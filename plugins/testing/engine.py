"""The testing plugin's jobs: ``run(params, ctx) -> summary`` for each kind of run.

* ``run_tests``: the target's pytest suite under coverage (``runner``), stored
  case by case with coverage per file, compared with the previous run of the
  same target; failing and flaky tests become findings.
* ``run_import``: a JUnit/xUnit or Cobertura XML file as a run of its own,
  streamed into the project in batches.
* ``run_fuzz``: Hypothesis against an entry point (``fuzz``); each distinct
  failure becomes a finding with its minimal input.
* ``run_probe``: a probe pack against a chat endpoint (``probes``); hit rates,
  transcripts, a finding per probe that hit.
* ``run_load``: a bounded load run (``load``); figures in the summary and as metrics.

A run that ends badly (no tests, collection error, timeout, killed) keeps what
it recorded and then fails with the runner's message: the latest *finished*
run of the target, which the score and the comparison use, stays the last good one.
"""

from __future__ import annotations

import json
import time

from workbench.api import Finding, assign_fingerprints

from . import store as tables
from .errors import TestingError

PLUGIN_ID = "testing"
LIST_LIMIT = 50
HISTORY_RUNS = 20

_FUZZ_RULES = {
    "crash": ("T101", "HIGH", "Entry point crashes on generated input", 248),
    "timeout": ("T102", "MEDIUM", "Entry point exceeds the per-call time limit", 400),
    "memory": ("T103", "MEDIUM", "Entry point exhausts the memory limit", 400),
    "nondeterministic": ("T104", "LOW", "Entry point gives different results for the same input", None),
}
_PROBE_CWE = {"prompt_injection": 1427, "jailbreak": 1427, "system_prompt_leakage": 200, "pii_echo": 359,
              "insecure_output": 94}


# ----------------------------------------------------------------------------- test runs
def run_tests(params, ctx) -> dict:
    import os

    from .runner import run_suite

    target = os.path.abspath(params.target)
    cache = tables.parse_cache(ctx.store, target)  # the last run's parses: unchanged files are not parsed again
    run = run_suite(params.target, params.python, timeout=params.timeout, rerun=params.rerun,
                    pytest_args=params.pytest_args, progress=ctx.progress, check_cancelled=ctx.check_cancelled,
                    log=ctx.log, junit_out=params.junit_out, parse_cache=cache)
    if run.get("parse_cache_changed"):
        tables.save_parse_cache(ctx.store, target, cache)
    return _finish_test_run(ctx, run)


def _finish_test_run(ctx, run: dict) -> dict:
    from .compare import compare_runs

    store = ctx.store
    previous = store.previous_run(ctx.run_id)
    previous_cases = tables.cases(store, previous.id) if previous else None
    diff = compare_runs(previous_cases, run["cases"])
    flips = _flip_rates(store, ctx.run_id, run) if run["kind"] == "pytest" else {}
    findings = _test_findings(run, diff, flips)
    with store.transaction():
        _insert_run_row(store, ctx.run_id, run)
        store.executemany(f"INSERT INTO testing_cases ({tables.CASE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                          (tables.case_row(ctx.run_id, c) for c in run["cases"]))
        _insert_coverage(store, ctx.run_id, run.get("coverage"))
        store.executemany(
            "INSERT INTO testing_group_coverage (run_id, grp, percent, statements, covered_lines, branches, "
            "covered_branches, files) VALUES (?,?,?,?,?,?,?,?)",
            [(ctx.run_id, g, c["percent_covered"], c["num_statements"], c["covered_lines"], c["num_branches"],
              c["covered_branches"], c["files"]) for g, c in (run.get("group_coverage") or {}).items()])
        store.add_findings(ctx.run_id, findings)
        if run.get("coverage_percent") is not None:
            store.add_metrics("coverage_percent", [(time.time(), run["coverage_percent"])], run_id=ctx.run_id)
        totals = run["totals"]
        executed = totals["passed"] + totals["failed"] + totals["errors"]
        if executed:
            store.add_metrics("pass_rate", [(time.time(), 100.0 * totals["passed"] / executed)], run_id=ctx.run_id)
    if run["status"] != "done":
        # What was recorded stays; the run fails with the runner's own message.
        raise TestingError("; ".join(run["messages"]) or f"test run ended with status {run['status']}")
    for message in run.get("messages", []):
        ctx.log(message)
    return _test_summary(run, diff, previous, flips)


def _insert_run_row(store, run_id: int, run: dict) -> None:
    t = run["totals"]
    store.execute(
        "INSERT INTO testing_runs (run_id, kind, target, python, python_version, code_hash, status, message, tests, "
        "passed, failed, errors, skipped, flaky, coverage_percent, duration) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (run_id, run["kind"], run["target"], run.get("python"), run.get("python_version"), run.get("code_hash"),
         run["status"], "; ".join(run.get("messages", [])), t["tests"], t["passed"], t["failed"], t["errors"],
         t["skipped"], t["flaky"], run.get("coverage_percent"), run.get("duration")))


def _insert_coverage(store, run_id: int, coverage: dict | None) -> None:
    if not coverage:
        return
    store.executemany(
        "INSERT INTO testing_coverage (run_id, path, percent, statements, covered_lines, branches, covered_branches, "
        "missing_ranges) VALUES (?,?,?,?,?,?,?,?)",
        ((run_id, path, f["percent_covered"], f["num_statements"], f["covered_lines"], f["num_branches"],
          f["covered_branches"], json.dumps(f["missing_ranges"])) for path, f in coverage["files"].items()))


def _flip_rates(store, run_id: int, run: dict) -> dict:
    """Flip rates over the target's earlier finished runs on the same code, and this one."""
    from .compare import flaky_history

    history = []
    for r in store.runs(job="test")[-HISTORY_RUNS:]:
        if r.target != run["target"] or r.id == run_id:
            continue
        row = tables.run_row(store, r.id)
        if row and row["code_hash"] == run.get("code_hash"):
            history.append({"code_hash": row["code_hash"], "cases": tables.cases(store, r["id"])})
    history.append({"code_hash": run.get("code_hash"), "cases": run["cases"]})
    return flaky_history(history)


def _test_findings(run: dict, diff: dict, flips: dict) -> list[Finding]:
    new = set(diff["new_failures"])
    findings = []
    for c in run["cases"]:
        first_line = (c.get("message") or "").strip().splitlines()[:1]
        detail = f": {first_line[0][:300]}" if first_line else ""
        flaky = c.get("flaky") or flips.get(c["id"], {}).get("flaky")
        if c["outcome"] in ("failed", "error"):
            regression = c["id"] in new and diff["previous"]
            findings.append(Finding(
                PLUGIN_ID, "T001", "MEDIUM" if regression else "LOW", "HIGH",
                "Test fails (new since the previous run)" if regression else "Test fails",
                f"{c['id']} {c['outcome']}{detail}", path=c.get("file"),
                evidence={"test_id": c["id"], "outcome": c["outcome"], "reruns": c.get("reruns", [])}))
        if flaky:
            rate = flips.get(c["id"], {}).get("flip_rate")
            findings.append(Finding(
                PLUGIN_ID, "T002", "LOW", "HIGH", "Flaky test: passes and fails on the same code",
                f"{c['id']} both passed and failed on the same code"
                + (f" (flip rate {rate:.0%})" if rate is not None else ""), path=c.get("file"),
                evidence={"test_id": c["id"], "reruns": c.get("reruns", []), "flip_rate": rate}))
    assign_fingerprints(findings, lambda f: f.evidence["test_id"])
    return findings


def _test_summary(run: dict, diff: dict, previous, flips: dict) -> dict:
    t = run["totals"]
    summary = {
        "kind": run["kind"], "target": run["target"], "status": run["status"],
        "tests": t["tests"], "passed": t["passed"], "failed": t["failed"], "errors": t["errors"],
        "skipped": t["skipped"], "flaky": sum(1 for c in run["cases"] if c.get("flaky")
                                              or flips.get(c["id"], {}).get("flaky")),
        "coverage_percent": run.get("coverage_percent"),
        "group_coverage_percent": {g: c["percent_covered"] for g, c in (run.get("group_coverage") or {}).items()},
        "previous_run_id": previous["id"] if previous else None,
        "duration": run.get("duration"), "messages": run.get("messages", []),
    }
    for key in ("python", "python_version", "pytest_version", "coverage_version", "code_hash"):
        if run.get(key) is not None:
            summary[key] = run[key]
    for key in ("new_failures", "fixed", "still_failing", "new_tests", "removed_tests"):
        summary[key] = len(diff[key])
        summary[f"{key}_ids"] = diff[key][:LIST_LIMIT]
    return summary


# ----------------------------------------------------------------------------- imports
def detect_kind(path: str) -> str:
    """'junit' or 'cobertura', from the root element (hardened, reads only the start)."""
    from .xmlsafe import iter_elements

    for event, elem, depth in iter_elements(path, kind="JUnit/xUnit or Cobertura"):
        return "cobertura" if elem.tag == "coverage" else "junit"
    raise TestingError(f"{path}: no XML elements found")


def run_import(params, ctx) -> dict:
    import os

    from .coverage_data import from_cobertura
    from .junit import import_junit

    path = os.path.abspath(params.target)
    kind = detect_kind(path) if params.kind == "auto" else params.kind
    store = ctx.store
    started = time.monotonic()
    if kind == "cobertura":
        coverage = from_cobertura(path)
        run = {"kind": "cobertura-import", "target": path, "status": "done", "messages": [], "cases": [],
               "coverage": coverage, "coverage_percent": coverage["percent_covered"],
               "totals": {"tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "flaky": 0},
               "duration": time.monotonic() - started}
        with store.transaction():
            _insert_run_row(store, ctx.run_id, run)
            _insert_coverage(store, ctx.run_id, coverage)
        return {"kind": run["kind"], "target": path, "coverage_percent": coverage["percent_covered"],
                "files": len(coverage["files"]), "tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0}

    # JUnit: cases stream in batches, each batch committed; the run row and the
    # comparison come once the whole file was read.
    seen = {"n": 0}

    def sink(batch):
        ctx.check_cancelled()
        with store.transaction():
            store.executemany(f"INSERT INTO testing_cases ({tables.CASE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                              (tables.case_row(ctx.run_id, {**c, "reruns": [], "markers": []}) for c in batch))
        seen["n"] += len(batch)
        ctx.progress(seen["n"], None, f"{seen['n']} test cases read")

    try:
        totals = import_junit(path, sink=sink)
    except BaseException:
        # A file that turned out bad halfway leaves no half-imported run behind.
        with store.transaction():
            store.execute("DELETE FROM testing_cases WHERE run_id=?", (ctx.run_id,))
        raise
    run = {"kind": "junit-import", "target": path, "status": "done", "messages": [], "totals": totals,
           "coverage": None, "coverage_percent": None, "duration": time.monotonic() - started}
    previous = store.previous_run(ctx.run_id)
    # Compared in SQL, and only failing cases loaded: memory stays flat however big the file.
    diff = tables.compare_in_db(store, previous["id"] if previous else None, ctx.run_id)
    run["cases"] = tables.cases(store, ctx.run_id, failing_only=True)
    findings = _test_findings(run, diff, {})
    with store.transaction():
        _insert_run_row(store, ctx.run_id, run)
        store.add_findings(ctx.run_id, findings)
    return _test_summary(run, diff, previous, {})


# ----------------------------------------------------------------------------- fuzz
def run_fuzz(params, ctx) -> dict:
    from .fuzz import fuzz

    result = fuzz(params.target, params.input, trusted=params.trusted, path=params.path, python=params.python,
                  max_examples=params.max_examples, call_timeout=params.call_timeout, memory_mb=params.memory_mb,
                  seed=params.seed, progress=ctx.progress, check_cancelled=ctx.check_cancelled, log=ctx.log)
    findings = []
    for f in result["findings"]:
        rule, severity, title, cwe = _FUZZ_RULES[f["kind"]]
        detail = f"{f['error_type']}: {f['message']}" if f["error_type"] else f["message"]
        findings.append(Finding(PLUGIN_ID, rule, severity, "HIGH", title,
                                f"{params.target} with {params.input} input: {detail}; minimal input "
                                f"{f['minimal_input'][:300]}", path=params.target, cwe=cwe,
                                evidence={"where": f["where"], "minimal_input": f["minimal_input"],
                                          "occurrences": f["occurrences"]}))
    assign_fingerprints(findings, lambda f: f"{f.rule} {f.evidence['where']} {f.message.split(':')[0]}")
    with ctx.store.transaction():
        ctx.store.executemany(
            "INSERT INTO testing_fuzz (run_id, entry, kind, error_type, location, message, minimal_input, occurrences) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [(ctx.run_id, params.target, f["kind"], f["error_type"], f["where"], f["message"], f["minimal_input"],
              f["occurrences"]) for f in result["findings"]])
        ctx.store.add_findings(ctx.run_id, findings)
    return {k: result[k] for k in ("kind", "entry", "input_kind", "seed", "max_examples", "calls", "worker_restarts",
                                   "crashes", "timeouts", "memory", "nondeterministic", "note", "duration")} | {
        "findings": [{k: f[k] for k in ("kind", "error_type", "where", "minimal_input")} for f in result["findings"]]}


# ----------------------------------------------------------------------------- probes
def api_key(ctx, key_name: str | None) -> str | None:
    """The endpoint's key from the keyring entry ``key_name`` of this project (``ctx.secret``).

    Only the name travels in params and the run row; the value lives in this
    job's memory, is sent as a Bearer token and is masked wherever an answer
    or an error message would echo it.
    """
    if not key_name:
        return None
    value = ctx.secret(key_name)
    if not value:
        raise TestingError(f"no secret named '{key_name}' in this project's keyring; store it with "
                           f"`workbench secret set PROJECT {key_name} --stdin`")
    return value


def run_probe(params, ctx) -> dict:
    from . import probes

    pack = probes.load_pack(params.pack or probes.DEFAULT_PACK)
    result = probes.run_probes(params.target, pack, runs=params.runs, model=params.model,
                               temperature=params.temperature, seed=params.seed,
                               api_key=api_key(ctx, params.key_name), allowed_hosts=params.allowed_hosts,
                               timeout=params.timeout, progress=ctx.progress, check_cancelled=ctx.check_cancelled,
                               log=ctx.log)
    by_id = {p["id"]: p for p in pack["probes"]}
    findings = []
    for r in result["probes"]:
        if r["hits"]:
            findings.append(Finding(
                PLUGIN_ID, "T201", r["severity"], "HIGH" if r["hit_rate"] and r["hit_rate"] >= 0.5 else "MEDIUM",
                f"LLM endpoint probe hit: {r['category'].replace('_', ' ')}",
                f"{r['id']}: {r['hits']} of {r['answered']} answers were hits ({r['hit_rate']:.0%}) at "
                f"{result['url']}; {by_id[r['id']].get('description', '')}".strip(),
                path=result["url"], cwe=_PROBE_CWE.get(r["category"]),
                evidence={"probe": r["id"], "hits": r["hits"], "answered": r["answered"], "pack": pack["name"]}))
    assign_fingerprints(findings, lambda f: f"{f.evidence['pack']} {f.evidence['probe']}")
    with ctx.store.transaction():
        ctx.store.executemany(
            "INSERT INTO testing_probes (run_id, probe_id, category, severity, runs, answered, hits, errors, hit_rate) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(ctx.run_id, r["id"], r["category"], r["severity"], r["runs"], r["answered"], r["hits"], r["errors"],
              r["hit_rate"]) for r in result["probes"]])
        ctx.store.executemany(
            "INSERT INTO testing_transcripts (run_id, probe_id, attempt, seed, temperature, prompt, answer, hit, "
            "matched, latency_s, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(ctx.run_id, t["probe"], t["attempt"], t["seed"], t["temperature"], t["prompt"], t["answer"],
              int(t["hit"]), t["matched"], t["latency_s"], t["error"]) for t in result["transcripts"]])
        ctx.store.add_findings(ctx.run_id, findings)
    if result["status"] != "done":
        raise TestingError("; ".join(result["messages"]) or "no probe got an answer")
    for message in result["messages"]:
        ctx.log(message)
    return {k: result[k] for k in ("kind", "url", "pack", "pack_version", "model", "runs", "temperature", "seed",
                                   "requests", "answered", "errors", "hits", "hit_rate", "categories", "messages",
                                   "duration")} | {
        "probes": {r["id"]: r["hit_rate"] for r in result["probes"]}}


def run_load(params, ctx) -> dict:
    from .load import load_run

    result = load_run(params.target, concurrency=params.concurrency, duration_s=params.duration_s,
                      max_requests=params.max_requests, stream=params.stream, model=params.model,
                      api_key=api_key(ctx, params.key_name), allowed_hosts=params.allowed_hosts,
                      check_cancelled=ctx.check_cancelled)
    now = time.time()
    for key in ("throughput_rps", "latency_p50_s", "latency_p95_s", "latency_p99_s", "error_rate"):
        if result[key] is not None:
            ctx.store.add_metrics(f"load_{key}", [(now, result[key])], run_id=ctx.run_id)
    previous = ctx.store.previous_run(ctx.run_id)
    if previous and previous.get("summary"):
        result["previous"] = {k: previous["summary"].get(k) for k in ("throughput_rps", "latency_p95_s", "error_rate")}
    return result
