"""The audit's scan on a Ray cluster (``workbench audit --ray``).

The driver walks the tree, consults the per-file caches (keyed by content hash) and plans the same
size-balanced chunks as a local run; only the files still to scan travel, as bytes, with the
``.py`` files of their folders that the cross-file rules read (a setting defined in a sibling
module). A worker writes them into a temporary folder with the same layout, runs the same chunk
function as a local worker process, and deletes the folder. Paths in the results are mapped back
to the tree's, so the findings, fingerprints and caches equal a local run's.
"""

from __future__ import annotations

import os

from workbench.api import active_cluster as cluster, cluster_session as on_cluster  # noqa: F401 (cli, engine)

_SIBLINGS = 200  # as rules._util: the first 200 .py names of a folder are read
_SIBLING_BYTES = 2 * 1024 * 1024


def _root(path: str, rel: str) -> str:
    path = os.path.abspath(path)
    tail = os.sep + rel.replace("/", os.sep)
    return path[: -len(tail)] if path.endswith(tail) else os.path.dirname(path)


def _read(path: str, limit: int) -> bytes | None:
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > limit:
            return None
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except OSError:
        return None


def _payload(chunk: list[tuple[str, str]], with_siblings: bool) -> tuple[dict, list[str], list[str]]:
    """({relpath: bytes}, the chunk's relpaths, those that could not be read here: they are
    audited from their path on the worker, which then gives the same reason as a local run)."""
    from .bandit_runner import MAX_BYTES

    files: dict[str, bytes] = {}
    unread = []
    folders = {}
    for path, rel in chunk:
        data = _read(path, MAX_BYTES)
        if data is None:
            unread.append(rel)
        else:
            files[rel] = data
        if with_siblings:
            folders[os.path.dirname(os.path.abspath(path))] = os.path.dirname(rel.replace("\\", "/"))
    for folder, rel_folder in folders.items():
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))[:_SIBLINGS]
        except OSError:
            continue
        for name in names:
            rel = f"{rel_folder}/{name}" if rel_folder else name
            if rel not in files:
                data = _read(os.path.join(folder, name), _SIBLING_BYTES)
                if data is not None:
                    files[rel] = data
    return files, [rel for _, rel in chunk], unread


def scan_chunk(kind: str, files: dict, rels: list[str], paths: dict, cfg):
    """On a worker: the chunk's files laid out in a temporary folder, scanned as a local worker
    would. Returns the results with paths relative to the tree (``deps``)."""
    import shutil
    import tempfile

    from . import bandit_runner, secrets_scan

    tmp = tempfile.mkdtemp(prefix="wb-audit-")
    try:
        for rel, data in files.items():
            dest = os.path.join(tmp, *rel.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as fh:
                fh.write(data)
        chunk = [(os.path.join(tmp, *rel.split("/")) if rel in files else paths[rel], rel) for rel in rels]
        if kind == "secrets":
            return secrets_scan._scan_chunk(chunk)
        bandit_runner.ensure_rule_pack()
        results = bandit_runner._audit_chunk(chunk, cfg)
        prefix = os.path.abspath(tmp) + os.sep
        for r in results:
            r.deps = {(p[len(prefix):].replace(os.sep, "/") if p.startswith(prefix) else p): sha
                      for p, sha in r.deps.items()}
        return results
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scan(b_chunks, s_chunks, cfg, ctx, done: int, total: int, commit=(None, None, None)):
    """bandit and secrets chunks on the cluster; returns (bandit results, secrets results) as
    ``engine._scan_sources`` expects them from a local pool.

    *commit* is (cache, bandit plan, secrets plan): each chunk's results enter the per-file cache as
    they arrive, so a driver that dies loses at most the chunks in flight and the same command run
    again scans only the files not stored (the run's findings are written at the end, once)."""
    from . import bandit_runner, secrets_scan

    cache, b_plan, s_plan = commit

    c = cluster()
    roots = {}
    items = []
    for kind, chunks in (("bandit", b_chunks), ("secrets", s_chunks)):
        for i, chunk in enumerate(chunks):
            files, rels, unread = _payload(chunk, with_siblings=kind == "bandit")
            paths = {rel: path for path, rel in chunk if rel in unread}
            for path, rel in chunk:
                roots.setdefault(kind, _root(path, rel))
            items.append(((kind, i, len(chunk)), (kind, c.put(files), rels, paths, cfg)))
    b_fresh: list = []
    s_fresh: list = []
    for (kind, _i, n), result in c.run_tasks(scan_chunk, items, ctx=ctx):
        if kind == "bandit":
            for r in result:
                r.deps = {(p if os.path.isabs(p) else os.path.join(roots["bandit"], *p.split("/"))): sha
                          for p, sha in r.deps.items()}
            b_fresh.extend(result)
            if cache is not None and b_plan is not None:
                bandit_runner._store_fresh(cache, result, b_plan.config_hash)
        else:
            s_fresh.extend(result)
            if cache is not None and s_plan is not None:
                secrets_scan.finish_files(s_plan, result, cache_conn=cache)
        done += n
        bandit_runner._progress(ctx, done, total, kind)
    return b_fresh, s_fresh


# ---------------------------------------------------------------- the command's side

def audit_targets(paths: list[str], targets_file: str | None) -> list[str]:
    """The folders named on the command line, then those of ``--targets FILE`` (one a line; blank
    lines and ``#`` comments skipped), each once; a bad line is named with its file and number."""
    from workbench.api import CliError

    out = list(paths or [])
    if targets_file:
        try:
            with open(targets_file, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{targets_file}: cannot read: {exc}") from exc
        base = os.path.dirname(os.path.abspath(targets_file))
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path = line if os.path.isabs(line) else os.path.join(base, line)
            if not os.path.isdir(path):
                raise CliError(f"{targets_file}:{number}: {line}: not a folder")
            out.append(path)
    if not out:
        raise CliError("audit: give a folder to audit, or --targets FILE")
    seen, unique = set(), []
    for path in out:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def audit_many(args, targets: list[str], audit_one) -> tuple[int, dict]:
    """Audit each target as its own run (each keeps its own latest run). Returns the worst exit code
    and the summary ``--summary-json`` gets: {"targets": {path: summary}} and the totals."""
    from workbench.api import CliError

    if args.sarif or args.json or args.csv:
        raise CliError("--sarif/--json/--csv export one target's run: give one target, or export each afterwards")
    summaries, worst = {}, 0
    for path in targets:
        print(f"== {path}")
        code, summary = audit_one(path)
        summaries[path] = summary
        worst = max(worst, code)
    return worst, {"targets": summaries, "files": sum(s.get("files", 0) for s in summaries.values()),
                   "lines": sum(s.get("lines", 0) for s in summaries.values())}
