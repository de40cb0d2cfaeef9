"""Bandit in-process, over worker processes, with a per-file result cache.

Each worker holds one ``BanditManager`` built from the same configuration
as the bandit CLI would use, and audits chunks of files. Bandit always runs
with ``ignore_nosec=True``; we then decide ourselves, with bandit's own
parsing and matching rules, which results a ``# nosec`` would have hidden,
and keep those as *suppressed* findings instead of dropping them. A
``# nosec`` naming something that is not a known test id or name is
reported as rule B900 (bandit ignores such names, so ``# nosec reviewed by
bob`` silently silences the whole line).
"""

from __future__ import annotations

import hashlib
import io
import os
import tokenize
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from .bandit_config import AuditConfig

# bandit -r audits a source file of any size, so a padded file (a few lines of code, then
# megabytes of comment) must be audited too. Past this a file is not audited, and that is
# itself a finding (engine.not_audited_findings), so a --fail-on gate never passes it.
MAX_BYTES = 128 * 1024 * 1024
CHUNK_BYTES = 192 * 1024
CHUNK_FILES = 48
IN_PROCESS_BELOW = 64 * 1024  # small jobs are faster without a pool
NOSEC_UNKNOWN_ID = "B900"


@dataclass
class FileResult:
    relpath: str
    sha256: str = ""
    lines: int = 0
    issues: list[dict] = field(default_factory=list)
    skipped: str | None = None  # reason, when the file could not be audited
    cached: bool = False
    #: other files the rules read for this file (a setting defined in a sibling module): path -> sha256
    deps: dict = field(default_factory=dict)

    def as_cache(self) -> dict:
        """What the project's cache keeps: no source text and no digest of it, so no secret on a
        flagged line reaches the project file, not even as a hash that a guess of the line could be
        checked against; the code is re-read from the file when needed."""
        from .masking import mask_issue_text

        issues = [{**{k: v for k, v in issue.items() if k not in ("code", "code_sha")}, "text": mask_issue_text(issue)}
                  for issue in self.issues]
        return {"lines": self.lines, "issues": issues, "skipped": self.skipped, "deps": self.deps}


# --------------------------------------------------------------------------
# rule pack registration

class _PluginRef:
    """Looks like a stevedore extension to bandit's BanditTestSet."""

    def __init__(self, name, plugin):
        self.name = name
        self.plugin = plugin
        self.entry_point = None


def ensure_rule_pack() -> list[str]:
    """Add our rules to bandit's extension manager unless entry points did.

    Lets the runner use the pack before ``pip install -e .`` has refreshed
    the ``bandit.plugins`` entry points. Returns the ids added.
    """
    import importlib

    from bandit.core import extension_loader

    from .rules.catalog import RULES

    extman = extension_loader.MANAGER
    added = []
    for info in RULES:
        if info.id in extman.plugins_by_id:
            continue
        module = importlib.import_module(f"{__package__}.rules.{info.module}")
        ref = _PluginRef(info.name, getattr(module, info.name))
        extman.plugins.append(ref)
        extman.plugins_by_id[info.id] = ref
        extman.plugins_by_name[info.name] = ref
        extman.plugin_names.append(info.name)
        added.append(info.id)
    return added


# --------------------------------------------------------------------------
# one file

_MANAGER = None  # per process: (config hash, BanditManager)
_TUNED = False


TUNED_BANDIT_SERIES = ("1.8.", "1.9.")


