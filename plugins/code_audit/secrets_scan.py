"""Secrets in the tree, found by detect-secrets' plugins, in-process.

The secret value never leaves this module: results carry its masked form
(``****``, after a known token prefix), where it is on its line (``spans``: columns, not the value) and
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
(``revision="<7 to 40 hex>"``: pinning is the safe practice) and model or dataset names read as
high entropy. Notebooks are scanned in their source cells only (outputs hold base64
images and hashes), with line numbers into the notebook file. ``grade`` gives each hit a
severity and confidence: a pattern detector (AWS, GitHub, private key...) or an entropy hit
shaped like a known token is HIGH; an entropy hit with no credential word on its line is LOW.
"""

from __future__ import annotations

import hashlib
import re

from .masking import full_secret_spans, mask, mask_values, secret_hash, source_lines

MAX_BYTES = 2 * 1024 * 1024  # read whole and scanned as one text (detect-secrets' file transformers)
# Larger text files are streamed in blocks of lines (a secret must not hide behind padding);
# past STREAM_MAX_BYTES the file is not scanned, which is a finding (engine.not_audited_findings).
STREAM_MAX_BYTES = 1024 * 1024 * 1024
BLOCK_BYTES = 1024 * 1024
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
    # |4: no digest in the results (keyed digests are added after the cache), masks show no characters
    return hashlib.sha256(f"secrets|{engine_version()}|4".encode()).hexdigest()


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
_GIT_HASH = re.compile(r"^(?:[0-9a-f]{7,40}|[0-9a-f]{64})$")  # a short hash pins a commit too
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
        if reason and reason.startswith("too large"):
            return _scan_large(path)
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


def add_digests(found: dict, paths: dict, key: bytes) -> dict:
    """``found`` (relpath -> (results, reason)) with a ``digest`` on each result: HMAC-SHA256 of
    its full value under ``key``.

    The value is read again here from the result's line and ``spans``, in the process that
    holds the key: workers and the per-file cache never see the key, and the cache holds no
    digest (so it stays valid whatever the key). A value that cannot be located again gets a
    digest of where it is instead.
    """
    out = {}
    for rel, (results, reason) in found.items():
        if results:
            lines = _lines_at(paths.get(rel), {r["line"] for r in results})
            fresh = []
            for r in results:
                line, spans = lines.get(r["line"], ""), r.get("spans") or []
                value = line[spans[0][0]:spans[0][1]] if spans else ""
                fresh.append({**r, "digest": secret_hash(value or f"{r['type']}\0{rel}\0{r['line']}", key)})
            results = fresh
        out[rel] = (results, reason)
    return out


def _lines_at(path: str | None, numbers: set[int]) -> dict[int, str]:
    """The text of the given lines of a file, read as the scan reads it, streaming."""
    import io

    from .reading import open_regular

    out: dict[int, str] = {}
    if not path or not numbers:
        return out
    last = max(numbers)
    try:
        with open_regular(path) as fh:
            for n, line in enumerate(io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline=""), 1):
                if n in numbers:
                    out[n] = line.rstrip("\r\n")
                if n >= last:
                    break
    except OSError:
        pass
    return out


def _scan_large(path: str) -> tuple[list[dict], str | None]:
    """A text file over ``MAX_BYTES``, scanned in blocks of about ``BLOCK_BYTES`` of whole lines.

    Only one block is in memory at a time. Lines are cut as ``source_lines`` cuts them (\\n, \\r\\n,
    \\r); bytes that are not UTF-8 are replaced rather than ending the scan, so an odd byte
    appended to a large file cannot hide what is before it.
    """
    import io
    import os

    from .reading import NotRegularFile, open_regular

    try:
        fh = open_regular(path)
    except NotRegularFile as exc:
        return [], exc.strerror[0].lower() + exc.strerror[1:]
    except OSError as exc:
        return [], f"unreadable: {exc.strerror or exc}"
    out: list[dict] = []
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if not _is_text(fh.read(8192)):
            return [], None  # binary files are not secret-scanned, whatever their size; not an error
        if size > STREAM_MAX_BYTES:
            return [], f"too large for the secrets scan ({size:,} bytes; the limit is {STREAM_MAX_BYTES:,})"
        fh.seek(0)
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
        block: list[str] = []
        first, held = 1, 0
        try:
            for line in text:
                block.append(line.rstrip("\r\n"))
                held += len(line)
                if held >= BLOCK_BYTES:
                    out += _scan_block(path, block, first)
                    first, block, held = first + len(block), [], 0
        except OSError as exc:
            return [], f"unreadable: {exc.strerror or exc}"
        if block:
            out += _scan_block(path, block, first)
    out.sort(key=lambda r: (r["line"], r["type"]))
    return out, None


