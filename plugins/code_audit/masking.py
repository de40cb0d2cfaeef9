"""Masking of secrets in anything we store or show.

Secret values are taken from the source text, not from a detector's report:
a detector may report only part of a secret (detect-secrets' GitHub detector
reports the ``ghp`` prefix). ``full_secret_spans`` widens a hit to the whole
token (known token shapes) or to the quoted string literal around it;
``mask_values`` then masks every occurrence of every value of a file in any
snippet, whatever rule found it, plus every known token shape.
"""

from __future__ import annotations

import functools
import hashlib
import re

# Known token shapes: prefix + body. Whole tokens are masked wherever they appear.
TOKEN_SHAPES: tuple[tuple[str, re.Pattern], ...] = tuple(
    (name, re.compile(rx)) for name, rx in (
        ("GitHub token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{20,255}"),
        ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}"),
        ("GitLab token", r"\bglpat-[A-Za-z0-9_\-]{20,}"),
        ("Anthropic key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
        ("OpenAI-style key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
        ("Stripe key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
        ("Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
        ("AWS access key id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        ("Google API key", r"\bAIza[0-9A-Za-z_\-]{35}"),
        ("Slack token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
        ("npm token", r"\bnpm_[A-Za-z0-9]{36}"),
        ("Replicate token", r"\br8_[A-Za-z0-9]{37}"),
        ("Groq key", r"\bgsk_[A-Za-z0-9]{48,}"),
        ("Perplexity key", r"\bpplx-[A-Za-z0-9]{40,}"),
        ("xAI key", r"\bxai-[A-Za-z0-9]{60,}"),
        ("Weights & Biases key", r"(?<![A-Za-z0-9])wandb_v1_[A-Za-z0-9_]{40,}"),
    )
)
# The start of a token cut off at the end of a truncated snippet.
_TOKEN_TAIL = re.compile(r"\b(?:gh[pousr]_|github_pat_|glpat-|sk-|sk_live_|rk_live_|hf_|AKIA|ASIA|AIza|xox[abposr]-"
                         r"|npm_|r8_|gsk_|pplx-|xai-|wandb_v1_)[A-Za-z0-9_\-]*\Z")
# A quoted string literal: Python, JSON, YAML, shell, INI values.
_QUOTED_LITERAL = re.compile(r"""(?P<q>['"`])(?P<body>(?:\\.|(?!(?P=q)).)*)(?P=q)""")
_SHORT = 4  # values shorter than this are masked only between quotes (else every 'a' would go)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# The provider prefix of a known token shape: it says what kind of key it is and is the same
# for every key of that kind, so it may stay visible.
_KNOWN_PREFIX = re.compile(r"(?:gh[pousr]_|github_pat_|glpat-|sk-ant-|sk-(?:proj-|svcacct-|admin-)?"
                           r"|[sr]k_(?:live|test)_|hf_|A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AIza|xox[abposr]-"
                           r"|npm_|r8_|gsk_|pplx-|xai-|wandb_v1_)")
MASK = "****"


def mask(secret: str) -> str:
    """What may be shown of a secret: ``****``, after the provider prefix when the value is a
    known token shape (``ghp_****``, ``AKIA****``). No character of the secret's own part and
    not its length: the first and last characters of a weak password shrink a dictionary attack."""
    m = _KNOWN_PREFIX.match(secret)
    if m and (any(rx.match(secret) for _, rx in TOKEN_SHAPES) or secret == m.group(0) + MASK):
        return m.group(0) + MASK  # masking a masked token again (text read back from the cache) keeps it
    return MASK


def secret_hash(secret: str, key: bytes) -> str:
    """HMAC-SHA256 of the secret under ``key`` (the project's key, see ``run_digest_key``): two
    findings of one value compare equal, yet the digest cannot be checked against a dictionary
    without the key, which lives in the secrets backend, never in the project file."""
    import hmac

    return hmac.new(key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


# The project's digest key lives with the tables (a light module: a warm re-run reads it before
# anything else is imported); kept importable from here.
from .store import DIGEST_KEY_NAME, run_digest_key  # noqa: E402,F401


def source_lines(text: str) -> list[str]:
    """Lines as Python, bandit and detect-secrets number them (\\n, \\r\\n, \\r only).

    ``str.splitlines`` also breaks at form feeds and other separators, which would
    shift the line numbers of everything after them.
    """
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# ------------------------------------------------------------------ finding the full value

def full_secret_spans(line: str, hit: str) -> list[tuple[int, int]]:
    """(start, end) in ``line`` of the full secret around each occurrence of a detector's ``hit``.

    The whole token when a known token shape covers the hit (``ghp`` -> ``ghp_…``),
    else the quoted string literal that contains it, else the hit itself. Empty when
    the hit is not on the line as written (escaped differently, or another line).
    """
    spans: list[tuple[int, int]] = []
    if not hit:
        return spans
    tokens = [m.span() for _, rx in TOKEN_SHAPES for m in rx.finditer(line)]
    literals = [m.span("body") for m in _QUOTED_LITERAL.finditer(line)]
    start = line.find(hit)
    while start != -1:
        end = start + len(hit)
        span = next(((a, b) for a, b in tokens if a <= start < b or start <= a < end), None)
        if span is not None:
            span = (min(span[0], start), max(span[1], end))
        else:
            span = next(((a, b) for a, b in literals if a <= start and end <= b), (start, end))
        if span not in spans:
            spans.append(span)
        start = line.find(hit, end)
    return spans


def full_secret_values(line: str, hit: str) -> list[str]:
    """The full secret values for a detector's ``hit`` on ``line`` (see full_secret_spans)."""
    return [line[a:b] for a, b in full_secret_spans(line, hit)]


# A literal that every match of the token shape contains: a file without it is not searched
# with that shape's expression (the expressions start with \b, which defeats the regex engine's
# own literal-prefix search; this makes the masking pass several times cheaper on big trees).
_TOKEN_LITERALS: dict[str, tuple[str, ...]] = {
    "GitHub token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitHub fine-grained token": ("github_pat_",),
    "GitLab token": ("glpat-",),
    "Anthropic key": ("sk-ant-",),
    "OpenAI-style key": ("sk-",),
    "Stripe key": ("_live_", "_test_"),
    "Hugging Face token": ("hf_",),
    "AWS access key id": ("A3T", "AKIA", "ASIA", "ABIA", "ACCA"),
    "Google API key": ("AIza",),
    "Slack token": ("xox",),
    "npm token": ("npm_",),
    "Replicate token": ("r8_",),
    "Groq key": ("gsk_",),
    "Perplexity key": ("pplx-",),
    "xAI key": ("xai-",),
    "Weights & Biases key": ("wandb_v1_",),
}


def token_values(text: str) -> set[str]:
    """Every known token shape in ``text``."""
    return {m.group(0) for name, rx in TOKEN_SHAPES
            if any(lit in text for lit in _TOKEN_LITERALS.get(name, ("",)))
            for m in rx.finditer(text)}


# bandit's B105-B107 name test, kept in step with bandit when it can be imported.
_PASSWORD_NAMES = re.compile(r"(^{0}$|_{0}_|^{0}_|_{0}$)".format(r"(pas+wo?r?d|pass(phrase)?|pwd|token|secrete?)"),
                             re.IGNORECASE)
PASSWORD_RULES = frozenset({"B105", "B106", "B107"})


def _password_names():
    try:
        from bandit.plugins.general_hardcoded_password import RE_CANDIDATES

        return RE_CANDIDATES
    except ImportError:  # bandit missing or reorganised: the same expression
        return _PASSWORD_NAMES


def password_literals(tree, first: int, last: int) -> list:
    """String constants on lines first..last that bandit's B105/B106/B107 would call passwords.

    ``tree`` is ``ast.parse`` of the file. Mirrors bandit's cases: assignment to a
    password-like name, attribute or subscript key; a dict entry with such a key; a
    comparison with such a name; a keyword argument; a default argument.
    """
    import ast

    names = _password_names()

    def name_of(node) -> str:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            return node.attr
        if isinstance(node, ast.arg):
            return node.arg
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str):
            return node.slice.value
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return ""

    def strings(node):
        return [node] if isinstance(node, ast.Constant) and isinstance(node.value, str) else []

    return [const for const in password_constants(tree, names, name_of, strings)
            if first <= const.lineno <= last or first <= (const.end_lineno or const.lineno) <= last]


def password_constants(tree, names, name_of, strings) -> list:
    """Every string constant of ``tree`` that B105-B107 would call a password (all lines).

    Walked once per file and kept on the tree, so that many findings of one file
    do not walk it again each.
    """
    import ast

    cached = getattr(tree, "_wb_password_constants", None)
    if cached is not None:
        return cached
    found = []
    for node in ast.walk(tree):
        pairs = []
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = [(node.target, node.value)]
        elif isinstance(node, ast.Dict):
            pairs = [(k, v) for k, v in zip(node.keys, node.values) if k is not None]
        elif isinstance(node, ast.Compare):
            pairs = [(node.left, c) for c in node.comparators] + [(c, node.left) for c in node.comparators]
        elif isinstance(node, ast.keyword) and node.arg:
            pairs = [(ast.arg(arg=node.arg), node.value)]
        elif isinstance(node, ast.arguments):
            positional = node.posonlyargs + node.args
            pairs = list(zip(positional[len(positional) - len(node.defaults):], node.defaults))
            pairs += [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults) if d is not None]
        for target, value in pairs:
            if names.search(name_of(target) or ""):
                found.extend(strings(value))
    tree._wb_password_constants = found
    return found


def literal_values(source: str, nodes) -> set[str]:
    """The text of each string constant as written in ``source`` (quotes and prefixes removed),
    and its value when that appears as is. Both are what a snippet of the file can show."""
    import ast

    values = set()
    segment_of = _segments(source)
    for node in nodes:
        segment = segment_of(node) or ""
        for m in _QUOTED_LITERAL.finditer(segment):
            if m.group("body"):
                values.add(m.group("body"))
        triple = re.findall(r"(?s)('''|\"\"\")(.*?)\1", segment)
        values.update(body for _, body in triple if body)
        if node.value and node.value in source:
            values.add(node.value)
    return values


# A line as the Python parser (and ``ast._splitlines_no_ff``) cuts it: up to and with "\r\n",
# "\r" or "\n" (not form feeds or other Unicode line breaks); a last line without one.
_PARSER_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def splitlines_no_ff(source: str) -> list[str]:
    """``ast._splitlines_no_ff(source)`` in one regular-expression pass (the library walks
    the text a character at a time: most of a warm audit's masking time on big files)."""
    return _PARSER_LINE.findall(source)


@functools.lru_cache(maxsize=4)
def _segments(source: str):
    """``ast.get_source_segment(source, node)``, with the source split into lines once
    (the library splits the whole file again for every node)."""
    import ast

    if getattr(ast, "_splitlines_no_ff", None) is None:  # another Python: the library function
        return lambda node: ast.get_source_segment(source, node)
    lines = splitlines_no_ff(source)

    def segment(node):
        try:
            if node.end_lineno is None or node.end_col_offset is None:
                return None
            first, last = node.lineno - 1, node.end_lineno - 1
            start, end = node.col_offset, node.end_col_offset
        except AttributeError:
            return None
        if first == last:
            return lines[first].encode()[start:end].decode()
        head = lines[first].encode()[start:].decode()
        tail = lines[last].encode()[:end].decode()
        return "".join([head, *lines[first + 1:last], tail])

    return segment


# ------------------------------------------------------------------ masking

def mask_values(text: str, values) -> str:
    """``text`` with every occurrence of every value, and every known token shape, masked.

    One pass, longest value first, so a masked form is never masked again. A value
    or token cut off at the end of ``text`` (a truncated snippet) is masked too.
    """
    if not text:
        return text
    pattern, long_values = _pattern(frozenset(v for v in values if v))
    text = pattern.sub(lambda m: mask(m.group(0)), text)
    return _mask_cut_tail(text, long_values)


@functools.lru_cache(maxsize=256)
def _pattern(values: frozenset) -> tuple[re.Pattern, list[str]]:
    """One expression for a file's values and the token shapes (compiled once per file)."""
    long_values = sorted((v for v in values if len(v) >= _SHORT), key=len, reverse=True)
    short_values = sorted((v for v in values if len(v) < _SHORT), key=len, reverse=True)
    parts = [re.escape(v) for v in long_values]
    parts += [rf"(?<=['\"`]){re.escape(v)}(?=['\"`])" for v in short_values]
    parts += [rx.pattern for _, rx in TOKEN_SHAPES]
    return re.compile("|".join(f"(?:{p})" for p in parts)), long_values


def _mask_cut_tail(text: str, values: list[str]) -> str:
    for value in values:
        for k in range(min(len(value) - 1, len(text)), _SHORT - 1, -1):
            if text.endswith(value[:k]):
                return text[:-k] + "…"
    m = _TOKEN_TAIL.search(text)
    if m and len(m.group(0)) >= _SHORT + 2:
        return text[:m.start()] + mask(m.group(0)) if len(m.group(0)) > 8 else text[:m.start()] + "…"
    return text


def mask_in(text: str, secrets) -> str:
    """Kept for callers of the old name: same as ``mask_values``."""
    return mask_values(text, secrets)


def mask_ai_keys(text: str) -> str:
    """Mask every AI-provider key (rule B908 patterns) found in ``text``."""
    from .rules.api_keys import KEY_PATTERNS

    for _, pattern in KEY_PATTERNS:
        text = pattern.sub(lambda m: mask(m.group(0)), text)
    return text


_PASSWORD_RULES = PASSWORD_RULES
_QUOTED = re.compile(r"'(.+)'")


def mask_issue_text(issue: dict) -> str:
    """bandit's message with quoted passwords (B105-B107) and AI keys masked."""
    text = issue["text"]
    if issue.get("test_id") in _PASSWORD_RULES:
        text = _QUOTED.sub(lambda m: "'" + mask(m.group(1)) + "'", text)
    return mask_ai_keys(mask_values(text, ()))


# ------------------------------------------------------------------ findings of one audit

def secret_values_of_file(text: str, secret_results=(), password_ranges=()) -> set[str]:
    """Every secret value of a file, from the source text.

    ``secret_results``: secrets_scan results for the file (their ``line`` and
    ``spans``); ``password_ranges``: (first, last) line ranges of bandit's
    B105/B106/B107 findings. Known token shapes anywhere in the file are added.
    """
    lines = source_lines(text)
    values: set[str] = set()
    for result in secret_results:
        n = result.get("line") or 0
        if 0 < n <= len(lines):
            values.update(lines[n - 1][a:b] for a, b in result.get("spans") or ())
    if password_ranges:
        import ast

        try:
            tree = ast.parse(text)
        except Exception:  # not Python after all (bandit parsed it, but be safe): no literals then
            tree = None
        if tree is not None:
            # one pass over the literals of every range (the union is the same)
            nodes = [n for first, last in password_ranges for n in password_literals(tree, first, last or first)]
            values |= literal_values(text, nodes)
    values |= token_values(text)
    values |= private_key_lines(text)
    return {v for v in values if v}


_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(.*?)-----END [A-Z0-9 ]*PRIVATE KEY",
                          re.DOTALL)


def private_key_lines(text: str) -> set[str]:
    """Each line of the body of every PEM/PGP private key in ``text``.

    Detectors report the BEGIN line; a snippet can show the body lines below it.
    """
    values = set()
    for m in _PRIVATE_KEY.finditer(text):
        for line in re.split(r"\\n|\r\n|\r|\n", m.group(1)):  # real line breaks, or \n inside a string
            line = line.strip().strip("\"'")
            if len(line) >= 16 and ":" not in line:  # key material, not "Proc-Type: 4,ENCRYPTED" headers
                values.add(line)
    return values


SOURCE_LIMIT = 128 * 1024 * 1024  # bandit's limit: files larger are not re-read for masking
_KEEP_AS_IS = {"masked", "secret_hmac", "scanner", "global", "test_name", "skipped_by", "reason"}


def mask_findings(findings, secret_results: dict | None, root: str, *, paths: dict | None = None,
                  read=None) -> None:
    """Mask, in place, every known secret value of each file in every finding of that file.

    ``findings``: workbench Finding objects (path, rule, line, end_line, message,
    evidence); ``secret_results``: what ``secrets_scan.scan_files`` returned
    (relpath -> (results, reason)), or None; ``root``: the audited folder;
    ``paths``: relpath -> path on disk, where the stored relpath is not the
    file's (names shown escaped). Strings in ``evidence`` and the message are
    masked; ``read(relpath)`` may supply the file text instead (default: read,
    bounded and regular files only, from ``paths`` or under ``root``).
    """
    import os

    from .reading import read_limited

    def default_read(rel: str) -> str | None:
        data, _ = read_limited((paths or {}).get(rel) or os.path.join(root, rel), SOURCE_LIMIT)
        return None if data is None else data.decode("utf-8", "replace")

    read = read or default_read
    by_path: dict[str, list] = {}
    for f in findings:
        by_path.setdefault(f.path or "", []).append(f)
    # A value found as a secret in one file is masked in the snippets of every file (a dummy key
    # of one test file also shows in another file's B101 evidence): first every file's values.
    texts: dict[str, str | None] = {}
    everywhere: set[str] = set()
    for rel, group in by_path.items():
        results = (secret_results or {}).get(rel, ((), None))[0]
        ranges = [(f.line or 0, f.end_line or f.line or 0) for f in group if f.rule in PASSWORD_RULES]
        text = texts[rel] = read(rel) if rel else None
        if text is not None and (results or ranges or _may_hold_token(text)):
            everywhere |= secret_values_of_file(text, results, ranges)
    for rel, (results, _) in (secret_results or {}).items():
        if results and rel not in texts:  # a file whose only findings were merged away
            text = read(rel)
            if text is not None:
                everywhere |= secret_values_of_file(text, results)
    for rel, group in by_path.items():
        text = texts[rel]
        lines = source_lines(text) if text is not None else []
        for f in group:
            own = everywhere
            if f.rule in PASSWORD_RULES and text is not None and not _covers(own, lines, f):
                # The literal was not located: mask every string literal of the finding's own lines.
                own = own | {m.group("body") for n in range(f.line or 0, (f.end_line or f.line or 0) + 1)
                             if 0 < n <= len(lines) for m in _QUOTED_LITERAL.finditer(lines[n - 1])}
            f.message = mask_values(f.message, own)
            for key, value in list(f.evidence.items()):
                if key not in _KEEP_AS_IS and isinstance(value, str):
                    f.evidence[key] = mask_values(value, own)


def _may_hold_token(text: str) -> bool:
    """Cheap: could ``text`` hold a known token shape or a private key (else nothing to collect)?"""
    return "PRIVATE KEY" in text or any(lit in text for lits in _TOKEN_LITERALS.values() for lit in lits)


def _covers(values: set[str], lines: list[str], finding) -> bool:
    """Does some value appear on the finding's lines?"""
    span = "\n".join(lines[max((finding.line or 1) - 1, 0):(finding.end_line or finding.line or 0)])
    return any(v in span for v in values)