def _tune_bandit() -> None:
    """Semantics-preserving speed-ups of bandit's per-node hot path.

    We always run with ``ignore_nosec=True``, so bandit's ``nosec_lines`` is
    empty; its ``get_nosec`` still walks the whole line range of every node
    for every test (about 12% of the time on the stdlib). The replacement
    returns the same value, None, at once when there is nothing to find.
    Bandit's per-test debug logging is silenced by disabling its loggers.

    Around ``BanditTester.run_tests``, which runs once per node and test: with no nosec
    lines its nosec look-up is None at once; ``copy.copy`` of the per-node context (a
    plain dict) is ``dict.copy``, the same copy; debug messages go to a no-op instead of
    a disabled logger. ``update_scores`` skips adding all-zero scores (most nodes have
    no test). Warnings and errors still reach bandit's loggers.
    """
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    from importlib.metadata import version

    # The patches below rest on bandit's internal names, read in 1.8 and 1.9 (and checked there by the
    # parity tests against `bandit -r`): any other version runs as bandit wrote it, only slower.
    if not version("bandit").startswith(TUNED_BANDIT_SERIES):
        return
    import logging
    import operator
    import types

    from bandit.core import node_visitor as b_node_visitor
    from bandit.core import tester as b_tester
    from bandit.core import utils as b_utils

    original = b_utils.get_nosec

    def get_nosec(nosec_lines, context):
        if not nosec_lines:
            return None
        return original(nosec_lines, context)

    b_utils.get_nosec = get_nosec

    original_nosecs = b_tester.BanditTester._get_nosecs_from_contexts

    def get_nosecs_from_contexts(self, context, test_result=None):
        if not self.nosec_lines:
            return None  # what bandit's own code returns with no nosec line
        return original_nosecs(self, context, test_result)

    b_tester.BanditTester._get_nosecs_from_contexts = get_nosecs_from_contexts

    # bandit's contexts are plain dicts, whose copy.copy is their .copy(); methodcaller
    # makes that call without a Python frame per node and test.
    b_tester.copy = types.SimpleNamespace(copy=operator.methodcaller("copy"))
    for module in (b_tester, b_node_visitor):
        module.LOG = _QuietDebug(module.LOG)

    original_update = b_node_visitor.BanditNodeVisitor.update_scores

    def update_scores(self, scores):
        if any(scores["SEVERITY"]) or any(scores["CONFIDENCE"]):
            original_update(self, scores)

    b_node_visitor.BanditNodeVisitor.update_scores = update_scores

    # A node of a type with no ``visit_<type>`` method and no test (Load, Store, Name, ...: most
    # nodes) gets from bandit only a fresh context, a depth count and debug logging around its
    # children's visit: nothing a test can see, since every node with a test or visit method
    # builds its own context first. Such a node goes straight to its children. The walk keeps
    # bandit's parent and sibling links and one frame per level of nesting, as bandit's own
    # walk does, so a deeply nested file fails (RecursionError) where bandit's walk would.
    import ast

    original_generic_visit = b_node_visitor.BanditNodeVisitor.generic_visit

    def generic_visit(self, node):
        if self.debug:
            return original_generic_visit(self, node)
        testset = self.testset
        try:
            quiet_types = testset._wb_quiet_types  # per test set: another one has other tests
        except AttributeError:
            quiet_types = testset._wb_quiet_types = {}
        children = []
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                last = len(value) - 1
                children += [(item, value[i + 1] if i < last else None)
                             for i, item in enumerate(value) if isinstance(item, ast.AST)]
            elif isinstance(value, ast.AST):
                children.append((value, None))
        for child, sibling in children:
            child._bandit_sibling = sibling
            child._bandit_parent = node
            kind = type(child)
            quiet = quiet_types.get(kind)
            if quiet is None:
                quiet = quiet_types[kind] = (getattr(self, "visit_" + kind.__name__, None) is None
                                             and not testset.get_tests(kind.__name__))
            if quiet:
                self.generic_visit(child)
            elif self.pre_visit(child):
                self.visit(child)
                self.generic_visit(child)
                self.post_visit(child)

    b_node_visitor.BanditNodeVisitor.generic_visit = generic_visit
    for name in ("bandit.core.tester", "bandit.core.node_visitor", "bandit.core.manager",
                 "bandit.core.test_set", "bandit.core.context"):
        logging.getLogger(name).disabled = True


class _QuietDebug:
    """A logger whose ``debug`` does nothing (bandit's are disabled anyway); the rest is the logger's."""

    def __init__(self, logger):
        self._logger = logger

    def debug(self, *args, **kwargs) -> None:
        pass

    def __getattr__(self, name):
        return getattr(self._logger, name)