def _scan_block(path: str, lines: list[str], first: int) -> list[dict]:
    """Results for one block of a streamed file, with line numbers into the whole file."""
    found = [(s, False) for s in _process_lines(list(enumerate(lines, start=1)), path)]
    results = _results(found, lines)
    for r in results:
        r["line"] += first - 1
    return results


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
    its own order. Which lines a pattern can match is found cheaply first: every
    match contains one of a few literal strings (``_guard``, read from the parsed
    pattern), so only lines holding one are tried. ``tests/code_audit`` checks the
    results are identical (test_secrets_precheck.py).
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
    """Mirror of detect-secrets' ``_process_line_based_plugins`` with the pre-check.

    Only the lines some plugin could report (``_plugin_lines``) go through detect-secrets'
    filters and plugins, in detect-secrets' own order: lines first, then plugins.
    """
    from detect_secrets.core import scan
    from detect_secrets.settings import get_plugins
    from detect_secrets.util.code_snippet import get_code_snippet

    content = [text for _, text in lines]
    view = _FileView(content)
    checks = [(plugin, _plugin_lines(plugin, filename, view)) for plugin in get_plugins()]
    wanted = sorted(set().union(*(found for _, found in checks if found is not _ALL))) \
        if all(found is not _ALL for _, found in checks) else range(len(lines))
    for index in wanted:
        number, line = lines[index]
        line = line.rstrip()
        candidates = [plugin for plugin, found in checks if found is _ALL or index in found]
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


_ALL = object()  # every line is a candidate (compared by identity)


class _FileView:
    """The lines of one file as the plugins see them (right-stripped), with what the
    guards need to find the lines holding one of a set of strings quickly."""

    def __init__(self, content: list[str]):
        self.stripped = [text.rstrip() for text in content]
        self.whole = "\n".join(self.stripped)
        self.ascii = self.whole.isascii()
        self._lowered = None
        self._starts = None
        self._found: dict = {}

    def lines_with(self, guard) -> set[int]:
        """Indexes of the lines that contain one of ``guard.strings`` as ``guard.regex`` matches them."""
        if guard not in self._found:
            if not guard.regex.flags & re.IGNORECASE:
                self._found[guard] = self._containing(guard.strings, self.whole, self.stripped)
            elif guard.lowered is not None and self.ascii:
                # ASCII text: lower-casing is exactly what IGNORECASE does to it (see _Guard).
                if self._lowered is None:
                    self._lowered = ("\n".join(self.stripped).lower(), [t.lower() for t in self.stripped])
                self._found[guard] = self._containing(guard.lowered, *self._lowered)
            else:
                self._found[guard] = self._matching(guard.regex)
        return self._found[guard]

    def _matching(self, regex) -> set[int]:
        """Lines with a match of ``regex`` (newline-free literals): one pass over the joined text."""
        import bisect

        if self._starts is None:
            self._starts, pos = [], 0
            for text in self.stripped:
                self._starts.append(pos)
                pos += len(text) + 1
        found, starts, pos = set(), self._starts, 0
        while True:
            m = regex.search(self.whole, pos)
            if m is None:
                return found
            index = bisect.bisect_right(starts, m.start()) - 1
            found.add(index)
            if index + 1 >= len(starts):
                return found
            pos = starts[index + 1]  # one hit is enough for a line

    @staticmethod
    def _containing(strings, whole: str, lines: list[str]) -> set[int]:
        found: set[int] = set()
        for needle in strings:
            if needle in whole:  # one fast pass over the file rules most strings out
                found.update(i for i, text in enumerate(lines) if needle in text)
        return found


def _plugin_lines(plugin, filename: str, view: _FileView):
    """Indexes of the lines ``plugin`` could report, or ``_ALL`` when that is not known.

    A superset, never a guess: a line is left out only when none of the plugin's patterns
    can match it (each pattern's required strings, ``_guard``, are absent or the pattern
    itself does not match), or, for the entropy plugins, when no quoted string on the line
    has enough distinct characters to pass the plugin's entropy limit.
    """
    patterns = _patterns(plugin, filename)
    if patterns is None:
        return _ALL
    kmin = _entropy_min_distinct(plugin)
    lines = view.stripped
    found: set[int] = set()
    for pattern in patterns:
        guard = _guard(pattern)
        # Without required strings, one search of the whole file may rule the pattern out.
        # Anchored patterns could match a line but not the joined text: never ruled out so.
        if guard is None and not _anchored(pattern) and not pattern.search(view.whole):
            continue
        maybe = view.lines_with(guard) if guard is not None else range(len(lines))
        if kmin is not None:  # the plugin's own findall, then the entropy bound
            found.update(i for i in maybe if i not in found
                         and any(len(set(m[1])) >= kmin for m in pattern.findall(lines[i])))
        else:
            found.update(i for i in maybe if i not in found and pattern.search(lines[i]))
    return found


