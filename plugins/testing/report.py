"""The testing plugin's report section, read from the project (the pillar score is score.py)."""

from __future__ import annotations

from workbench.api import KeyValues, LineChart, Paragraph, Section, Table

from . import store as tables
from .score import DEFAULT_WEIGHTS, compute, gather, group_of


def report_sections(store, options=None) -> list[Section]:
    data = gather(store)
    if not (data["tests"] or data["fuzz"] or data["probes"]):
        return [Section("Automated testing", [Paragraph("Not assessed: no test run, import, fuzz or probe run yet.")],
                        "testing")]
    result = compute(data["tests"], data["fuzz"], data["probes"])
    blocks = [_score_block(result)]
    for t in data["tests"]:
        blocks += _test_blocks(store, t)
    if data["tests"]:
        blocks.append(_history_chart(store))
    for f in data["fuzz"]:
        blocks += _fuzz_blocks(store, f)
    for p in data["probes"]:
        blocks += _probe_blocks(store, p)
    return [Section("Automated testing", blocks, "testing")]


def _score_block(result: dict):
    if result["score"] is None:
        return Paragraph("Score T(r): not assessed.")
    items = [("Score T(r) = Σ λᵢ tᵢ(r)", f"{result['score']:.1f} / 100")]
    for g, part in result["groups"].items():
        extra = ""
        if "fuzz_factor" in part:
            extra = f", fuzz factor {part['fuzz_factor']:.2f}, probe factor {part['probe_factor']:.2f}"
        rate = "n/a" if part.get("pass_rate") is None else f"{part['pass_rate']:.0%}"
        cov = ""
        if part.get("coverage") is not None:
            where = "; ".join(_SOURCES[source] for source in part["coverage_source"])
            cov = f", coverage cᵢ {part['coverage']:.1%} ({where})"
        items.append((f"{g} (λ = {DEFAULT_WEIGHTS[g]})", f"t = {part['t']:.3f}; {part.get('cases', 0)} tests, "
                                                         f"pass rate {rate}{cov}{extra}"))
    items.append(("Formula", "T(r) = 100 · Σ λᵢ tᵢ / Σ λᵢ over assessed groups; tᵢ = pass rate pᵢ × cᵢ, the "
                             "group's own coverage (coverage.py percent_covered over the files its tests executed, "
                             "measured per group with coverage contexts in the same run); security also × fuzz "
                             "factor Π 1/(1 + crashes + ½ other failures) × probe factor Π (1 − hit rate) "
                             "(plugins/testing/score.py)"))
    if result.get("coverage_missing"):
        items.append(("Note", "some runs have no coverage measured; they count with coverage 1"))
    return KeyValues(items)


_SOURCES = {"group": "its own", "run": "the run's overall: no per-group data",
            "none": "not measured: counts as 1"}


def _test_blocks(store, t: dict) -> list:
    row, run, cases = t["row"], t["run"], t["cases"]
    summary = run.get("summary") or {}
    cov = "not measured" if row["coverage_percent"] is None else f"{row['coverage_percent']:.2f} %"
    items = [("Target", row["target"]), ("Kind", row["kind"]),
             ("Tests", f"{row['tests']}: {row['passed']} passed, {row['failed']} failed, {row['errors']} errors, "
                       f"{row['skipped']} skipped, {row['flaky']} flaky"),
             ("Coverage (coverage.py percent_covered)", cov)]
    own = tables.group_coverage(store, run["id"])
    if own:
        items.append(("Coverage per group (files its tests executed)", "; ".join(
            f"{g} {c['percent']:.1f} % over {c['files']} file{'s' if c['files'] != 1 else ''}"
            for g, c in sorted(own.items()))))
    if row.get("python_version"):
        items.append(("Interpreter", f"{row['python']} (Python {row['python_version']})"))
    if summary.get("previous_run_id"):
        items.append(("Since the previous run", f"{summary.get('new_failures', 0)} new failures, "
                                                f"{summary.get('fixed', 0)} fixed, {summary.get('still_failing', 0)} "
                                                f"still failing, {summary.get('new_tests', 0)} new tests, "
                                                f"{summary.get('removed_tests', 0)} removed"))
    blocks = [Paragraph(f"Tests: {row['target']}", "note"), KeyValues(items)]
    failing = [c for c in cases if c["outcome"] in ("failed", "error")]
    if failing:
        blocks.append(Table(["Test", "Outcome", "Group", "Message"],
                            [[c["id"], c["outcome"] + (" (flaky)" if c["flaky"] else ""), group_of(c),
                              (c["message"] or "").strip().splitlines()[0][:160] if c["message"] else ""]
                             for c in failing], f"Failing tests ({len(failing)})", max_rows=50,
                            widths=[40, 10, 12, 38]))
    blocks += _untested_blocks(store, row)
    files = tables.coverage_files(store, run["id"])
    if files:
        files.sort(key=lambda f: (f["percent"], f["path"]))
        blocks.append(Table(["File", "Coverage", "Statements", "Branches", "Missing lines"],
                            [[f["path"], f"{f['percent']:.1f} %", f"{f['covered_lines']}/{f['statements']}",
                              f"{f['covered_branches']}/{f['branches']}", _ranges(f["missing_ranges"])]
                             for f in files], "Coverage by file, least covered first", max_rows=30,
                            widths=[35, 10, 12, 11, 32]))
    return blocks