def _manager(cfg: AuditConfig):
    global _MANAGER
    key = cfg.cache_hash()
    if _MANAGER is None or _MANAGER[0] != key:
        import logging

        from bandit.core import config as b_config
        from bandit.core import manager as b_manager

        # bandit logs parse errors per file; we record them as skipped files.
        logging.getLogger("bandit").setLevel(logging.CRITICAL)
        _tune_bandit()
        ensure_rule_pack()
        conf = b_config.BanditConfig(config_file=cfg.config_file)
        mgr = b_manager.BanditManager(conf, "file", profile=cfg.profile(), quiet=True,
                                      ignore_nosec=True)
        _MANAGER = (key, mgr)
    return _MANAGER[1]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def precheck(data: bytes) -> tuple[str | None, str | None]:
    """(reason to skip, text) — text is the decoded source when auditable."""
    if len(data) > MAX_BYTES:
        return f"too large (over {MAX_BYTES:,} bytes)", None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 encoded: Python reads source as UTF-8 or a declared 8-bit encoding", None
    if b"\x00" in data:
        return "binary file (NUL bytes)", None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return None, data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return f"undecodable: {exc}", None


def _nosec_map(data: bytes):
    """bandit's nosec_lines for this file, plus unknown names per line."""
    from bandit.core import extension_loader
    from bandit.core import manager as b_manager

    extman = extension_loader.MANAGER
    lines: dict[int, set] = {}
    unknown: list[tuple[int, list[str]]] = []
    if b"nosec" not in data:
        return lines, unknown
    try:
        for tok in tokenize.tokenize(io.BytesIO(data).readline):
            if tok.type != tokenize.COMMENT:
                continue
            parsed = b_manager._parse_nosec_comment(tok.string)
            if parsed is None:
                continue
            lines[tok.start[0]] = parsed
            names = _unknown_names(tok.string, extman)
            if names:
                unknown.append((tok.start[0], names))
    except (tokenize.TokenError, SyntaxError):
        pass  # bandit also carries on with what it tokenised
    return lines, unknown


def _unknown_names(comment: str, extman) -> list[str]:
    from bandit.core import manager as b_manager

    match = b_manager.NOSEC_COMMENT.search(comment)
    names = match.group("tests") if match else None
    if not names:
        return []
    out = []
    for test in b_manager.NOSEC_COMMENT_TESTS.finditer(names):
        name = test.group(1)
        if not (extman.check_id(name) or extman.get_test_id(name)):
            out.append(name)
    return out


def _suppressed(issue, nosec_lines: dict[int, set]) -> bool:
    """bandit's BanditTester rule: the issue's line, then its line range."""
    base = nosec_lines.get(issue.lineno)
    ctx = next((nosec_lines[n] for n in issue.linerange if n in nosec_lines), None)
    if base is None and ctx is None:
        return False
    tests = set(base or ()) | set(ctx or ())
    return not tests or issue.test_id in tests


def _test_name(issue) -> str:
    """bandit's name for the test; blacklist hits get the blacklist entry's name."""
    if issue.test != "blacklist":
        return issue.test
    from bandit.core import extension_loader

    entry = extension_loader.MANAGER.blacklist_by_id.get(issue.test_id)
    return entry["name"] if entry else issue.test


def code_digest(code: str) -> str:
    """Identity of the flagged code for fingerprints: kept in the cache instead of the code."""
    from workbench.api import normalise_code

    return sha256_bytes(normalise_code(code).encode("utf-8", "surrogatepass"))


#: rules whose flagged code holds a secret value (passwords, AI keys)
VALUE_RULES = frozenset({"B105", "B106", "B107", "B908"})
_STRING_BODY = None


def identity_code(test_id: str, code: str) -> str:
    """The code a finding's identity is computed from (``engine`` digests it after masking, so
    no digest of a secret value is stored). For a rule that reports a secret value, string
    literals are emptied too: a value the masking did not locate must not reach the digest."""
    global _STRING_BODY
    if test_id not in VALUE_RULES:
        return code
    if _STRING_BODY is None:
        import re

        _STRING_BODY = re.compile(r"""(?P<q>['"])(?:\\.|(?!(?P=q)).)*(?P=q)""")
    return _STRING_BODY.sub(lambda m: m.group("q") * 2, code)


