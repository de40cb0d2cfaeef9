"""Secrets in the tree, found by detect-secrets' plugins, in-process.

The secret value never leaves this module: results carry its masked form,
its sha256, where it is on its line (``spans``: columns, not the value) and
the flagged line with every secret of the file masked. The value is the full
one read from the source (``masking.full_secret_spans``), not detect-secrets'
report, which for some detectors is only a prefix (``ghp`` of a GitHub token). Lines marked
``# pragma: allowlist secret`` (detect-secrets' in-source suppression) are
reported as suppressed, like ``# nosec``.
"""

from __future__ import annotations

import hashlib
import re

from .masking import full_secret_spans, mask, mask_values, secret_hash, source_lines

MAX_BYTES = 2 * 1024 * 1024
RULE_PREFIX = "SECRET-"
# Pattern-based detectors are precise; entropy and keyword ones guess.
_LOW_CONFIDENCE = {"Base64 High Entropy String", "Hex High Entropy String"}
_MEDIUM_CONFIDENCE = {"Secret Keyword", "Basic Auth Credentials"}


def rule_id(secret_type: str) -> str:
    return RULE_PREFIX + re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def confidence_of(secret_type: str) -> str:
    if secret_type in _LOW_CONFIDENCE:
        return "LOW"
    if secret_type in _MEDIUM_CONFIDENCE:
        return "MEDIUM"
    return "HIGH"


def engine_version() -> str:
    from detect_secrets.__version__ import VERSION

    return f"detect-secrets {VERSION}"


def config_hash() -> str:
    # |2: results carry the full value's spans and hash (not detect-secrets' partial report)
    return hashlib.sha256(f"secrets|{engine_version()}|2".encode()).hexdigest()


def _is_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


_NOT_LOCATED = "[line not shown: it holds a secret written differently from how the detector read it]"


def _results(found: list[tuple[object, bool]], lines: list[str]) -> list[dict]:
    """Results for (PotentialSecret, suppressed) pairs: full values from the source lines.

    Each line is masked with every secret value of the file, so a line with two
    secrets shows neither.
    """
    located = []
    values: set[str] = set()
    for secret, suppressed in found:
        hit = secret.secret_value or ""
        n = secret.line_number
        line_text = lines[n - 1] if 0 < n <= len(lines) else ""
        spans = full_secret_spans(line_text, hit)
        located.append((secret, suppressed, line_text, spans))
        values.update(line_text[a:b] for a, b in spans)
        values.add(hit)
    out = []
    for secret, suppressed, line_text, spans in located:
        value = line_text[spans[0][0]:spans[0][1]] if spans else (secret.secret_value or "")
        out.append({
            "type": secret.type,
            "line": secret.line_number,
            "masked": mask(value),
            "sha256": secret_hash(value),
            "spans": [list(s) for s in spans],  # where the value is on the line: no value stored
            "code": mask_values(line_text, values).strip()[:300] if spans else _NOT_LOCATED,
            "suppressed": suppressed,
        })
    return out


def scan_file(path: str) -> tuple[list[dict], str | None]:
    """(results, skip reason) for one file. Call inside ``settings()``.

    The file is read once, bounded, and only if it is a regular file; detect-secrets
    scans that text (it is never handed the path to open again).
    """
    from detect_secrets.core import scan

    from .reading import read_limited

    data, reason = read_limited(path, MAX_BYTES, "secrets scan")
    if data is None:
        return [], reason
    if not _is_text(data):
        return [], None  # binary files are not secret-scanned; not an error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], None  # detect-secrets ignores files it cannot decode; so do we
    lines = source_lines(text)
    found = [(s, False) for s in _scan(path, text)]
    if b"allowlist secret" in data:
        first = next(_lines_from_text(path, text), None) or []
        found += [(s, True) for s in scan._scan_for_allowlisted_secrets_in_lines(enumerate(first, start=1), path)]
    results = _results(found, lines)
    results.sort(key=lambda r: (r["line"], r["type"]))
    return results, None


def _lines_from_text(path: str, text: str):
    """detect-secrets' ``_get_lines_from_file`` on text already read (same transformers, same order)."""
    import io

    from detect_secrets.transformers import get_transformed_file

    f = io.StringIO(text, newline=None)
    f.name = path
    lines = get_transformed_file(f)
    if not lines:
        f.seek(0)
        lines = f.readlines()
    yield lines
    f.seek(0)
    lines = get_transformed_file(f, use_eager_transformers=True)
    if lines:
        yield lines


def _scan(path: str, text: str | None = None):
    """detect-secrets' ``scan_file``, with a cheap pre-check per plugin and line.

    detect-secrets calls every plugin on every line through an argument-injection
    layer that costs far more than the plugins' own regular expressions. A plugin
    can only report a line that one of its patterns matches, so a line no pattern
    matches is skipped for that plugin; the rest is detect-secrets' own code, in
    its own order. ``tests/code_audit`` checks the results are identical.
    ``text``: the file's content, already read (then the path is only a name).
    """
    from detect_secrets.core import scan

    if scan._is_filtered_out(required_filter_parameters=["filename"], filename=path):
        return []
    found: list = []
    source = _lines_from_text(path, text) if text is not None else scan._get_lines_from_file(path)
    try:
        for lines in source:
            found = list(_process_lines(list(enumerate(lines, start=1)), path))
            if found:
                break
    except (IOError, UnicodeDecodeError):
        return []
    return found


