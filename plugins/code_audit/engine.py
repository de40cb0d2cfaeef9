"""The code audit job: one walk of the tree, three scanners, findings.

``run(params, ctx)`` is the job (see docs/plugins.md). ``audit_tree`` does
the work without a project (benchmarks, tests, other callers); ``run``
stores its result through ``ctx.store``: findings with fingerprints, skipped
files, and what changed since the previous run of the same target. The
parameters are :class:`workbench_plugins.code_audit.params.AuditParams`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

PLUGIN_ID = "code_audit"
JOB = "audit"
BINARY_EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".pdf", ".zip", ".gz", ".tgz",
    ".bz2", ".xz", ".7z", ".whl", ".so", ".dll", ".dylib", ".pyc", ".pyo", ".exe",
    ".parquet", ".arrow", ".feather", ".h5", ".hdf5", ".onnx", ".safetensors", ".tflite",
    ".woff", ".woff2", ".ttf", ".otf", ".mp3", ".mp4", ".wav", ".sqlite", ".db", ".wbproj",
)


@dataclass
class Tree:
    python: list[tuple[str, str]] = field(default_factory=list)  # (path, relpath)
    models: list[tuple[str, str]] = field(default_factory=list)
    text: list[tuple[str, str]] = field(default_factory=list)  # secrets scan
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (relpath, scanner, reason)


@dataclass
class AuditResult:
    target: str
    findings: list = field(default_factory=list)  # workbench.core.findings.Finding
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    cached_files: int = 0
    seconds: dict = field(default_factory=dict)
    #: {scanner: [relpath, ...]} the files each scanner really checked (not skipped)
    scanned: dict = field(default_factory=dict)


# ------------------------------------------------------------------ the walk

def walk_tree(target: str, cfg, *, secrets: bool = True, models: bool = True) -> Tree:
    """Classify every file under ``target`` once.

    Every file follows bandit's own include/exclude rule on the path as
    ``bandit -r target`` spells it (``cfg.exclude_paths``: bandit's default
    excluded folders, ``-x``, the config's ``exclude_dirs``), so the two see the
    same files; the secrets and model scans leave out the same paths. Symlinked
    folders are not followed (as in bandit); a symlinked file that loops or
    dangles is kept and reported unreadable by the scanner.
    """
    from .bandit_runner import is_python_source
    from .model_scan import is_model_candidate, is_model_file
    from .reading import not_regular_reason

    tree = Tree()

    def on_error(exc: OSError) -> None:
        rel = display_path(os.path.relpath(exc.filename or target, target).replace(os.sep, "/"))
        tree.skipped.append((rel, "walk", f"folder unreadable: {exc.strerror or exc}"))

    # A folder whose path contains an excluded string excludes every file under it: prune it.
    substrings = [e for e in cfg.exclude_paths if e]
    for root, dirs, files in os.walk(target, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not any(e in os.path.join(root, d) + os.sep for e in substrings))
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = display_path(os.path.relpath(path, target).replace(os.sep, "/"))
            why = not_regular_reason(path)
            if why and not why.startswith("unreadable"):  # a FIFO blocks a reader, a device never ends
                if models and is_model_file(rel):
                    tree.models.append((path, rel))  # model_scan refuses it unopened and reports MS003
                else:
                    tree.skipped.append((rel, "walk", why))
                continue
            python = is_python_source(path, cfg)
            if python:
                tree.python.append((path, rel))
            if not _outside_bandit_excludes(path, cfg):
                continue
            # Model files by name, and any other file whose bytes are a pickle, .npy, HDF5, zip, tar,
            # compressed stream... (issue 17: decided by content; Python sources go to bandit).
            named = models and is_model_file(rel)
            if named or (models and not python and is_model_candidate(path, rel)):
                tree.models.append((path, rel))
            # A file found a model only by its bytes may be text that reads as a protocol-0 pickle
            # ("setting = 1" lines): it is secret-scanned too (binary content is skipped there).
            if secrets and not named and not rel.lower().endswith(BINARY_EXTENSIONS):
                tree.text.append((path, rel))
    return tree


def display_path(rel: str) -> str:
    """A relative path fit to store and show: bytes that are not UTF-8 (kept by the OS as
    surrogate escapes) are written as ``\\xNN``, so one odd name cannot stop the audit."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _outside_bandit_excludes(path: str, cfg) -> bool:
    from .bandit_config import is_included  # bandit's rule, without importing bandit

    return is_included(path, ["*"], cfg.exclude_paths)


# ------------------------------------------------------------ to findings

def _finding(**kw):
    from workbench.api import Finding

    return Finding(plugin=PLUGIN_ID, **kw)


def bandit_findings(results, cfg, root: str = "") -> tuple[list, dict]:
    """Findings from bandit results, and the code identity used for each fingerprint.

    Cached results carry no source text (see ``FileResult.as_cache``): their
    snippet is read again from the file under *root*.
    """
    from .bandit_runner import selected_issues
    from .masking import mask_ai_keys, mask_issue_text
    from .rules.catalog import RULES_BY_ID

    findings, code = [], {}
    sources: dict[str, list[str]] = {}
    for res in results:
        for issue in selected_issues(res, cfg):
            rule = RULES_BY_ID.get(issue["test_id"])
            snippet = issue.get("code")
            if snippet is None:
                snippet = _snippet(sources, root, res.relpath, issue["line"], issue["end_line"])
            f = _finding(
                rule=issue["test_id"], severity=issue["severity"], confidence=issue["confidence"],
                title=rule.title if rule else f"{issue['test_id']} {issue['test_name']}",
                message=mask_issue_text(issue), path=res.relpath, line=issue["line"],
                end_line=issue["end_line"], column=issue["col"], cwe=issue["cwe"],
                evidence={"scanner": "bandit", "test_name": issue["test_name"],
                          "code": mask_ai_keys(snippet)[:2000]},
                source_status="suppressed" if issue["suppressed"] else "open",
            )
            findings.append(f)
            code[id(f)] = None  # the digest of the masked snippet: set in audit_tree after masking
    return findings, code


def _snippet(sources: dict, root: str, relpath: str, first: int, last: int | None) -> str:
    if relpath not in sources:
        import io
        import tokenize

        try:
            with open(os.path.join(root, relpath), "rb") as fh:
                data = fh.read()
            try:  # decoded as bandit read it (a PEP 263 declaration), so the snippet is the same text
                encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
                sources[relpath] = data.decode(encoding).splitlines()
            except (SyntaxError, LookupError, UnicodeDecodeError):
                sources[relpath] = data.decode("utf-8", "replace").splitlines()
        except OSError:
            sources[relpath] = []
    lines = sources[relpath]
    return "\n".join(lines[max(first, 1) - 1:(last or first)])


def secret_findings(scanned: dict, kept: bool = True) -> tuple[list, dict]:
    """Findings of the secrets scan; ``scanned`` carries keyed digests (``secrets_scan.add_digests``).

    ``kept``: the digest key is the project's own (secrets backend), so the digest identifies the
    value from run to run; otherwise the identity is the masked line and no digest is stored.
    """
    from .secrets_scan import confidence_of, rule_id

    findings, code = [], {}
    for rel in sorted(scanned):
        for item in scanned[rel][0]:
            severity = item.get("severity", "HIGH")
            if severity == "HIGH":
                advice = "move it to a secret store and revoke it."
            else:
                advice = ("nothing on the line says it is a credential; if it is one, move it to a "
                          "secret store and revoke it.")
            evidence = {"scanner": "detect-secrets", "masked": item["masked"],
                        "secret_hmac": item["digest"], "code": item["code"]}
            if item.get("shape"):
                evidence["token_shape"] = item["shape"]
            f = _finding(
                rule=rule_id(item["type"]), severity=severity,
                confidence=item.get("confidence") or confidence_of(item["type"]),
                title=f"Secret in the tree: {item['type']}",
                message=f"{item['type']} {item['masked']} is stored in the source tree; {advice}",
                path=rel, line=item["line"], end_line=item["line"], cwe=798,
                evidence=evidence,
                source_status="suppressed" if item["suppressed"] else "open",
            )
            findings.append(f)
            # The secret's keyed digest, not its line: moving the line keeps the identity.
            code[id(f)] = f"{item['type']}:{item['digest'] if kept else item['code']}"
    return findings, code


_RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2}
#: bandit rules of ours that report a secret value (merged with detect-secrets' hits of the same value)
SECRET_VALUE_RULES = ("B908",)