def _issue_dict(issue, text_lines: list[str], suppressed: bool) -> dict:
    rng = issue.linerange or [issue.lineno]
    first, last = min(rng), max(rng)
    code = "\n".join(text_lines[first - 1:last])
    return {
        "test_id": issue.test_id,
        "test_name": _test_name(issue),
        "severity": issue.severity,
        "confidence": issue.confidence,
        "cwe": issue.cwe.id or None,
        "text": issue.text,
        "line": issue.lineno,
        "end_line": last,
        "col": issue.col_offset,
        "code": code,
        "suppressed": suppressed,
    }


def _unknown_nosec_issue(line: int, names: list[str], text_lines: list[str]) -> dict:
    return {
        "test_id": NOSEC_UNKNOWN_ID,
        "test_name": "nosec_unknown_test",
        "severity": "LOW",
        "confidence": "HIGH",
        "cwe": None,
        "text": (f"'# nosec' names {', '.join(map(repr, names))}, which bandit does not know as "
                 "test ids or names: it ignores them, so the comment silences every test on "
                 "this line unless it also names a known test. "
                 "Name the test ids (e.g. '# nosec B602') and put prose after a second '#'."),
        "line": line,
        "end_line": line,
        "col": 0,
        "code": text_lines[line - 1] if 0 < line <= len(text_lines) else "",
        "suppressed": False,
    }


def audit_file(path: str, relpath: str, cfg: AuditConfig) -> FileResult:
    """Run bandit on one file; never raises for a bad file."""
    from .reading import read_limited

    result = FileResult(relpath=relpath)
    data, reason = read_limited(path, MAX_BYTES)
    if data is None:
        result.skipped = reason
        return result
    result.sha256 = sha256_bytes(data)
    reason, text = precheck(data)
    if reason:
        result.skipped = reason
        return result
    return _audit_text(path, data, text, result, cfg)


def _with_error_line(reason: str, text: str, path: str) -> str:
    """bandit says only "syntax error while parsing AST": add where, as Python reports it."""
    import ast

    try:
        ast.parse(text, filename=path)
    except SyntaxError as exc:
        return f"{reason} (line {exc.lineno}: {exc.msg})"
    except (ValueError, RecursionError, MemoryError):
        pass
    return reason


def _audit_text(path: str, data: bytes, text: str, result: FileResult, cfg: AuditConfig) -> FileResult:
    mgr = _manager(cfg)
    text_lines = text.splitlines()
    result.lines = len(text_lines)
    from .rules import _util

    mgr.results, mgr.skipped = [], []
    _util.CONSULTED.clear()
    mgr._parse_file(path, io.BytesIO(data), [path])
    result.deps = {p: sha for p, sha in _util.CONSULTED.items() if p != os.path.abspath(path)}
    if mgr.skipped:
        result.skipped = _with_error_line(mgr.skipped[0][1], text, path)
        return result
    nosec_lines, unknown = _nosec_map(data)
    result.issues = [_issue_dict(i, text_lines, _suppressed(i, nosec_lines)) for i in mgr.results]
    result.issues += [_unknown_nosec_issue(line, names, text_lines) for line, names in unknown]
    result.issues.sort(key=lambda d: (d["line"], d["test_id"], d["col"]))
    return result


def _audit_chunk(chunk: list[tuple[str, str]], cfg: AuditConfig) -> list[FileResult]:
    return [audit_file(path, rel, cfg) for path, rel in chunk]


# --------------------------------------------------------------------------
# many files

def cache_key(relpath: str, sha: str, config_hash: str) -> str:
    return sha256_bytes(f"{relpath}\0{sha}\0{config_hash}".encode("utf-8", "surrogatepass"))


