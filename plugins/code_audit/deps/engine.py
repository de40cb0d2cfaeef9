"""The ``deps`` job: inventory the target, check it against the OSV snapshot, record provenance.

``inventory`` and ``check_target`` work without a project (the benchmark, ``workbench sbom``);
``run(params, ctx)`` stores findings through ``ctx.store`` like the code audit does, so
triage, fingerprints, SARIF and the report treat them as any other code-audit finding.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

JOB = "deps"
SCANNER = "deps"


@dataclass
class Inventory:
    root: str
    deps: list = field(default_factory=list)
    manifests: list = field(default_factory=list)  # relative paths read
    problems: list = field(default_factory=list)  # (relpath, reason)
    models: list = field(default_factory=list)
    refs: list = field(default_factory=list)


def inventory(target: str, venv: str | None = None, *, models: bool = True) -> Inventory:
    """Every dependency the target declares, pins or (with *venv*) has installed, and its model files."""
    from .manifests import ManifestError, find_manifests, read_manifest, read_venv
    from .provenance import model_files, references

    if not os.path.exists(target):
        raise ValueError(f"{target}: no such file or folder")
    root = target if os.path.isdir(target) else os.path.dirname(target)
    inv = Inventory(root=root)
    seen: set[tuple] = set()
    for path in find_manifests(target):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        try:
            found = read_manifest(path, target)
        except ManifestError as exc:
            inv.problems.append((rel, str(exc)))
            continue
        inv.manifests.append(rel)
        for dep in found:
            # a file included with -r is also found on its own: one record per declaring line
            key = (dep.file, dep.line, dep.name, dep.spec)
            if key not in seen:
                seen.add(key)
                inv.deps.append(dep)
    if venv:
        try:
            inv.deps += read_venv(venv, inv.problems)
        except ManifestError as exc:
            raise ValueError(str(exc)) from exc
        inv.manifests.append(os.path.basename(venv.rstrip("/\\")) + "/ (installed)")
    if models and os.path.isdir(target):
        inv.models = model_files(target, inv.problems)
        inv.refs = references(target, inv.problems)
    return inv


def check_target(target: str, *, venv: str | None = None, index: str | None = None, models: bool = True,
                 previous_models: dict | None = None) -> dict:
    """Inventory and check without a project: {inventory, result, findings, code, snapshot, seconds}."""
    from . import check, provenance
    from .osvdb import Snapshot

    t0 = time.perf_counter()
    with Snapshot(index) as snap:
        if not snap.info["sources"]:
            raise ValueError(f"{snap.info['index']}: no OSV snapshot in it; import one with "
                             "`workbench deps-db import FILE.zip`")
        label = snap.info["snapshot"]
        inv = inventory(target, venv, models=models)
        t1 = time.perf_counter()
        result = check.check(inv.deps, snap)
    t2 = time.perf_counter()
    lines = _LineReader(inv.root, venv)
    from .osvdb import snapshot_label

    cites = {src["ecosystem"]: snapshot_label([src]) for src in snap.info["sources"]}
    findings, code = check.to_findings(result, cites, lines)
    more, more_code = provenance.findings(inv.models, inv.refs, previous_models)
    findings += more
    code.update(more_code)
    from workbench.api import assign_fingerprints

    assign_fingerprints(findings, lambda f: code.get(id(f), ""))
    return {"inventory": inv, "result": result, "findings": findings, "snapshot": label,
            "sources": snap.info["sources"],
            "seconds": {"inventory": round(t1 - t0, 3), "check": round(t2 - t1, 3),
                        "total": round(time.perf_counter() - t0, 3)}}


class _LineReader:
    """The text of a declaring line, for the finding's evidence (files read once)."""

    def __init__(self, root: str, venv: str | None):
        self.root, self.venv = root, venv
        self.cache: dict[str, list[str]] = {}

    def __call__(self, rel: str, line: int) -> str | None:
        if rel not in self.cache:
            path = os.path.join(self.root, rel)
            if self.venv and not os.path.isfile(path):
                path = os.path.join(os.path.dirname(self.venv.rstrip("/\\")), rel)
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    self.cache[rel] = fh.read(4 * 1024 * 1024).splitlines()
            except OSError:
                self.cache[rel] = []
        lines = self.cache[rel]
        return lines[line - 1].strip() if 0 < line <= len(lines) else None