def merge_secret_findings(findings: list, read, key: bytes) -> list:
    """One finding per secret value and place, listing every detector that saw it.

    A hard-coded key is seen by B908 and by one or more detect-secrets plugins on
    the same line (``Base64 High Entropy String``, ``Secret Keyword``, ``GitHub Token``...).
    Findings of the same file and line whose secret digest (HMAC under ``key``) is the same are merged.
    The survivor is B908 when it is among them (its rule names the provider), else
    a pattern detector (``GitHub Token``) before an entropy guess, then the most
    confident; it keeps its own rule, title and fingerprint and
    takes the highest severity and confidence of the group; ``evidence["detectors"]``
    lists every detector. Bandit's own rules (B105-B107) are left alone: their
    results must stay those of ``bandit -r``. ``read(relpath)``: the file's text, or None.
    """
    from .masking import secret_hash, source_lines
    from .rules.api_keys import KEY_PATTERNS

    groups: dict[tuple, list] = {}
    b908_lines: dict[str, list] = {}
    for f in findings:
        ev = f.evidence or {}
        if ev.get("scanner") == "detect-secrets" and ev.get("secret_hmac"):
            groups.setdefault((f.path, f.line, ev["secret_hmac"]), []).append(f)
        elif f.rule in SECRET_VALUE_RULES:
            b908_lines.setdefault(f.path, []).append(f)
    claimed: set[tuple] = set()
    for rel, rule_findings in b908_lines.items():
        if not any(key[0] == rel for key in groups):
            continue
        text = read(rel)
        lines = source_lines(text) if text is not None else []
        for f in rule_findings:
            # The finding's own key: the one that starts where bandit's string constant starts (two
            # keys on one line give two B908 findings), else the first key of its lines with a hit.
            candidates = []
            for n in range(f.line or 0, (f.end_line or f.line or 0) + 1):
                line = lines[n - 1] if 0 < n <= len(lines) else ""
                for _, rx in KEY_PATTERNS:
                    for m in rx.finditer(line):
                        where = (rel, n, secret_hash(m.group(0), key))
                        if where in groups and where not in claimed:
                            near = abs(m.start() - f.column) if f.column is not None and n == f.line else 0
                            candidates.append((near, where))
            if candidates:
                where = min(candidates)[1]
                claimed.add(where)
                groups[where].append(f)
    dropped: set[int] = set()
    for (_, _, sha), group in groups.items():
        # B908 first, then a pattern detector before an entropy guess, then the most confident.
        group.sort(key=lambda f: (f.rule not in SECRET_VALUE_RULES, "high-entropy" in f.rule,
                                  -_RANK.get(f.confidence, 0), -_RANK.get(f.severity, 0), f.rule))
        keep = group[0]
        keep.evidence = dict(keep.evidence or {})
        keep.evidence["detectors"] = sorted({_detector(f) for f in group})
        keep.evidence.setdefault("secret_hmac", sha)
        keep.evidence.setdefault("masked", group[-1].evidence.get("masked"))
        keep.severity = max((f.severity for f in group), key=lambda v: _RANK.get(v, 0))
        keep.confidence = max((f.confidence for f in group), key=lambda v: _RANK.get(v, 0))
        if any(f.source_status == "open" for f in group):
            keep.source_status = "open"
        for f in group[1:]:
            dropped.add(id(f))
    return [f for f in findings if id(f) not in dropped]