def _untested_blocks(store, row) -> list:
    """Cross-pillar: the code audit's findings of this target on lines no test executed."""
    from .untested import untested_for_target

    if row["kind"] != "pytest":
        return []
    result = untested_for_target(store, row["target"])
    if not result["audited"]:
        return []
    found = result["findings"]
    caption = (f"Code-audit findings on lines no test executes ({len(found)} of {result['audited']} findings "
               "of the latest audit of this target)")
    if not found:
        return [Paragraph(caption + ": none.")]
    return [Table(["Severity", "Where", "Rule", "Finding", "Triage"],
                  [[f["severity"], f"{f['path']}:{f['line']}", f["rule"], f["title"], f["triage"]] for f in found],
                  caption, max_rows=50, widths=[10, 30, 8, 40, 12])]


def _ranges(ranges) -> str:
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
    return text if len(text) <= 80 else text[:79] + "…"


def _history_chart(store):
    pass_rate = [(i, v) for i, (_, v) in enumerate(store.metrics("pass_rate"))]
    coverage = [(i, v) for i, (_, v) in enumerate(store.metrics("coverage_percent"))]
    return LineChart("Pass rate and coverage across runs", "run", "%",
                     {"pass rate": pass_rate, "coverage": coverage})


def _fuzz_blocks(store, f: dict) -> list:
    rows = tables.fuzz_findings(store, f["run"]["id"])
    head = Paragraph(f"Fuzzing {f.get('entry')} ({f.get('input_kind')} input): {f.get('calls', 0)} calls, "
                     f"{f.get('crashes', 0)} crashes, {f.get('timeouts', 0)} timeouts, {f.get('memory', 0)} memory "
                     f"blow-ups, {f.get('nondeterministic', 0)} non-deterministic", "note")
    if not rows:
        return [head, Paragraph("No failure found.")]
    return [head, Table(["Kind", "Error", "Where", "Minimal input"],
                        [[r["kind"], r["error_type"], r["location"], r["minimal_input"][:200]] for r in rows],
                        widths=[14, 16, 30, 40])]


def _probe_blocks(store, p: dict) -> list:
    rows = tables.probe_results(store, p["run"]["id"])
    rate = p.get("hit_rate")
    head = Paragraph(f"Probes against {p.get('url')} (pack {p.get('pack')}, {p.get('runs')} runs each, temperature "
                     f"{p.get('temperature')}, seeds from {p.get('seed')}): hit rate "
                     f"{'n/a' if rate is None else f'{rate:.0%}'}", "note")
    return [head, Table(["Probe", "Category", "Severity", "Hits", "Answered", "Errors", "Hit rate"],
                        [[r["probe_id"], r["category"], r["severity"], r["hits"], r["answered"], r["errors"],
                          "n/a" if r["hit_rate"] is None else f"{r['hit_rate']:.0%}"] for r in rows])]
