"""Column transforms. Each takes and returns a pyarrow string array (one column).

Keys are passed in as bytes by the caller (the plugin reads them from the OS
keyring); nothing here stores a key. Work is done once per *distinct* value
(dictionary encoding) wherever the result depends only on the value, so repeated
values cost nothing and the output stays consistent within and across files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata

from .errors import AnonymiseError

_SPACES = re.compile(r"\s+")


def normalise(value: str) -> str:
    """Case, Unicode form and spacing folded, so 'Ann  Lee' and 'ann lee' pseudonymise alike."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().lower()


def _by_distinct(array, fn):
    """Apply fn to each distinct value once; returns a string array."""
    import pyarrow as pa

    enc = array.dictionary_encode() if not pa.types.is_dictionary(array.type) else array
    mapped = pa.array([fn(v) for v in enc.dictionary.to_pylist()], type=pa.string())
    return mapped.take(enc.indices)


def redact(array, token: str = "[REDACTED]"):
    import pyarrow as pa

    return pa.repeat(pa.scalar(token, type=pa.string()), len(array))


def mask(array, keep_first: int = 0, keep_last: int = 4, char: str = "*"):
    """Keep the first/last characters, mask the rest; a value too short to keep any is masked whole."""
    import pyarrow as pa
    import pyarrow.compute as pc

    length = pc.utf8_length(array)
    middle = pc.max_element_wise(pc.subtract(length, keep_first + keep_last), 0)
    head = pc.utf8_slice_codeunits(array, 0, keep_first) if keep_first else pa.repeat(pa.scalar(""), len(array))
    tail = pc.utf8_slice_codeunits(array, -keep_last) if keep_last else pa.repeat(pa.scalar(""), len(array))
    masked = pc.binary_join_element_wise(head, pc.binary_repeat(pa.scalar(char), middle), tail, "")
    too_short = pc.less_equal(length, keep_first + keep_last)
    if not pc.any(too_short).as_py():   # the usual case: no value short enough to be masked whole
        return masked
    whole = pc.binary_repeat(pa.scalar(char), length)
    return pc.if_else(too_short, whole, masked)


def _hmac_sha256_many(key: bytes, messages, length: int) -> bytes:
    """HMAC-SHA256 (RFC 2104) of each message, truncated to `length` bytes, concatenated.

    The keyed inner and outer SHA-256 states are computed once and copied per
    message: the same bytes as hmac.digest, at about half the cost per value. The
    per-message steps are `map`s over the C methods (no Python frame per value), and
    the truncation is one numpy slice over all digests.
    """
    from collections import deque
    from itertools import repeat

    import numpy as np

    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    sha = type(inner)
    messages = messages if isinstance(messages, list) else list(messages)
    n = len(messages)
    parts = []
    # bounded: a hash object per message in flight costs memory; 1,024 at a time measured
    # ~5 % faster than 4,096 (the objects stay in cache between the passes)
    for start in range(0, n, 1024):
        chunk = messages[start:start + 1024]
        inners = list(map(sha.copy, repeat(inner, len(chunk))))
        deque(map(sha.update, inners, chunk), maxlen=0)
        outers = list(map(sha.copy, repeat(outer, len(chunk))))
        deque(map(sha.update, outers, map(sha.digest, inners)), maxlen=0)
        parts.append(b"".join(map(sha.digest, outers)))
    digests = b"".join(parts)
    if length == 32 or not n:
        return digests
    return np.frombuffer(digests, np.uint8).reshape(n, 32)[:, :length].tobytes()


def _data_bytes(array) -> bytes:
    """The value bytes of a string array (one copy, memcpy speed); may cover more than a slice
    holds, which only makes the callers' 'is there any X' tests err on the side of doing the work."""
    buf = array.buffers()[2]
    return buf.to_pybytes() if buf is not None else b""


def _is_ascii(array) -> bool:
    return _data_bytes(array).isascii()


# ASCII white space as RE2's \s sees it (tab, newline, form feed, carriage return, space) plus VT
_ASCII_SPACE = (9, 10, 11, 12, 13, 32)


def _has_any_byte(array, byte_values) -> bool:
    data = _data_bytes(array)
    return any(bytes((b,)) in data for b in byte_values)   # memchr each


def _normalise_array(array):
    """Vectorised `normalise`: NFKC, lower case, runs of white space as one space, trimmed.

    Pure ASCII without white space (the usual identifier) needs only the lower-casing: NFKC
    leaves ASCII as it is, and the regex and trim would change nothing."""
    import pyarrow.compute as pc

    if len(array) and _is_ascii(array):
        out = pc.ascii_lower(array)
        if not _has_any_byte(out, _ASCII_SPACE):
            return out
        out = pc.replace_substring_regex(out, r"\s+", " ")
        return pc.utf8_trim_whitespace(out)
    out = pc.utf8_lower(pc.utf8_normalize(array, "NFKC"))
    out = pc.replace_substring_regex(out, r"\s+", " ")
    return pc.utf8_trim_whitespace(out)