def _hash_files(files: list[tuple[str, str]]) -> dict[str, tuple[str, int]]:
    """relpath -> (sha256, size); unreadable and too large files are left out (audited later,
    which gives the reason). Read in blocks: a large file is never held in memory to hash it."""
    from .reading import hash_limited

    out = {}
    for path, rel in files:
        sha, size, why = hash_limited(path, MAX_BYTES)  # never blocks on a FIFO swapped in after the walk
        if why is None:
            out[rel] = (sha, size)
    return out


def _chunks(todo: list[tuple[str, str]], sizes: dict[str, int]) -> list[list[tuple[str, str]]]:
    # Largest files first so that the last chunks are small: better balance.
    ordered = sorted(todo, key=lambda f: -sizes.get(f[1], 0))
    chunks, current, weight = [], [], 0
    for item in ordered:
        current.append(item)
        weight += sizes.get(item[1], 0)
        if weight >= CHUNK_BYTES or len(current) >= CHUNK_FILES:
            chunks.append(current)
            current, weight = [], 0
    if current:
        chunks.append(current)
    return chunks


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def audit_files(files: list[tuple[str, str]], cfg: AuditConfig, *, cache_conn=None,
                workers: int | None = None, ctx=None) -> list[FileResult]:
    """Audit (absolute path, relative path) pairs; results sorted by relpath.

    Cached results (same relative path, content and configuration) are
    reused; fresh ones are written back to the cache.
    """
    plan = plan_files(files, cfg, cache_conn=cache_conn, ctx=ctx)
    fresh = _run_todo(plan.todo, plan.sizes, cfg, workers, ctx, done=len(plan.results), total=len(files))
    return finish_files(plan, fresh, cache_conn=cache_conn)


@dataclass
class Plan:
    """What is left to audit after the cache: see ``plan_files``."""

    results: dict  # relpath -> FileResult, from the cache
    todo: list  # (path, relpath) to audit
    sizes: dict  # relpath -> bytes
    config_hash: str

    def chunks(self) -> list[list[tuple[str, str]]]:
        return _chunks(self.todo, self.sizes)


def plan_files(files: list[tuple[str, str]], cfg: AuditConfig, *, cache_conn=None, ctx=None) -> Plan:
    """Hash the files and take what the cache holds; the rest is ``Plan.todo``."""
    from . import store

    config_hash = cfg.cache_hash()
    hashes = _hash_files(files)
    keys = {rel: cache_key(rel, hashes[rel][0], config_hash) for _, rel in files if rel in hashes}
    cached = store.cache_get_many(cache_conn, list(keys.values())) if cache_conn else {}
    results: dict[str, FileResult] = {}
    todo = []
    for path, rel in files:
        hit = cached.get(keys.get(rel, ""))
        if hit is not None and not _deps_unchanged(hit.get("deps") or {}):
            hit = None  # a sibling module the rules read for this file has changed
        if hit is not None:
            results[rel] = FileResult(relpath=rel, sha256=hashes[rel][0], cached=True,
                                      lines=hit["lines"], issues=hit["issues"], skipped=hit["skipped"])
        else:
            todo.append((path, rel))
    sizes = {rel: size for rel, (_, size) in hashes.items()}
    _progress(ctx, len(results), len(files), "bandit: cached files reused" if results else "bandit")
    return Plan(results=results, todo=todo, sizes=sizes, config_hash=config_hash)


def _deps_unchanged(deps: dict) -> bool:
    from .reading import hash_limited

    return all(hash_limited(path, MAX_BYTES)[0] == sha for path, sha in deps.items())


def finish_files(plan: Plan, fresh: list[FileResult], *, cache_conn=None) -> list[FileResult]:
    """The plan's cached results with the fresh ones (written to the cache), sorted by relpath."""
    results = dict(plan.results)
    for res in fresh:
        results[res.relpath] = res
    if cache_conn is not None:
        _store_fresh(cache_conn, fresh, plan.config_hash)
    return [results[rel] for rel in sorted(results)]


def _store_fresh(conn, fresh: list[FileResult], config_hash: str) -> None:
    from . import store

    rows = [(cache_key(r.relpath, r.sha256, config_hash), r.relpath, r.sha256, config_hash, r.as_cache())
            for r in fresh if r.sha256 and not (r.skipped or "").startswith("unreadable")]
    store.cache_put_many(conn, rows)