def _detector(f) -> str:
    ev = f.evidence or {}
    if ev.get("scanner") == "detect-secrets":
        return "detect-secrets: " + f.title.split(": ", 1)[-1]
    return f"{ev.get('scanner', 'bandit')}: {f.rule} {ev.get('test_name', '')}".rstrip()


def _not_audited_severity(reason: str) -> str:
    """HIGH when the content was not read at all because of its size (padding hides code that
    way); MEDIUM when it was unreadable or read but not parseable (it cannot be checked, and a
    file Python cannot parse does not run as is); LOW when it is not a regular file (a FIFO or a
    device has no content to audit)."""
    if reason.startswith("too large"):
        return "HIGH"
    if reason.startswith("not a regular file"):
        return "LOW"
    return "MEDIUM"


def not_audited_findings(skipped: list, findings: list) -> tuple[list, dict]:
    """One finding (rule AUDIT001) per file and scanner that could not audit it.

    A skipped file is otherwise only listed: a ``--fail-on`` gate would pass what the audit did
    not read. A file a scanner already reports as a finding of its own (MS003: a model file that
    cannot be parsed) is not reported twice.
    """
    from .rules.catalog import NOT_AUDITED_RULE

    reported = {f.path for f in findings if f.rule == "MS003"}
    out, code = [], {}
    for rel, scanner, reason in skipped:
        if scanner == "models" and rel in reported:
            continue
        what = {"bandit": "bandit and the AI rules", "secrets": "the secrets scan",
                "models": "the model-file scan", "walk": "any scanner"}.get(scanner, scanner)
        f = _finding(rule=NOT_AUDITED_RULE.id, severity=_not_audited_severity(reason), confidence="HIGH",
                     title=NOT_AUDITED_RULE.title,
                     message=f"{rel} was not audited by {what}: {reason}. {NOT_AUDITED_RULE.help}",
                     path=rel, line=None, end_line=None, cwe=None,
                     evidence={"scanner": "not-audited", "skipped_by": scanner, "reason": reason})
        out.append(f)
        code[id(f)] = f"{scanner}:{reason.split(' (')[0].split(':')[0]}"
    return out, code