_DEDUPE_PROBE_MIN = 4096  # shorter columns: the dictionary costs nothing worth measuring
# Distinct share of the probe under which the distinct values are found first and each hashed
# once. A value repeated in the column shows in a quarter-sample about a quarter as often, and
# finding the distinct values pays from ~11 % repeats in the column: ~3 % in the probe.
_DEDUPE_BELOW = 0.97


def pseudonymise(array, key: bytes, prefix: str = "", length: int = 24, normalise_first: bool = True):
    """Keyed HMAC-SHA256 of each value, hex, `length` characters (24 = 96 bits).

    The same key gives the same pseudonym in every file and run, so joins still work;
    without the key a pseudonym cannot be recomputed from a guessed value.
    """
    import numpy as np
    import pyarrow as pa

    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise AnonymiseError("pseudonymisation needs a key of at least 16 bytes")
    if length % 2 or not 8 <= length <= 64:
        raise AnonymiseError("pseudonym length must be an even number of hex digits, 8 to 64")
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    enc = None
    messages = None
    if not array.null_count and len(array) >= _DEDUPE_PROBE_MIN:
        # Identifier columns are mostly distinct: there, hashing each value costs less than
        # finding the distinct ones first (~80 ns a value) would save. A quarter of the
        # values, spread over the column, tells which case this is.
        values = _normalise_array(array) if normalise_first else array
        messages = values.cast(pa.binary()).to_pylist()
        probe = messages[::4]
        if len(set(probe)) < _DEDUPE_BELOW * len(probe):
            messages = None
    if messages is None:
        enc = array.dictionary_encode()
        values = enc.dictionary
        if normalise_first:
            values = _normalise_array(values)
        messages = values.cast(pa.binary()).to_pylist()
    n = len(messages)
    hexed = _hmac_sha256_many(bytes(key), messages, length // 2).hex()
    width = len(prefix.encode()) + length
    if prefix:
        data = "".join(prefix + hexed[i * length:(i + 1) * length] for i in range(n)).encode()
    else:
        data = hexed.encode("ascii")
    offsets = np.arange(0, width * n + 1, width, dtype=np.int32)
    mapped = pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))
    if enc is None or n == len(array):
        # one pseudonym per row; or every value distinct and none null: codes are 0..n-1 in
        # order (first appearance), so the take would copy the column as it is
        return mapped
    return mapped.take(enc.indices)


# -- reversible tokens --------------------------------------------------------------------


