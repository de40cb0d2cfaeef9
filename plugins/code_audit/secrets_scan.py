"""Secrets in the tree, found by detect-secrets' plugins, in-process.

The secret value never leaves this module: results carry its masked form,
its sha256, where it is on its line (``spans``: columns, not the value) and
the flagged line with every secret of the file masked. The value is the full
one read from the source (``masking.full_secret_spans``), not detect-secrets'
report, which for some detectors is only a prefix (``ghp`` of a GitHub token). Lines marked
``# pragma: allowlist secret`` (detect-secrets' in-source suppression) are
reported as suppressed, like ``# nosec``.

Noise. detect-secrets' default filters (``default_settings``: is_indirect_reference,
is_likely_id_string, is_templated_secret, is_sequential_string, is_potential_uuid,
is_prefixed_with_dollar_sign, is_not_alphanumeric_string, lock and swagger files) run
inside the scan. On top of them ``is_noise`` drops what real ML/LLM trees are full of:
placeholders (``EMPTY``, ``sk-******``, ``<your key>``, ``changeme``), environment variable
names used as values, ``secrets: inherit`` in workflows, pinned commit hashes
(``revision="<40 hex>"``: pinning is the safe practice) and model or dataset names read as
high entropy. Notebooks are scanned in their source cells only (outputs hold base64
images and hashes), with line numbers into the notebook file. ``grade`` gives each hit a
severity and confidence: a pattern detector (AWS, GitHub, private key...) or an entropy hit
shaped like a known token is HIGH; an entropy hit with no credential word on its line is LOW.
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
    """detect-secrets' version, without importing the package (its import pulls in
    ``requests`` and every plugin: a third of a warm ``workbench audit``)."""
    from importlib import metadata

    try:
        return f"detect-secrets {metadata.version('detect-secrets')}"
    except metadata.PackageNotFoundError:  # run from a source tree: ask the module itself
        from detect_secrets.__version__ import VERSION

        return f"detect-secrets {VERSION}"


def config_hash() -> str:
    # |2: results carry the full value's spans and hash (not detect-secrets' partial report)
    # |3: noise filters, notebook source cells only, graded severity
    return hashlib.sha256(f"secrets|{engine_version()}|3".encode()).hexdigest()


def _is_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


_NOT_LOCATED = "[line not shown: it holds a secret written differently from how the detector read it]"


def _results(found: list[tuple[object, bool]], lines: list[str]) -> list[dict]:
    """Results for (PotentialSecret, suppressed) pairs: full values from the source lines.

    Each line is masked with every secret value of the file, so a line with two
    secrets shows neither. Noise (``is_noise``) is dropped before anything else.
    """
    located = []
    values: set[str] = set()
    for secret, suppressed in found:
        hit = secret.secret_value or ""
        n = secret.line_number
        line_text = lines[n - 1] if 0 < n <= len(lines) else ""
        spans = full_secret_spans(line_text, hit)
        value = line_text[spans[0][0]:spans[0][1]] if spans else hit
        if is_noise(secret.type, value, line_text):
            continue
        located.append((secret, suppressed, line_text, spans, value))
        values.update(line_text[a:b] for a, b in spans)
        values.add(hit)
    out = []
    for secret, suppressed, line_text, spans, value in located:
        severity, confidence, shape = grade(secret.type, value, line_text)
        out.append({
            "type": secret.type,
            "severity": severity,
            "confidence": confidence,
            "shape": shape,
            "line": secret.line_number,
            "masked": mask(value),
            "sha256": secret_hash(value),
            "spans": [list(s) for s in spans],  # where the value is on the line: no value stored
            "code": mask_values(line_text, values).strip()[:300] if spans else _NOT_LOCATED,
            "suppressed": suppressed,
        })
    return out


# ------------------------------------------------------------------ noise and grading

_ENTROPY = _LOW_CONFIDENCE
_GUESSING = _ENTROPY | _MEDIUM_CONFIDENCE  # detectors that guess from the value or a variable name
# Words that say a value is a credential (an entropy hit next to one is worth a look).
_CREDENTIAL_WORD = re.compile(r"(?i)key|token|secret|passw|pwd|auth|credential|bearer|private|cookie|session")
_PLACEHOLDER_WORD = re.compile(
    r"(?i)^(?:empty|none|null|nil|undefined|true|false|changeme|change[-_ ]?me|change[-_ ]?it|"
    r"secret|password|passwd|token|api[-_]?key|key|test|testing|dummy|fake|sample|example|placeholder|"
    r"redacted|removed|hidden|todo|tbd|xxx+|foo|bar|foobar|abc|abc123|123456|password123)$")
_PLACEHOLDER_PHRASE = re.compile(
    r"(?i)your[-_ ]?(?:own[-_ ]?)?(?:api[-_ ]?)?(?:key|token|secret|password)|(?:key|token|secret)[-_ ]?here|"
    r"insert[-_ ]|replace[-_ ]?(?:me|with|this)|put[-_ ]your|enter[-_ ]your|paste[-_ ]your|<[^<>]*>|\{\{[^{}]*\}\}")
# A provider prefix, then only mask characters: sk-******, hf_xxxx, sk-...., ghp_####
_MASKED = re.compile(r"^(?:[A-Za-z0-9]{1,12}[-_])*(?P<c>[xX*.#•…?_-])(?P=c)*$")
_ENV_NAME = re.compile(r"^\$?\{?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\}?$")
_ENV_READ = re.compile(r"os\.environ|getenv\(|environ\.get\(|process\.env\.|\$\{\{|\$\{[A-Za-z_]|\$\([A-Za-z_]")
_GIT_HASH = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_PIN_WORD = re.compile(r"(?i)revision|commit|\bsha|\brev\b|\bref\b|hash|digest|checksum|@[0-9a-f]{40}")
_SECRETS_INHERIT = re.compile(r"^\s*-?\s*secrets\s*:\s*inherit\s*(?:#.*)?$")
# org/name with '-', '_' or '.': standard base64 has '/' but none of those, url-safe base64
# has '-' and '_' but no '/', so such a value is a path or a hub id, not encoded key material.
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_WORDS = re.compile(r"[-_./:]")


def _bare(value: str) -> str:
    """The value without quotes, escapes and surrounding blanks (as written in the source)."""
    value = value.strip().strip("\\").strip("'\"` ")
    return value


def is_noise(secret_type: str, value: str, line: str) -> bool:
    """Is this hit one of the known false positives of ML/LLM trees?

    Pattern detectors (AWS, GitHub, private keys...) are only questioned for masked
    placeholders (``AKIA****``); guessing detectors (keyword, entropy, basic auth) also
    for placeholder words, environment variable names and reads, pinned hashes and hub ids.
    """
    bare = _bare(value)
    if _SECRETS_INHERIT.match(line):
        return True
    if not bare or _MASKED.match(bare):
        return True
    if secret_type not in _GUESSING:
        return False
    if _PLACEHOLDER_WORD.match(bare) or _PLACEHOLDER_PHRASE.search(bare):
        return True
    if _ENV_NAME.match(bare) or _ENV_READ.search(line):
        return True
    if secret_type in _ENTROPY:
        # A pinned revision: safe practice; a credential word on the line keeps it.
        if _GIT_HASH.match(bare) and _PIN_WORD.search(line) and not _CREDENTIAL_WORD.search(line):
            return True
        if _token_shape(bare) is None and _looks_like_name(bare):
            return True
    return False


def _looks_like_name(value: str) -> bool:
    """A model, dataset or file name (``meta-llama/Llama-2-7b-hf``, ``bert-base-uncased``)."""
    if _HUB_ID.match(value) and re.search(r"[-_.]", value):
        return True
    parts = [p for p in _WORDS.split(value) if p]
    return len(parts) >= 2 and all(len(p) <= 12 for p in parts)


def _token_shape(value: str) -> str | None:
    """The name of the known token shape that is the whole value (``hf_…``, ``sk-…``), if any."""
    from .masking import TOKEN_SHAPES

    for name, rx in TOKEN_SHAPES:
        m = rx.search(value)
        if m and m.group(0) == value:
            return name
    return None


def grade(secret_type: str, value: str, line: str) -> tuple[str, str, str | None]:
    """(severity, confidence, token shape) of a hit that is not noise.

    Pattern detectors: HIGH/HIGH. Keyword and basic-auth: HIGH/MEDIUM (a password in a
    config is a real finding). Entropy: HIGH/HIGH when the value is a known token shape
    (an ``hf_`` token has no detector of its own), MEDIUM/LOW with a credential word on the
    line, else LOW/LOW: a random-looking string and nothing saying it is a credential.
    """
    if secret_type in _ENTROPY:
        shape = _token_shape(_bare(value))
        if shape:
            return "HIGH", "HIGH", shape
        if _CREDENTIAL_WORD.search(line):
            return "MEDIUM", "LOW", None
        return "LOW", "LOW", None
    return "HIGH", confidence_of(secret_type), None


def notebook_sources_only(text: str) -> str:
    """The notebook's text with every line outside a cell's ``"source"`` blanked.

    Line numbers stay those of the notebook file. Outputs (base64 images, hashes),
    metadata and cell ids are not scanned. Works on notebooks as Jupyter writes them
    (one source line per line); a notebook on one line is parsed and its sources
    joined, reported at line 1.
    """
    import json

    lines = text.split("\n")
    if len(lines) <= 2:
        try:
            cells = json.loads(text).get("cells", [])
        except (ValueError, AttributeError):
            return text
        sources = []
        for cell in cells if isinstance(cells, list) else []:
            src = cell.get("source", "") if isinstance(cell, dict) else ""
            sources.append("".join(src) if isinstance(src, list) else str(src))
        return json.dumps("\n".join(sources))
    keep = [False] * len(lines)
    inside, indent = False, ""
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if inside:
            if stripped.startswith("]") and line[:len(line) - len(stripped)] == indent:
                inside = False
            else:
                keep[i] = True
            continue
        if stripped.startswith('"source":'):
            rest = stripped[len('"source":'):].strip()
            if rest.startswith("[") and not rest.rstrip(",").endswith("]"):
                inside, indent = True, line[:len(line) - len(stripped)]
            else:
                keep[i] = True  # "source": "one line" or "source": ["..."]
    return "\n".join(line if k else "" for line, k in zip(lines, keep))


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
    if path.lower().endswith(".ipynb"):
        text = notebook_sources_only(text)
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