def model_findings(scanned: dict) -> tuple[list, dict]:
    from .model_scan import finding_fields, fingerprint_code

    findings, code = [], {}
    for rel in sorted(scanned):
        for item in scanned[rel][0]:
            f = _finding(path=rel, **finding_fields(item))  # MS001 / MS002 / MS003
            findings.append(f)
            code[id(f)] = fingerprint_code(item)
    return findings, code


# ---------------------------------------------------------------- the audit

def audit_tree(params, ctx=None, cache=None) -> AuditResult:
    """Audit ``params.target`` (an :class:`AuditParams`, or a dict of its fields).

    Nothing is written except the cache: *cache* is a plugin store (or None).
    """
    from workbench.api import assign_fingerprints

    from . import store as tables
    from .bandit_config import load_config
    from .params import AuditParams

    if isinstance(params, dict):
        from workbench.api import build_params

        params = build_params(AuditParams, params, job="code_audit.audit")
    target = params.target
    if not os.path.isdir(target):
        raise ValueError(f"{target}: not a folder")
    t0 = time.perf_counter()
    cfg = load_config(target, params.config, skips=params.skips, tests=params.tests, exclude=params.exclude,
                      severity=params.severity, confidence=params.confidence, path_skips=params.path_skips)
    want_secrets = params.include_secrets
    want_models = params.include_models
    tree = walk_tree(target, cfg, secrets=want_secrets, models=want_models)
    out = AuditResult(target=target, skipped=list(tree.skipped))
    out.seconds["walk"] = time.perf_counter() - t0

    digest_key, key_kept = tables.run_digest_key(cache)
    run_key = _run_key(tree, params, cfg, digest_key if key_kept else None) if cache is not None else None
    hit = tables.run_cache_get(cache, run_key) if run_key is not None else None
    if hit is not None:  # nothing it depends on changed: the last audit's result, no scanner run
        return _from_run_cache(out, hit, t0)
    from . import masking, model_scan, secrets_scan
    _log(ctx, f"bandit on {len(tree.python)} Python files"
              + (f", secrets scan on {len(tree.text)} files" if want_secrets else ""))
    t = time.perf_counter()
    results, secrets_found = _scan_sources(tree, cfg, params.workers, cache, ctx, want_secrets)
    out.seconds["bandit+secrets" if want_secrets else "bandit"] = time.perf_counter() - t
    out.files = len(results)
    out.lines = sum(r.lines for r in results)
    out.cached_files = sum(r.cached for r in results)
    out.skipped += [(r.relpath, "bandit", r.skipped) for r in results if r.skipped]
    out.scanned["bandit"] = [r.relpath for r in results if not r.skipped]
    parts = [bandit_findings(results, cfg, target)]

    paths = {rel: path for path, rel in tree.python + tree.text + tree.models}
    if want_secrets:
        _check(ctx)
        out.skipped += [(rel, "secrets", why) for rel, (_, why) in secrets_found.items() if why]
        out.scanned["secrets"] = [rel for rel, (_, why) in secrets_found.items() if not why]
        secrets_found = secrets_scan.add_digests(secrets_found, paths, digest_key)
        parts.append(secret_findings(secrets_found, key_kept))
    if want_models:
        _check(ctx)
        t = time.perf_counter()
        scanned = {rel: model_scan.scan_file(path) for path, rel in tree.models}
        out.skipped += [(rel, "models", why) for rel, (_, why) in scanned.items() if why]
        out.scanned["models"] = [rel for rel, (_, why) in scanned.items() if not why]
        parts.append(model_findings(scanned))
        out.seconds["models"] = time.perf_counter() - t

    code: dict = {}
    for findings, codes in parts:
        out.findings.extend(findings)
        code.update(codes)
    missed, missed_code = not_audited_findings(out.skipped, out.findings)
    out.findings.extend(missed)
    code.update(missed_code)
    # Every secret value of a file (detect-secrets' full values, bandit's B105-B107 literals,
    # known token shapes) masked in every finding of that file, whatever rule found it.
    masking.mask_findings(out.findings, secrets_found if want_secrets else None, target, paths=paths)
    from .bandit_runner import code_digest, identity_code

    for f in out.findings:  # bandit findings: identified by their code as stored (masked), never the raw line
        if id(f) in code and code[id(f)] is None:
            code[id(f)] = code_digest(identity_code(f.rule, f.evidence.get("code", "")))
    if want_secrets:
        out.findings = merge_secret_findings(out.findings, lambda rel: _read_text(paths.get(rel)), digest_key)
        if not key_kept:  # a digest under a key that is thrown away identifies nothing: not stored
            for f in out.findings:
                (f.evidence or {}).pop("secret_hmac", None)
    assign_fingerprints(out.findings, lambda f: code.get(id(f), ""))
    out.seconds["total"] = time.perf_counter() - t0
    if run_key is not None:
        tables.run_cache_put(cache, run_key, target, {
            "findings": [f.as_dict() for f in out.findings], "skipped": out.skipped, "files": out.files,
            "lines": out.lines, "scanned": out.scanned})
    return out