def _process_lines(lines, filename: str):
    """Mirror of detect-secrets' ``_process_line_based_plugins`` with the pre-check."""
    from detect_secrets.core import scan
    from detect_secrets.settings import get_plugins
    from detect_secrets.util.code_snippet import get_code_snippet

    content = [text for _, text in lines]
    whole = "\n".join(content)
    checks = []
    for plugin in get_plugins():
        patterns = _patterns(plugin, filename)
        if patterns is None:
            checks.append((plugin, _always))
            continue
        # One search over the whole file rules most detectors out for every line at once.
        # Anchored patterns could match a line but not the joined text: they are kept.
        if not any(_anchored(p) or p.search(whole) for p in patterns):
            continue
        checks.append((plugin, lambda line, ps=patterns: any(p.search(line) for p in ps)))
    for number, line in lines:
        line = line.rstrip()
        candidates = [plugin for plugin, could_match in checks if could_match(line)]
        if not candidates:
            continue
        context = get_code_snippet(lines=content, line_number=number)
        if scan._is_filtered_out(required_filter_parameters=["line"], filename=filename, line=line,
                                 context=context):
            continue
        for plugin in candidates:
            for secret in scan._scan_line(plugin=plugin, filename=filename, line=line, line_number=number,
                                          context=context):
                if not scan._is_filtered_out(required_filter_parameters=["context"], filename=secret.filename,
                                             secret=secret.secret_value, plugin=plugin, line=line,
                                             context=context):
                    yield secret


def _always(line: str) -> bool:
    return True


def _anchored(pattern) -> bool:
    """Does the pattern anchor to the start or end? (``^`` inside ``[^...]`` does not count.)"""
    text = re.sub(r"\\[^AZ]", "", pattern.pattern)  # escapes, except \A and \Z
    text = re.sub(r"\[[^\]]*\]", "", text)  # character classes
    return any(a in text for a in ("^", "$", "\\A", "\\Z"))


def _patterns(plugin, filename: str):
    """Patterns one of which a line must match for the plugin to report it (None: unknown plugin)."""
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.keyword import (
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        REGEX_BY_FILETYPE,
        KeywordDetector,
    )
    from detect_secrets.util.filetype import determine_file_type

    if isinstance(plugin, RegexBasedDetector):
        patterns = list(plugin.denylist)
    elif isinstance(plugin, HighEntropyStringsPlugin):
        patterns = [plugin.regex]  # quoted strings; eager (unquoted) search is for ad-hoc scans only
    elif isinstance(plugin, KeywordDetector):
        table = REGEX_BY_FILETYPE.get(determine_file_type(filename), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
        patterns = list(table)
    else:
        return None  # a plugin we do not know: always ask it
    return patterns


class settings:
    """detect-secrets' default plugins and filters, entered once per scan."""

    def __enter__(self):
        import logging

        from detect_secrets.settings import default_settings

        logging.getLogger("detect-secrets").setLevel(logging.CRITICAL)
        self._cm = default_settings()
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


PARALLEL_ABOVE = 64  # files; fewer are scanned here, without a pool
CHUNK_FILES = 64


def _scan_chunk(chunk: list[tuple[str, str]]) -> list[tuple[str, list[dict], str | None]]:
    with settings():
        return [(rel, *scan_file(path)) for path, rel in chunk]


def _scan_todo(todo, workers: int, ctx, done: int = 0, total: int = 0) -> list[tuple[str, list[dict], str | None]]:
    from concurrent.futures import ProcessPoolExecutor

    from .bandit_runner import _pool_context

    total = total or len(todo)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if ctx is not None:
            ctx.progress(done, total, "secrets")
            ctx.check_cancelled()

    chunks = [todo[i:i + CHUNK_FILES] for i in range(0, len(todo), CHUNK_FILES)]
    if workers <= 1 or len(todo) <= PARALLEL_ABOVE:
        out = []
        for chunk in chunks:
            if ctx is not None:
                ctx.check_cancelled()
            out.extend(_scan_chunk(chunk))
            advance(len(chunk))
        return out
    out = []
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_pool_context()) as pool:
        futures = [pool.submit(_scan_chunk, chunk) for chunk in chunks]
        try:
            for fut, chunk in zip(futures, chunks):
                out.extend(fut.result())
                advance(len(chunk))
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    return out


def scan_files(files: list[tuple[str, str]], *, cache_conn=None, ctx=None,
               workers: int | None = None) -> dict[str, tuple[list[dict], str | None]]:
    """relpath -> (results, skip reason), reusing cached results by content."""
    from . import store
    from .bandit_runner import cache_key, default_workers, sha256_bytes
    from .reading import display_path, read_limited

    chash = config_hash()
    keys, shas = {}, {}
    for path, rel in files:
        data, _ = read_limited(path, MAX_BYTES)  # regular files only: a FIFO must not block the hashing
        if data is None:
            continue  # scanned below, which gives the reason
        shas[rel] = sha256_bytes(data)
        keys[rel] = cache_key(rel, shas[rel], chash)
    cached = store.cache_get_many(cache_conn, list(keys.values())) if cache_conn else {}
    out = {}
    todo = []
    for path, rel in files:
        hit = cached.get(keys.get(rel, ""))
        if hit is not None:
            out[rel] = (hit["issues"], hit["skipped"])
        else:
            todo.append((path, rel))
    fresh = []
    for rel, results, reason in _scan_todo(todo, workers or default_workers(), ctx,
                                           done=len(files) - len(todo), total=len(files)):
        out[rel] = (results, reason)
        if rel in keys and not (reason or "").startswith("unreadable"):
            fresh.append((keys[rel], display_path(rel), shas[rel], chash, {"lines": 0, "issues": results, "skipped": reason}))
    if cache_conn is not None and fresh:
        store.cache_put_many(cache_conn, fresh)
    return {rel: out[rel] for rel in sorted(out)}