def _entropy_min_distinct(plugin) -> int | None:
    """For detect-secrets' entropy plugins: the fewest distinct characters a string needs to
    pass the plugin's entropy limit (None for other plugins, or ones that change the rule).

    Shannon entropy of a string with k distinct characters is at most log2(k) (the hex
    plugin only lowers it), so a string with log2(k) below the limit cannot be reported;
    the margin keeps floating-point rounding of an exactly-uniform string on the safe side.
    """
    import math

    from detect_secrets.plugins.high_entropy_strings import HexHighEntropyString, HighEntropyStringsPlugin

    cls = type(plugin)
    if not isinstance(plugin, HighEntropyStringsPlugin) \
            or cls.analyze_line is not HighEntropyStringsPlugin.analyze_line \
            or cls.analyze_string is not HighEntropyStringsPlugin.analyze_string \
            or cls.calculate_shannon_entropy not in (HighEntropyStringsPlugin.calculate_shannon_entropy,
                                                     HexHighEntropyString.calculate_shannon_entropy) \
            or plugin.regex.groups != 3:
        return None
    k = 1
    while math.log2(k) < plugin.entropy_limit - 1e-6:
        k += 1
    return k


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


class _Guard:
    """A set of literal strings one of which every match of a pattern contains.

    ``regex`` finds any of them with the pattern's own case flags, so a character the pattern
    matches case-insensitively is matched the same way here. ``lowered`` (IGNORECASE patterns)
    finds them, case-sensitively and much faster, in lower-cased ASCII text: there, IGNORECASE
    equality of two ASCII characters is equality after ``str.lower()``. A string with a
    character that IGNORECASE matches to no ASCII character (``ñ``) cannot occur in ASCII text
    and is left out; one with a character that does match an ASCII one (the Kelvin sign)
    leaves ``lowered`` unset.
    """

    def __init__(self, strings: set[str], flags: int):
        alternation = "|".join(re.escape(s) for s in sorted(strings, key=lambda s: (-len(s), s)))
        case = flags & (re.IGNORECASE | re.ASCII)
        self.strings = strings
        self.regex = re.compile(alternation, case)
        self.lowered = None  # strings to look for in lower-cased ASCII text
        if case & re.IGNORECASE:
            possible = [s for s in strings if all(c.isascii() or _ascii_twins(c, case) for c in s)]
            if all(s.isascii() for s in possible):
                self.lowered = sorted({s.lower() for s in possible})


def _ascii_twins(char: str, flags: int) -> list[str]:
    """The ASCII characters ``char`` matches under ``flags`` (IGNORECASE), asked of ``re`` itself."""
    rx = re.compile(re.escape(char), flags)
    return [a for a in map(chr, range(128)) if rx.fullmatch(a)]


_GUARDS: dict = {}
_SHARED_GUARDS: dict = {}
_MAX_ALTERNATIVES = 64


def _guard(pattern) -> _Guard | None:
    """The pattern's required strings as a ``_Guard``, or None when none can be proved."""
    key = (pattern.pattern, pattern.flags)
    if key not in _GUARDS:
        _GUARDS[key] = None
        if isinstance(pattern.pattern, str):
            try:
                strings = _required(_parse(pattern.pattern, pattern.flags))
            except Exception:  # an unfamiliar construct: no guard, the pattern itself decides
                strings = None
            if strings and all(s and "\n" not in s and "\r" not in s for s in strings):
                # Patterns requiring the same strings share one guard: a file's lines are searched once.
                same = (frozenset(strings), pattern.flags & (re.IGNORECASE | re.ASCII))
                if same not in _SHARED_GUARDS:
                    _SHARED_GUARDS[same] = _Guard(strings, pattern.flags)
                _GUARDS[key] = _SHARED_GUARDS[same]
    return _GUARDS[key]


def _parse(text: str, flags: int):
    try:
        from re import _parser as sre_parse  # Python 3.11+
    except ImportError:  # pragma: no cover
        import sre_parse
    return sre_parse.parse(text, flags)