def _code_version() -> str:
    """Size and time of every module of this plugin: a changed scanner or rule misses the run cache."""
    here = os.path.dirname(os.path.abspath(__file__))
    parts = []
    for folder in (here, os.path.join(here, "rules")):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def _run_key(tree: Tree, params, cfg, digest_key: bytes | None) -> str | None:
    """What an audit's result depends on: every file's content and role, what the walk skipped,
    the parameters and configuration, the scanners' versions and the project's digest key
    (its id). None when a file cannot be hashed (then the audit runs and says why)."""
    import hashlib
    import hmac
    import json

    from .bandit_config import installed_version
    from .bandit_runner import MAX_BYTES
    from .reading import hash_limited

    roles: dict[str, list] = {}
    for role, files in (("py", tree.python), ("text", tree.text), ("model", tree.models)):
        for path, rel in files:
            roles.setdefault(rel, [path]).append(role)
    files = []
    for rel in sorted(roles):
        sha, _, why = hash_limited(roles[rel][0], MAX_BYTES)
        if why is not None:
            return None
        files.append([rel, sha, roles[rel][1:]])
    try:
        scanners = [installed_version("bandit", "bandit"), installed_version("detect-secrets", "detect_secrets")]
    except Exception:  # run from a source tree without metadata: no run cache
        return None
    payload = {
        "files": files, "walk": tree.skipped, "code": _code_version(), "scanners": scanners,
        "params": {k: v for k, v in vars(params).items() if k != "workers"},
        "config": [cfg.cache_hash(), cfg.severity, cfg.confidence, sorted(cfg.include_globs),
                   sorted((g, sorted(ids)) for g, ids in cfg.path_skips.items())],
        "key": hmac.new(digest_key, b"code_audit run cache", hashlib.sha256).hexdigest() if digest_key else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode("utf-8", "surrogatepass")).hexdigest()