def summary_of(checked: dict) -> dict:
    result, inv = checked["result"], checked["inventory"]
    from .osvdb import normalise_name

    by_sev = {"HIGH": 0, "MEDIUM": 0, "LOW": 0}
    for f in checked["findings"]:
        by_sev[f.severity] += 1
    vulnerable = {normalise_name(m.dep.ecosystem, m.dep.name) for m in result.matches}
    return {
        "target": inv.root,
        "packages": result.packages,
        "vulnerable_packages": len(vulnerable),
        "advisories": len({m.advisory["id"] for m in result.matches}),
        "snapshot": checked["snapshot"],
        "snapshot_sources": [{k: s[k] for k in ("ecosystem", "file", "sha256", "snapshot_date", "advisories")}
                             for s in checked["sources"]],
        "manifests": len(inv.manifests),
        "dependencies": len(inv.deps),
        "unchecked": len(result.unchecked),
        "fixes": {k: v for k, v in sorted(result.fixes.items())},
        "findings": by_sev,
        "model_files": len(inv.models),
        "model_references": len(inv.refs),
        "unpinned_references": sum(1 for r in inv.refs if r["pinned"] is False),
        # path -> SHA-256: the next run of this target compares with it
        "models": {m["path"]: m["sha256"] for m in inv.models},
        "skipped": len(inv.problems),
        "seconds": checked["seconds"],
    }


def run(params, ctx) -> dict:
    """The job: check, store findings and the files read, compare with the previous run of the target."""
    from .. import store as tables
    from ..engine import diff_runs

    store = ctx.store
    previous = store.previous_run(ctx.run_id)
    previous_models = ((previous.summary if previous else None) or {}).get("models") or {}
    ctx.progress(0, 1, "reading manifests")
    checked = check_target(params.target, venv=params.venv, index=params.index, models=params.include_models,
                           previous_models=previous_models)
    ctx.check_cancelled()
    inv = checked["inventory"]
    with store.transaction():
        store.add_findings(ctx.run_id, checked["findings"])
        tables.record_skipped(store, ctx.run_id, [(p, SCANNER, r) for p, r in inv.problems])
        scanned = {SCANNER: list(inv.manifests) + sorted({d.file for d in inv.deps if d.kind == "venv"})
                   + [r["file"] for r in inv.refs]}
        if params.include_models:
            scanned[SCANNER] += [m["path"] for m in inv.models]
        tables.record_scanned(store, ctx.run_id, scanned)
    changes = diff_deps(store, ctx.run_id, diff_runs)
    summary = summary_of(checked)
    summary.update({k: len(changes[k]) for k in ("new", "unchanged", "fixed", "not_checked")})
    ctx.progress(1, 1, "done")
    return summary


def diff_deps(store, run_id: int, diff_runs) -> dict:
    """The code audit's diff, where a dependency or provenance finding whose file this run read again
    and did not find is *fixed* (the code audit's scanner table does not know this scanner)."""
    from .. import store as tables

    changes = diff_runs(store, run_id)
    if changes.get("previous_run_id") is None or not changes["not_checked"]:
        return changes
    checked = {p for p, s in tables.scanned_files(store, run_id) if s == SCANNER}
    unchecked = set(changes["not_checked"])
    moved = {f.fingerprint for f in store.findings(run_id=changes["previous_run_id"])
             if f.fingerprint in unchecked and f.path in checked}
    changes["fixed"] = sorted(set(changes["fixed"]) | moved)
    changes["not_checked"] = sorted(unchecked - moved)
    return changes