def _required(items) -> set[str] | None:
    """Strings one of which every match of the parsed sequence ``items`` contains, or None.

    Literal characters next to each other make longer strings (a small character set of
    literals multiplies them out); a group, a branch or a repeat of at least one contributes
    what it requires. The best-separating choice is kept: the longest shortest string.
    Anything else (classes, categories, lookarounds, optional parts) requires nothing.
    """
    try:
        from re import _constants as C  # Python 3.11+
    except ImportError:  # pragma: no cover
        import sre_constants as C

    best: set[str] | None = None

    def score(strings):
        return (min(map(len, strings)), -len(strings))

    def consider(strings):
        nonlocal best
        if strings and all(strings) and len(strings) <= _MAX_ALTERNATIVES:
            if best is None or score(strings) > score(best):
                best = set(strings)

    run = {""}
    for op, av in items:
        chars = None
        if op is C.LITERAL:
            chars = {chr(av)}
        elif op is C.IN and all(o is C.LITERAL for o, _ in av) and len(av) <= 4:
            chars = {chr(a) for _, a in av}
        if chars is not None:
            run = {s + c for s in run for c in chars}
            if len(run) > _MAX_ALTERNATIVES:
                consider(None)
                run = {""}
            continue
        consider(run)
        run = {""}
        inner = None
        if op is C.SUBPATTERN:
            _, add_flags, del_flags, sub = av
            if not add_flags and not del_flags:
                inner = _required(sub)
        elif op is C.BRANCH:
            alternatives = [_required(alt) for alt in av[1]]
            if all(alternatives):
                inner = set().union(*alternatives)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)) and av[0] >= 1:
            inner = _required(av[2])
        elif op is getattr(C, "ATOMIC_GROUP", None):
            inner = _required(av)
        if inner:
            consider(inner)
    consider(run)
    return best


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
    from .bandit_runner import default_workers

    plan = plan_files(files, cache_conn=cache_conn)
    fresh = _scan_todo(plan.todo, workers or default_workers(), ctx,
                       done=len(files) - len(plan.todo), total=len(files))
    return finish_files(plan, fresh, cache_conn=cache_conn)


class Plan:
    """What is left to scan after the cache: see ``plan_files``."""

    def __init__(self, results: dict, todo: list, keys: dict, shas: dict, chash: str):
        self.results, self.todo, self.keys, self.shas, self.chash = results, todo, keys, shas, chash

    def chunks(self) -> list[list[tuple[str, str]]]:
        return [self.todo[i:i + CHUNK_FILES] for i in range(0, len(self.todo), CHUNK_FILES)]


def plan_files(files: list[tuple[str, str]], *, cache_conn=None) -> Plan:
    """Hash the files and take what the cache holds; the rest is ``Plan.todo``."""
    from . import store
    from .bandit_runner import cache_key
    from .reading import hash_limited, read_head

    chash = config_hash()
    keys, shas = {}, {}
    results = {}
    for path, rel in files:
        head = read_head(path, 8192)  # regular files only: a FIFO must not block
        if head is not None and not _is_text(head):
            results[rel] = ([], None)  # binary: not secret-scanned, and a large one is not hashed either
            continue
        sha, _, why = hash_limited(path, STREAM_MAX_BYTES)
        if why is not None:
            continue  # scanned below, which gives the reason
        shas[rel] = sha
        keys[rel] = cache_key(rel, shas[rel], chash)
    cached = store.cache_get_many(cache_conn, list(keys.values())) if cache_conn else {}
    todo = []
    for path, rel in files:
        if rel in results:
            continue
        hit = cached.get(keys.get(rel, ""))
        if hit is not None:
            results[rel] = (hit["issues"], hit["skipped"])
        else:
            todo.append((path, rel))
    return Plan(results, todo, keys, shas, chash)


def finish_files(plan: Plan, fresh_results, *, cache_conn=None) -> dict[str, tuple[list[dict], str | None]]:
    """The plan's cached results with the fresh ``(rel, results, reason)`` (written to the cache)."""
    from . import store
    from .reading import display_path

    out = dict(plan.results)
    fresh = []
    for rel, results, reason in fresh_results:
        out[rel] = (results, reason)
        if rel in plan.keys and not (reason or "").startswith("unreadable"):
            fresh.append((plan.keys[rel], display_path(rel), plan.shas[rel], plan.chash,
                          {"lines": 0, "issues": results, "skipped": reason}))
    if cache_conn is not None and fresh:
        store.cache_put_many(cache_conn, fresh)
    return {rel: out[rel] for rel in sorted(out)}