def _from_run_cache(out: AuditResult, hit: dict, t0: float) -> AuditResult:
    from workbench.api import Finding

    out.findings = [Finding(**f) for f in hit["findings"]]
    out.skipped = [tuple(s) for s in hit["skipped"]]
    out.files = out.cached_files = hit["files"]
    out.lines = hit["lines"]
    out.scanned = hit["scanned"]
    out.seconds["total"] = time.perf_counter() - t0
    return out


def _scan_sources(tree: Tree, cfg, workers: int | None, cache, ctx, want_secrets: bool):
    """bandit on the Python files and, when wanted, the secrets scan on the text files.

    Both run in one pool of worker processes (``bandit_runner.run_tasks``): the secrets
    chunks fill the workers while bandit's last, largest-first chunks finish, instead of a
    second phase with its own pool. Each scanner's cache is read before and written after,
    as ``bandit_runner.audit_files`` and ``secrets_scan.scan_files`` do on their own.
    Returns (bandit results sorted by relpath, {relpath: (secrets results, skip reason)} or None).
    """
    from . import bandit_runner, secrets_scan

    b_plan = bandit_runner.plan_files(tree.python, cfg, cache_conn=cache, ctx=ctx)
    s_plan = secrets_scan.plan_files(tree.text, cache_conn=cache) if want_secrets else None
    b_chunks = b_plan.chunks() if b_plan.todo else []
    s_chunks = s_plan.chunks() if s_plan is not None and s_plan.todo else []
    total = len(tree.python) + (len(tree.text) if want_secrets else 0)
    done = len(b_plan.results) + (len(s_plan.results) if s_plan is not None else 0)
    workers = workers or bandit_runner.default_workers()
    small = (sum(b_plan.sizes.get(rel, 0) for _, rel in b_plan.todo) < bandit_runner.IN_PROCESS_BELOW
             and (s_plan is None or len(s_plan.todo) <= secrets_scan.PARALLEL_ABOVE))
    b_fresh: list = []
    s_fresh: list = []
    from . import distributed

    if distributed.cluster() is not None and (b_chunks or s_chunks):  # --ray: the same chunks on the cluster
        b_fresh, s_fresh = distributed.scan(b_chunks, s_chunks, cfg, ctx, done, total, (cache, b_plan, s_plan))
    elif workers == 1 or len(b_chunks) + len(s_chunks) <= 1 or small:
        b_fresh = bandit_runner._run_serial(b_chunks, cfg, ctx, done, total)
        if s_chunks:
            s_fresh = secrets_scan._scan_todo(s_plan.todo, 1, ctx, done=done + len(b_plan.todo), total=total)
    else:
        tasks = [(bandit_runner._audit_chunk, (chunk, cfg), len(chunk), "bandit") for chunk in b_chunks]
        tasks += [(secrets_scan._scan_chunk, (chunk,), len(chunk), "secrets") for chunk in s_chunks]
        for i, result in bandit_runner.run_tasks(tasks, workers, ctx, done, total):
            (b_fresh if i < len(b_chunks) else s_fresh).extend(result)
    results = bandit_runner.finish_files(b_plan, b_fresh, cache_conn=cache)
    found = secrets_scan.finish_files(s_plan, s_fresh, cache_conn=cache) if s_plan is not None else None
    return results, found


def _read_text(path: str | None) -> str | None:
    from .masking import SOURCE_LIMIT
    from .reading import read_limited

    if not path:
        return None
    data, _ = read_limited(path, SOURCE_LIMIT)
    return None if data is None else data.decode("utf-8", "replace")


def _log(ctx, message: str) -> None:
    if ctx is not None:
        ctx.log(message)


def _check(ctx) -> None:
    if ctx is not None:
        ctx.check_cancelled()


