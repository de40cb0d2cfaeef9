"""Reading coverage results: coverage.py's JSON report and Cobertura XML.

Both become the same shape::

    {"percent_covered": float, "num_statements": int, "covered_lines": int,
     "num_branches": int, "covered_branches": int,
     "files": {path: {"percent_covered", "num_statements", "covered_lines",
                      "num_branches", "covered_branches",
                      "missing_ranges": [[first, last], ...]}}}

``percent_covered`` is coverage.py's own figure, untouched, so that it equals
``coverage report`` / ``coverage json`` on the same data and configuration.
"""

from __future__ import annotations

import json
import os

from .errors import ImportFileError


def line_ranges(executed, missing) -> list[list[int]]:
    """Missing statements as [first, last] runs, broken only by executed statements.

    Like coverage.py's report: lines that are not statements (blank lines,
    comments) do not break a run.
    """
    missing_set = set(missing)
    ranges: list[list[int]] = []
    current: list[int] | None = None
    for line in sorted(set(executed) | missing_set):
        if line in missing_set:
            if current is None:
                current = [line, line]
                ranges.append(current)
            else:
                current[1] = line
        else:
            current = None
    return ranges


def from_coverage_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    totals = data["totals"]
    files = {}
    for name, entry in data.get("files", {}).items():
        summary = entry["summary"]
        files[name] = {
            "percent_covered": summary["percent_covered"],
            "num_statements": summary["num_statements"],
            "covered_lines": summary["covered_lines"],
            "num_branches": summary.get("num_branches", 0),
            "covered_branches": summary.get("covered_branches", 0),
            "missing_ranges": line_ranges(entry.get("executed_lines", []), entry.get("missing_lines", [])),
        }
    return {
        "percent_covered": totals["percent_covered"],
        "num_statements": totals["num_statements"],
        "covered_lines": totals["covered_lines"],
        "num_branches": totals.get("num_branches", 0),
        "covered_branches": totals.get("covered_branches", 0),
        "files": files,
    }


def from_cobertura(path: str) -> dict:
    """A Cobertura coverage XML (coverage xml, JaCoCo converters, Istanbul, gcovr...)."""
    from .xmlsafe import iter_elements

    files: dict[str, dict] = {}
    totals = {"num_statements": 0, "covered_lines": 0, "num_branches": 0, "covered_branches": 0}
    root_rate = None
    sources: list[str] = []
    lines: dict[int, tuple[int, int, int]] = {}  # line -> (hits, branches, covered branches)
    for event, elem, depth in iter_elements(path, kind="Cobertura coverage"):
        tag = elem.tag
        if event == "start":
            if depth == 0:
                if tag != "coverage":
                    raise ImportFileError(f"{path}: not a Cobertura coverage file (root element <{tag}>, "
                                          "expected <coverage>)")
                root_rate = elem.get("line-rate")
            elif tag == "class":
                lines = {}
            continue
        if tag == "source" and elem.text:
            sources.append(elem.text.strip())
        elif tag == "line" and elem.get("number") is not None:
            try:
                number = int(elem.get("number"))
                hits = int(float(elem.get("hits", "0")))
            except ValueError:
                raise ImportFileError(f"{path}: line element with a bad number or hits attribute "
                                      f"({elem.get('number')!r}, {elem.get('hits')!r})") from None
            branches = covered = 0
            cond = elem.get("condition-coverage")  # e.g. "50% (1/2)"
            if elem.get("branch") == "true" and cond and "(" in cond:
                try:
                    covered, branches = (int(x) for x in cond.split("(")[1].rstrip(")").split("/"))
                except ValueError:
                    branches = covered = 0
            # A line may appear under a class's <lines> and again under its
            # <methods>; counting it once keeps the totals right.
            if number not in lines:
                lines[number] = (hits, branches, covered)
        elif tag == "class":
            name = elem.get("filename") or elem.get("name") or "?"
            entry = files.setdefault(name, {"_lines": {}})
            entry["_lines"].update(lines)
            elem.clear()
        if tag in ("class", "package", "packages"):
            elem.clear()
    out_files = {}
    for name, entry in files.items():
        lmap = entry["_lines"]
        statements = len(lmap)
        covered = sum(1 for h, _, _ in lmap.values() if h > 0)
        branches = sum(b for _, b, _ in lmap.values())
        cbranches = sum(c for _, _, c in lmap.values())
        executed = [n for n, (h, _, _) in lmap.items() if h > 0]
        missing = [n for n, (h, _, _) in lmap.items() if h == 0]
        denominator = statements + branches
        out_files[name] = {
            "percent_covered": 100.0 * (covered + cbranches) / denominator if denominator else 100.0,
            "num_statements": statements, "covered_lines": covered,
            "num_branches": branches, "covered_branches": cbranches,
            "missing_ranges": line_ranges(executed, missing),
        }
        totals["num_statements"] += statements
        totals["covered_lines"] += covered
        totals["num_branches"] += branches
        totals["covered_branches"] += cbranches
    if not out_files and root_rate is None:
        raise ImportFileError(f"{path}: a Cobertura file with no classes and no line-rate: nothing to import")
    denominator = totals["num_statements"] + totals["num_branches"]
    if denominator:
        percent = 100.0 * (totals["covered_lines"] + totals["covered_branches"]) / denominator
    else:
        percent = 100.0 * float(root_rate or 0.0)
    return {"percent_covered": percent, **totals, "files": out_files,
            "sources": sources, "source_file": os.path.abspath(path)}