def _siv(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    if len(key) not in (32, 48, 64):
        raise AnonymiseError("tokenisation needs an AES-SIV key of 32, 48 or 64 bytes")
    return AESSIV(key)


def tokenise(array, key: bytes, key_id: str, domain: str = ""):
    """Deterministic authenticated encryption (AES-SIV): equal values give equal tokens.

    A token reads `tok:<key id>:<base64url>` so a reviewer knows which keyring entry
    reverses it; `domain` (e.g. 'email') is authenticated, so a token cannot be
    replayed into another column type.
    """
    siv = _siv(key)
    ad = [f"{key_id}|{domain}".encode()]

    def fn(v):
        if v is None:
            return None
        ct = siv.encrypt(v.encode("utf-8"), ad)
        return f"tok:{key_id}:" + base64.urlsafe_b64encode(ct).rstrip(b"=").decode("ascii")

    return _by_distinct(array, fn)


def detokenise_value(token: str, keys: dict, domain: str = "") -> str:
    """Reverse one token with the key named in it; a wrong key or a changed token is refused."""
    from cryptography.exceptions import InvalidTag

    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != "tok":
        raise AnonymiseError(f"{token[:40]!r} is not a token (expected tok:<key id>:<data>)")
    key_id, data = parts[1], parts[2]
    if key_id not in keys:
        raise AnonymiseError(f"token needs key {key_id!r}, which is not available")
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    try:
        return _siv(keys[key_id]).decrypt(raw, [f"{key_id}|{domain}".encode()]).decode("utf-8")
    except InvalidTag:
        raise AnonymiseError(f"token {token[:40]!r} does not verify with key {key_id!r}") from None


def detokenise(array, keys: dict, domain: str = ""):
    return _by_distinct(array, lambda v: None if v is None else detokenise_value(v, keys, domain))


# -- surrogates ---------------------------------------------------------------------------


class SurrogateNames:
    """Realistic, consistent, collision-free replacement names.

    The candidate for a value is chosen by HMAC(key, value) among first × middle
    initial × last names from Faker's locale lists (millions of combinations). If that
    surrogate already belongs to another value, the next candidate HMAC(key, value|i)
    is tried: two people never merge. `mapping` can be saved and passed back in, so
    pseudonyms stay the same across files and runs even where collisions happened.
    """

    def __init__(self, key: bytes, locale: str = "en_US", mapping: dict | None = None):
        import importlib

        mod = importlib.import_module(f"faker.providers.person.{locale}")
        prov = mod.Provider
        firsts = list(dict.fromkeys(list(getattr(prov, "first_names", ()))))
        lasts = list(dict.fromkeys(list(getattr(prov, "last_names", ()))))
        if not firsts or not lasts:
            raise AnonymiseError(f"Faker locale {locale!r} has no name lists")
        self._first, self._last = firsts, lasts
        self._initials = "ABCDEFGHIJKLMNOPRSTVW"
        self._space = len(firsts) * len(lasts) * len(self._initials)
        self._key = bytes(key)
        self.mapping: dict[str, str] = dict(mapping or {})
        self._used = set(self.mapping.values())

    @property
    def capacity(self) -> int:
        return self._space

    def _candidate(self, value: str, attempt: int) -> str:
        msg = f"{value}|{attempt}".encode("utf-8") if attempt else value.encode("utf-8")
        x = int.from_bytes(hmac.digest(self._key, msg, "sha256")[:8], "big") % self._space
        x, i = divmod(x, len(self._initials))
        f, l = divmod(x, len(self._last))
        return f"{self._first[f]} {self._initials[i]}. {self._last[l]}"

    def get(self, value: str) -> str:
        norm = normalise(value)
        got = self.mapping.get(norm)
        if got is not None:
            return got
        if len(self._used) >= self._space:
            raise AnonymiseError("more distinct names than surrogate combinations")
        attempt = 0
        while True:
            cand = self._candidate(norm, attempt)
            if cand not in self._used:
                break
            attempt += 1
        self.mapping[norm] = cand
        self._used.add(cand)
        return cand

    def apply(self, array):
        return _by_distinct(array, lambda v: None if v is None else self.get(v))


# -- generalisation, dates, noise ---------------------------------------------------------


def generalise(array, hierarchy, level: int):
    """Replace each value by its label at `level` of an ARX hierarchy."""
    def fn(v):
        if v not in hierarchy:
            raise AnonymiseError(f"value {v!r} is not in hierarchy {hierarchy.name!r}")
        return hierarchy.generalise(v, level)

    return _by_distinct(array, fn)


def _subject_offset(key: bytes, subject: str, max_days: int) -> int:
    x = int.from_bytes(hmac.digest(key, normalise(subject).encode(), "sha256")[:8], "big")
    return x % (2 * max_days + 1) - max_days


def shift_dates(dates, subjects, key: bytes, max_days: int = 180):
    """Shift every date of a subject by the same keyed offset (intervals within a subject survive)."""
    import datetime as dt

    import pyarrow as pa

    out = []
    for i, (d, s) in enumerate(zip(dates.to_pylist(), subjects.to_pylist())):
        if d is None or d == "":
            out.append(d)
            continue
        try:
            day = dt.date.fromisoformat(d[:10])
        except ValueError:
            raise AnonymiseError(f"row {i + 1}: {d!r} is not an ISO date (YYYY-MM-DD)") from None
        out.append((day + dt.timedelta(days=_subject_offset(key, s or "", max_days))).isoformat())
    return pa.array(out, type=pa.string())


def add_noise(array, scale: float, seed=None, kind: str = "laplace"):
    """Numeric noise (Laplace or Gaussian) with `scale`; keeps the column's decimal places."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        x = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        for i, v in enumerate(array.to_pylist()):
            try:
                float(v)
            except (TypeError, ValueError):
                raise AnonymiseError(f"numeric noise needs numbers: row {i + 1} holds {v!r}") from None
        raise
    rng = np.random.default_rng(seed)
    noise = rng.laplace(0, scale, len(x)) if kind == "laplace" else rng.normal(0, scale, len(x))
    decimals = max((len(v.split(".", 1)[1]) for v in array.to_pylist()[:1000] if v and "." in v), default=0)
    y = np.round(x + noise, decimals)
    txt = [f"{v:.{decimals}f}" for v in y]
    return pa.array(txt, type=pa.string())


def shuffle_permutation(n: int, seed=None):
    """Row order for the output; by default from the OS's randomness so it cannot be replayed."""
    import secrets

    import numpy as np

    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(128))
    return rng.permutation(n)


def hash_key_id(key: bytes) -> str:
    """A short public id for a key (never the key): first 8 hex of SHA-256."""
    return hashlib.sha256(b"workbench-key-id|" + bytes(key)).hexdigest()[:8]