def run(params, ctx) -> dict:
    """The job: audit, store findings and skipped files, compare with the last run of the target."""
    from . import store as tables

    store = ctx.store
    result = audit_tree(params, ctx, cache=store)
    _check(ctx)
    with store.transaction():  # the findings, skipped and checked files of a run land together
        store.add_findings(ctx.run_id, result.findings)
        tables.record_skipped(store, ctx.run_id, [(p, s, r) for p, s, r in result.skipped])
        tables.record_scanned(store, ctx.run_id, result.scanned)
    changes = diff_runs(store, ctx.run_id)
    ctx.progress(result.files, result.files, "done")
    return _summary(result, changes)


def _summary(result: AuditResult, changes: dict) -> dict:
    by_sev = {"HIGH": 0, "MEDIUM": 0, "LOW": 0}
    suppressed = 0
    for f in result.findings:
        if f.source_status == "suppressed":
            suppressed += 1
        else:
            by_sev[f.severity] += 1
    return {
        "target": result.target,
        "files": result.files,
        "lines": result.lines,
        "cached_files": result.cached_files,
        "findings": by_sev,
        "suppressed_in_source": suppressed,
        "skipped": len(result.skipped),
        "new": len(changes["new"]),
        "unchanged": len(changes["unchanged"]),
        "fixed": len(changes["fixed"]),
        "not_checked": len(changes["not_checked"]),
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
    }


#: the scanner named in a finding's evidence -> the scanner key of the checked-files table
EVIDENCE_SCANNER = {"bandit": "bandit", "detect-secrets": "secrets", "pickle-opcodes": "models",
                    "osv": "deps", "provenance": "deps"}  # deps: the dependency audit's own runs


def diff_runs(store, run_id: int) -> dict:
    """Fingerprints new, unchanged, fixed and not checked since the previous run of the same target.

    A finding of the previous run is *fixed* only when the scanner that found it checked the
    same file again and did not find it; when that scanner was off, or the file was skipped
    or gone from the tree, it is *not checked in this run*.
    """
    from . import store as tables

    current = _fingerprints(store, run_id)
    previous_run = store.previous_run(run_id)
    prev_id = previous_run.id if previous_run else None
    previous = _fingerprints(store, prev_id) if prev_id is not None else set()
    gone = previous - current
    fixed, not_checked = set(), set()
    if gone:
        checked = tables.scanned_files(store, run_id)
        for f in store.findings(run_id=prev_id):
            if f.fingerprint in gone:
                ev = f.evidence
                scanner = ev.get("skipped_by") or EVIDENCE_SCANNER.get(ev.get("scanner"), "bandit")
                (fixed if (f.path, scanner) in checked else not_checked).add(f.fingerprint)
    return {
        "new": sorted(current - previous),
        "unchanged": sorted(current & previous),
        "fixed": sorted(fixed),
        "not_checked": sorted(not_checked),
        "previous_run_id": prev_id,
        "current_run_id": run_id,
    }


def _fingerprints(store, run_id: int) -> set[str]:
    rows = store.execute("SELECT fingerprint FROM findings WHERE run_id = ? AND plugin = ?", (run_id, PLUGIN_ID))
    return {r[0] for r in rows}


def demo_source():
    """The demo tree shipped in ``workbench_resources`` (or the checkout)."""
    from importlib import resources
    from pathlib import Path

    try:
        src = resources.files("workbench_resources").joinpath("demo/vulnerable_ml")
        if src.is_dir():
            return src
    except (ModuleNotFoundError, NotADirectoryError, FileNotFoundError):
        pass
    return Path(__file__).resolve().parents[2] / "resources" / "demo" / "vulnerable_ml"


def prepare_demo(dest: str) -> str:
    """Copy the demo vulnerable ML tree to ``dest`` and build its model files."""
    import importlib.util
    import shutil
    from importlib import resources
    from pathlib import Path

    with resources.as_file(demo_source()) as path:
        shutil.copytree(path, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "models"))
    spec = importlib.util.spec_from_file_location("_wb_make_artifacts", os.path.join(dest, "make_artifacts.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_artifacts(Path(dest))
    return dest