def _progress(ctx, done: int, total: int, message: str) -> None:
    if ctx is not None:
        ctx.progress(done, total, message)


def _check_cancelled(ctx) -> None:
    if ctx is not None:
        ctx.check_cancelled()


def _run_todo(todo, sizes, cfg, workers, ctx, done: int, total: int) -> list[FileResult]:
    if not todo:
        return []
    workers = workers or default_workers()
    chunks = _chunks(todo, sizes)
    if workers == 1 or len(chunks) == 1 or sum(sizes.get(r, 0) for _, r in todo) < IN_PROCESS_BELOW:
        return _run_serial(chunks, cfg, ctx, done, total)
    return _run_pool(chunks, cfg, workers, ctx, done, total)


def _run_serial(chunks, cfg, ctx, done, total) -> list[FileResult]:
    out = []
    for chunk in chunks:
        _check_cancelled(ctx)
        out.extend(_audit_chunk(chunk, cfg))
        done += len(chunk)
        _progress(ctx, done, total, "bandit")
    return out


def _pool_context():
    import multiprocessing

    # fork starts workers in milliseconds with bandit already imported;
    # elsewhere (macOS, Windows) the platform default is the safe choice.
    if "fork" in multiprocessing.get_all_start_methods() and os.name == "posix":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _run_pool(chunks, cfg, workers, ctx, done, total) -> list[FileResult]:
    out: list[FileResult] = []
    for _, chunk_results in run_tasks([(_audit_chunk, (chunk, cfg), len(chunk), "bandit") for chunk in chunks],
                                      workers, ctx, done, total):
        out.extend(chunk_results)
    return out


def run_tasks(tasks, workers: int, ctx, done: int = 0, total: int = 0):
    """Run ``(function, args, files, label)`` tasks in one pool of worker processes.

    Yields ``(index into tasks, result)`` as tasks finish. Bandit and the secrets scan share
    it, so neither waits for the other's last chunk. Workers are forked with bandit and
    detect-secrets already imported (when a task needs them), so they start in milliseconds.
    """
    import bandit.core.manager  # noqa: F401  (imported once, before fork)
    from workbench.api import die_with_parent

    ensure_rule_pack()
    if any(label == "secrets" for *_, label in tasks):
        import detect_secrets.core.scan  # noqa: F401
        import detect_secrets.settings  # noqa: F401
    pool = ProcessPoolExecutor(max_workers=max(1, min(workers, len(tasks))), mp_context=_pool_context(),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        index = {pool.submit(fn, *args): i for i, (fn, args, _, _) in enumerate(tasks)}
        pending = set(index)
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = index[fut]
                result = fut.result()
                done += tasks[i][2]
                _progress(ctx, done, total, tasks[i][3])
                yield i, result
            _check_cancelled(ctx)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------
# filtering after the cache

def selected_issues(result: FileResult, cfg: AuditConfig) -> list[dict]:
    """Issues over the thresholds and not skipped for this path."""
    from .bandit_config import RANKS

    sev = RANKS.index(cfg.severity)
    conf = RANKS.index(cfg.confidence)
    return [
        i for i in result.issues
        if RANKS.index(i["severity"]) >= sev and RANKS.index(i["confidence"]) >= conf
        and not cfg.skipped_here(result.relpath, i["test_id"])
        and _test_enabled(i["test_id"], cfg)
    ]


def _test_enabled(test_id: str, cfg: AuditConfig) -> bool:
    # Bandit filters its own tests; B900 is ours, so honour tests/skips here.
    if test_id != NOSEC_UNKNOWN_ID:
        return True
    if test_id in cfg.skip_tests:
        return False
    return not cfg.include_tests or test_id in cfg.include_tests


def is_python_source(path: str, cfg: AuditConfig) -> bool:
    """bandit's own include/exclude rule, on the path as ``bandit -r`` builds it."""
    from .bandit_config import is_included

    return is_included(path, cfg.include_globs, cfg.exclude_paths)
