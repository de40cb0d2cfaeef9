"""Per-column PII detection from the column name and a sample of values, offline.

Each column gets an entity type, a role (direct identifier, quasi-identifier,
sensitive, other) and a confidence in [0, 1]. Values are checked with shape rules
and validators (IBAN mod-97, Luhn for cards, SSN/NINO rules, ipaddress for IPs);
person names are recognised with the first/last-name lists of Faker's locale
providers (tens of thousands of names, no network model). The column name adds
evidence but is never enough alone for a value-checkable type.

Free-text columns are scanned span by span; `scrub_text` replaces each PII span
with its type in brackets.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass
from datetime import date

DIRECT = "direct_identifier"
QUASI = "quasi_identifier"
SENSITIVE = "sensitive"
OTHER = "other"

ROLE_OF = {
    "person_name": DIRECT, "email": DIRECT, "phone": DIRECT, "iban": DIRECT,
    "credit_card": DIRECT, "national_id": DIRECT, "ip_address": DIRECT, "mac_address": DIRECT,
    "url": DIRECT, "free_text_pii": DIRECT, "street_address": DIRECT, "identifier": DIRECT,
    "occupation": QUASI, "location": QUASI, "demographic": QUASI,
    "date_of_birth": QUASI, "postcode": QUASI, "age": QUASI, "gender": QUASI, "date": QUASI,
    "health": SENSITIVE, "salary": SENSITIVE, "free_text": OTHER, "other": OTHER,
}

NAME_HINTS = [
    ("email", r"e-?mail"),
    ("phone", r"phone|mobile|tel(ephone)?\b|fax|cell"),
    ("iban", r"iban"),
    ("credit_card", r"card|\bcc\b|pan\b|credit"),
    ("national_id", r"ssn|social.?sec|national.?id|nino|passport|tax.?id|insee|\bnid\b"),
    ("ip_address", r"\bip\b|ip.?addr|ipv[46]|client.?ip"),
    ("mac_address", r"\bmac\b|mac.?addr"),
    ("url", r"url|website|homepage|link"),
    ("date_of_birth", r"birth|\bdob\b|born"),
    ("postcode", r"zip|post.?code|postal|plz"),
    ("person_name", r"name|surname|patient|customer|employee|person|author"),
    ("street_address", r"address|street"),
    ("age", r"^age$|\bage\b"),
    ("gender", r"gender|\bsex\b"),
    ("occupation", r"occupation|profession|job|position|employment|workclass|\bwork.?title|\brole\b"),
    ("location", r"city|town|county|region|municipal|district|country|nationality|citizenship"),
    ("demographic", r"marital|education|\brace\b|ethnic|religio"),
    ("health", r"diagnos|disease|condition|icd|medic"),
    ("salary", r"salary|income|wage"),
]

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_EMAIL_SPAN = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^(\+|00)?[\d\s().\-/x]{7,24}$")
_PHONE_SPAN = re.compile(r"(?<![\w.])(?:\+|00)?\(?\d[\d\s().\-]{6,18}\d(?:\s?x\d{1,5})?(?![\w])")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_IBAN_SPAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD_SPAN = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_SSN_SPAN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_NINO = re.compile(r"^(?![DFIQUV])[A-Z](?![DFIQUVO])[A-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_URL = re.compile(r"^(?:https?|ftp)://[^\s/$.?#].[^\s]*$", re.I)
_URL_SPAN = re.compile(r"\b(?:https?|ftp)://[^\s<>\"']+", re.I)
_IPV4_SPAN = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_UK_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$", re.I)
_DIGITS_POSTCODE = re.compile(r"^\d{4,5}(?:-\d{4})?$")
_DATE_FORMATS = (
    re.compile(r"^(\d{4})-(\d{2})-(\d{2})"),
    re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$"),
)
_GENDER_WORDS = {"m", "f", "male", "female", "man", "woman", "men", "women", "x", "other", "diverse",
                 "non-binary", "nonbinary", "unknown", "männlich", "weiblich", "homme", "femme"}


def luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    v = value.replace(" ", "").upper()
    if not _IBAN.match(v):
        return False
    moved = v[4:] + v[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


def card_ok(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    return digits.isdigit() and 13 <= len(digits) <= 19 and luhn_ok(digits)


def ip_ok(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
        return True
    except ValueError:
        return False


def phone_ok(value: str) -> bool:
    if not _PHONE.match(value.strip()):
        return False
    digits = re.sub(r"\D", "", value.split("x")[0])
    return 7 <= len(digits) <= 15 and not _SSN.match(value.strip())


def parse_date(value: str):
    v = value.strip()
    for i, rx in enumerate(_DATE_FORMATS):
        m = rx.match(v)
        if not m:
            continue
        try:
            if i == 0:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            return date(y, b, a) if a > 12 else date(y, a, b)
        except ValueError:
            return None
    return None


_NAMES: set | None = None
_FIRST: set | None = None


def name_lists():
    """(first names, all names) from Faker's person providers of Latin-script locales."""
    global _NAMES, _FIRST
    if _NAMES is None:
        import importlib
        import pkgutil

        import faker.providers.person as pp

        names, first = set(), set()
        for mod in pkgutil.iter_modules(pp.__path__):
            try:
                prov = importlib.import_module(f"faker.providers.person.{mod.name}").Provider
            except Exception:  # a locale module that fails to import is simply skipped
                continue
            for attr in ("first_names", "first_names_male", "first_names_female"):
                seq = getattr(prov, attr, ())
                if not isinstance(seq, (list, tuple, dict)):
                    continue
                for n in seq:
                    if isinstance(n, str) and n.isalpha() and n[0].isupper():
                        first.add(n.casefold())
            seq = getattr(prov, "last_names", ())
            for n in seq if isinstance(seq, (list, tuple, dict)) else ():
                if isinstance(n, str) and n.replace("-", "").replace(" ", "").isalpha():
                    names.update(p.casefold() for p in n.replace("-", " ").split())
        names |= first
        _NAMES, _FIRST = names, first
    return _FIRST, _NAMES


_TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "herr", "frau", "mme", "mlle", "m",
           "univ.prof", "dipl.-ing", "ing", "mag", "b.sc", "m.sc", "b.a", "m.a", "phd", "md", "dds",
           "jr", "sr", "ii", "iii", "iv"}
_PARTICLES = {"de", "da", "di", "du", "la", "le", "van", "von", "der", "den", "del", "dos", "das", "y", "zu"}


def _name_token(t: str) -> bool:
    core = t.replace("-", "").replace("'", "").replace("’", "").rstrip(".")
    return bool(core) and core.isalpha() and t[0].isupper()


def name_ok(value: str) -> bool:
    tokens = value.strip().replace(",", " ").split()
    tokens = [t for t in tokens if t.casefold().rstrip(".") not in _TITLES]
    tokens = [t for t in tokens if t.casefold() not in _PARTICLES]
    if not 1 <= len(tokens) <= 4:
        return False
    if not all(_name_token(t) for t in tokens):
        return False
    _, names = name_lists()
    known = 0
    for t in tokens:
        parts = t.rstrip(".").casefold().split("-")
        if any(p in names for p in parts):
            known += 1
    return known >= max(1, (len(tokens) + 1) // 2)


# -- free text -------------------------------------------------------------------------


def find_pii_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, type) of PII spans in free text, longest-first, non-overlapping."""
    spans = []
    for m in _EMAIL_SPAN.finditer(text):
        spans.append((m.start(), m.end(), "email"))
    for m in _URL_SPAN.finditer(text):
        spans.append((m.start(), m.end(), "url"))
    for m in _IBAN_SPAN.finditer(text):
        if iban_ok(m.group()):
            spans.append((m.start(), m.end(), "iban"))
    for m in _SSN_SPAN.finditer(text):
        spans.append((m.start(), m.end(), "national_id"))
    for m in _CARD_SPAN.finditer(text):
        if card_ok(m.group()):
            spans.append((m.start(), m.end(), "credit_card"))
    for m in _IPV4_SPAN.finditer(text):
        if ip_ok(m.group()):
            spans.append((m.start(), m.end(), "ip_address"))
    for m in _PHONE_SPAN.finditer(text):
        if phone_ok(m.group()) and not card_ok(m.group()):
            spans.append((m.start(), m.end(), "phone"))
    first, names = name_lists()
    for m in re.finditer(r"\b([A-Z][a-z'’\-]+)(\s+[A-Z]\.)?\s+([A-Z][a-z'’\-]+)\b", text):
        if m.group(1).casefold() in first and m.group(3).casefold() in names:
            spans.append((m.start(), m.end(), "person_name"))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out, end = [], -1
    for s in spans:
        if s[0] >= end:
            out.append(s)
            end = s[1]
    return out


_CONTEXT_BEFORE = re.compile(
    r"(?:\b(?:customer|client|patient|user|member|caller|agent|employee|applicant|tenant|guest|mr|mrs|ms|"
    r"miss|dr|prof|herr|frau|monsieur|madame|mme|m|señor|señora|sr|sra|signor|signora|sig|dear|hi|hello|"
    r"hallo|bonjour|hola|ciao|called|call|phoned|emailed|contacted|told|asked|thanked|spoke\s+(?:to|with)|"
    r"talked\s+to|met|visited|informed|by|from|with|for|to)\.?\s+)$", re.I)
_CONTEXT_AFTER = re.compile(
    r"^\s+(?:asked|said|says|called|phoned|wrote|writes|wants|wanted|requested|reported|complained|"
    r"mentioned|confirmed|needs|requests|explained|visited|agreed|refused|paid|will|would|has|had|is|was)\b",
    re.I)
_CAP_WORD = re.compile(r"\b[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’\-]{1,}\b")
_WORD_SPLIT = re.compile(r"[^\w'’\-]+")


_DIGIT_RUN = re.compile(r"(?<![\w])\+?\d[\d\s().\-/]*\d(?![\w])")
_COUNTRY_CODES = ("49", "44", "33", "34", "39", "31", "32", "41", "43", "45", "46", "47", "48", "1")


def _word_at(low: str, i: int, j: int) -> bool:
    """low[i:j] stands on word boundaries."""
    return (i == 0 or not low[i - 1].isalnum()) and (j == len(low) or not low[j].isalnum())


def _own_literals(own) -> tuple[list, list]:
    """One row's identifiers as (lower-cased literal, type) and (digit string, type): whole values,
    every name token of 2+ letters, an email's local part and its pieces, and 7+ digit numbers (a
    phone or an account in a note is rarely written as in its column), with their national form."""
    lits, digs = [], []
    for value, entity in own:
        if not value:
            continue
        v = " ".join(str(value).split())
        label = entity or "identifier"
        if len(v) >= 3:
            lits.append((v.casefold(), label))
        words = []
        if entity == "email" and "@" in v:
            local = v.split("@", 1)[0]
            words = [local] + re.split(r"[._+\-]+", local)
            words += [re.sub(r"\d+", "", w) for w in words]
        elif entity in ("person_name", "street_address") or (entity is None and " " in v):
            words = _WORD_SPLIT.split(v)
        for w in words:
            w = w.strip("'’-")
            if len(w) >= 2 and w.casefold().rstrip(".") not in _TITLES and w.casefold() not in _PARTICLES \
                    and not w.isdigit():
                lits.append((w.casefold(), "email" if entity == "email" else "person_name"))
        digits = re.sub(r"\D", "", v)
        if len(digits) >= 7:
            digs.append((digits, label))
            for cc in _COUNTRY_CODES:
                if digits.startswith(cc) and len(digits) - len(cc) >= 7:
                    digs.append((digits[len(cc):].lstrip("0"), label))
                    break
    return lits, digs


def _own_spans(text: str, own) -> list:
    """Spans of the row's own identifiers in the text, on word boundaries, case-insensitive."""
    lits, digs = _own_literals(own)
    if not lits and not digs:
        return []
    low = text.casefold()
    if len(low) != len(text):  # a character whose lower case is longer: keep offsets exact
        low = "".join(c if len(c.casefold()) != 1 else c.casefold() for c in text)
    spans = []
    for lit, label in lits:
        i = low.find(lit)
        while i >= 0:
            if _word_at(low, i, i + len(lit)):
                spans.append((i, i + len(lit), label))
            i = low.find(lit, i + 1)
    if digs:
        for m in _DIGIT_RUN.finditer(text):
            run = re.sub(r"\D", "", m.group())
            for d, label in digs:
                if d and d in run:
                    spans.append((m.start(), m.end(), label))
                    break
    return spans


def find_pii_spans_with_context(text: str, own=()) -> list[tuple[int, int, str]]:
    """find_pii_spans, plus the row's own identifiers (`own`: (value, entity) pairs) wherever they
    occur, and single first names of the locale lists where the words around say it is a person."""
    spans = list(find_pii_spans(text)) + _own_spans(text, own)
    first, names = name_lists()
    for m in _CAP_WORD.finditer(text):
        w = m.group()
        if w.casefold() not in first:
            continue
        if _CONTEXT_BEFORE.search(text[max(0, m.start() - 24):m.start()]) or _CONTEXT_AFTER.match(text[m.end():]):
            spans.append((m.start(), m.end(), "person_name"))
            # a following capitalised surname goes with it
            nxt = re.match(r"\s+([A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’\-]+)", text[m.end():])
            if nxt and nxt.group(1).casefold() in names:
                spans.append((m.start(), m.end() + nxt.end(), "person_name"))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out, end = [], -1
    for s in spans:
        if s[0] >= end:
            out.append(s)
            end = s[1]
        elif s[1] > end and out:
            # overlapping spans merge, so no piece of either survives
            out[-1] = (out[-1][0], s[1], out[-1][2])
            end = s[1]
    return out


def scrub_text(text: str, own=()) -> tuple[str, int]:
    """Text with each PII span replaced by [TYPE]; and the number of spans.

    own: the row's own identifiers as (value, entity) pairs, removed wherever they occur."""
    spans = find_pii_spans_with_context(text, own)
    for s, e, t in reversed(spans):
        text = text[:s] + f"[{t.upper()}]" + text[e:]
    return text, len(spans)


def scrub_array(array, own_columns=None):
    """Scrub every cell; own_columns: [(entity, array of the same length)] with the row's identifiers."""
    import pyarrow as pa

    own_lists = [(ent, (col.to_pylist() if hasattr(col, "to_pylist") else list(col)))
                 for ent, col in (own_columns or [])]
    out, total = [], 0
    for i, v in enumerate(array.to_pylist()):
        if v is None:
            out.append(None)
            continue
        t, c = scrub_text(v, [(vals[i], ent) for ent, vals in own_lists])
        out.append(t)
        total += c
    return pa.array(out, type=pa.string()), total


# -- columns ---------------------------------------------------------------------------


@dataclass
class ColumnDecision:
    column: str
    entity: str
    role: str
    confidence: float
    evidence: str

    def to_dict(self):
        return asdict(self)


_VALUE_CHECKS = [
    ("email", lambda v: bool(_EMAIL.match(v.strip()))),
    ("iban", iban_ok),
    ("credit_card", card_ok),
    ("national_id", lambda v: bool(_SSN.match(v.strip()) or _NINO.match(v.strip().upper()))),
    ("mac_address", lambda v: bool(_MAC.match(v.strip()))),
    ("ip_address", ip_ok),
    ("url", lambda v: bool(_URL.match(v.strip()))),
    ("postcode", lambda v: bool(_UK_POSTCODE.match(v.strip()))),
    ("phone", phone_ok),
    ("person_name", name_ok),
]


_ID_SHAPE = re.compile(r"^[A-Za-z]{0,6}[-_/.#]?\d[\dA-Za-z\-_/.]{3,}$")
_ID_NAME = re.compile(r"(^|[^a-z])(id|ident|identifier|number|no|nr|num|ref|reference|account|acct|"
                      r"uuid|guid|key|code)([^a-z]|$)|_?id$")


def iban_shaped(value: str) -> bool:
    """An IBAN's shape (country, two digits, 11-30 alphanumerics), whatever its check digits say:
    a wrong check digit does not make a bank account anonymous."""
    return bool(_IBAN.match(value.replace(" ", "").upper()))


def identifier_shaped(values: list, column: str = "") -> float:
    """Share of values that look like one identifier scheme: no spaces, a common shape of letters and
    digits, (nearly) all distinct. Zero when the values repeat (categories, codes shared by rows)."""
    if len(values) < 10:
        return 0.0
    distinct = len(set(values)) / len(values)
    if distinct < 0.9:
        return 0.0
    shaped = [v for v in values if _ID_SHAPE.match(v.strip()) and sum(ch.isdigit() for ch in v) >= 3]
    if len(shaped) / len(values) < 0.9:
        return 0.0
    if all(_as_plain_number(v) for v in shaped) and not _ID_NAME.search(column.casefold()):
        # unique plain numbers (amounts, measurements) are identifiers only by their name or a fixed
        # width with leading zeros
        widths = {len(v.strip()) for v in shaped}
        if not (len(widths) == 1 and any(v.strip().startswith("0") for v in shaped)):
            return 0.0
    return len(shaped) / len(values)


def _as_plain_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _hint(column: str):
    low = column.casefold()
    for entity, rx in NAME_HINTS:
        if re.search(rx, low):
            return entity
    return None


def detect_column(column: str, values: list) -> ColumnDecision:
    vals = [v for v in values if v is not None and str(v).strip() != ""]
    hint = _hint(column)
    if not vals:
        return ColumnDecision(column, "other", OTHER, 0.0, "no values")
    vals = [str(v) for v in vals]
    scores = {}
    for entity, check in _VALUE_CHECKS:
        hits = sum(1 for v in vals if check(v))
        scores[entity] = hits / len(vals)
    # dates: of birth when the name says so, or when all are past dates 1900-2015ish
    dates = [parse_date(v) for v in vals]
    date_frac = sum(1 for d in dates if d) / len(vals)
    if date_frac >= 0.8:
        if hint == "date_of_birth":
            return ColumnDecision(column, "date_of_birth", QUASI, round(min(1, 0.6 + 0.4 * date_frac), 3),
                                  f"{date_frac:.0%} dates, name says birth")
        years = sorted(d.year for d in dates if d)
        if years and years[0] >= 1900 and years[len(years) // 2] <= date.today().year - 18:
            return ColumnDecision(column, "date_of_birth", QUASI, round(0.6 * date_frac, 3),
                                  f"{date_frac:.0%} past dates (birth-like years)")
        return ColumnDecision(column, "date", QUASI, round(0.7 * date_frac, 3), f"{date_frac:.0%} dates")
    distinct = len(set(vals))
    lowered = {v.strip().lower() for v in vals}
    if lowered and lowered <= _GENDER_WORDS:
        return ColumnDecision(column, "gender", QUASI, 0.9 if hint == "gender" else 0.75,
                              f"values are gender words ({', '.join(sorted(lowered))})")
    if scores.get("person_name"):
        # A column of people's names has many distinct values, and mostly full names
        # unless its name says it holds names: 'Male' or 'White' are surnames too.
        multi = sum(1 for v in vals if len(v.split()) >= 2) / len(vals)
        if distinct < max(10, 0.2 * len(vals)) or (multi < 0.5 and hint != "person_name"):
            scores["person_name"] = 0.0
    best = max(scores, key=lambda e: (scores[e], e == hint))
    frac = scores[best]
    if hint == "postcode" and sum(1 for v in vals if _DIGITS_POSTCODE.match(v.strip())) / len(vals) >= 0.8:
        return ColumnDecision(column, "postcode", QUASI, 0.9, "digit postcodes, name says postcode")
    if frac < 0.6:
        iban_like = sum(1 for v in vals if iban_shaped(v)) / len(vals)
        if iban_like >= 0.8:
            return ColumnDecision(column, "iban", DIRECT, round(0.6 + 0.3 * iban_like, 3),
                                  f"{iban_like:.0%} IBAN-shaped (check digits not all valid)")
        ident = identifier_shaped(vals, column)
        if ident:
            return ColumnDecision(column, "identifier", DIRECT, round(0.5 + 0.4 * ident, 3),
                                  f"{ident:.0%} identifier-shaped, {distinct} distinct of {len(vals)}")
    if frac >= 0.6:
        conf = 0.75 * frac + (0.25 if hint == best else 0.0)
        return ColumnDecision(column, best, ROLE_OF[best], round(min(conf, 1.0), 3),
                              f"{frac:.0%} of {len(vals)} sampled values are {best}"
                              + (", name agrees" if hint == best else ""))
    avg_len = sum(len(v) for v in vals) / len(vals)
    if avg_len >= 25 and sum(v.count(" ") for v in vals) / len(vals) >= 3:
        with_pii = sum(1 for v in vals if find_pii_spans(v)) / len(vals)
        if with_pii >= 0.1:
            return ColumnDecision(column, "free_text_pii", DIRECT, round(min(1.0, 0.5 + with_pii / 2), 3),
                                  f"free text, {with_pii:.0%} of values contain PII")
        return ColumnDecision(column, "free_text", OTHER, 0.6, "free text without PII found")
    # PII embedded in longer text in some of the values (notes, comments, messages)
    embedded = 0
    for v in vals:
        spans = find_pii_spans(v) if " " in v.strip() else []
        if spans and sum(e - s for s, e, _ in spans) < 0.8 * len(v.strip()):
            embedded += 1
    if embedded / len(vals) >= 0.05:
        frac_e = embedded / len(vals)
        return ColumnDecision(column, "free_text_pii", DIRECT, round(min(1.0, 0.5 + frac_e / 2), 3),
                              f"{frac_e:.0%} of values embed PII in text")
    if hint in ("age", "gender", "health", "salary", "postcode", "street_address", "occupation",
                "location", "demographic"):
        return ColumnDecision(column, hint, ROLE_OF[hint], 0.5, "column name only")
    if hint is not None and frac >= 0.3:
        return ColumnDecision(column, hint, ROLE_OF[hint], round(0.5 * frac + 0.2, 3),
                              f"column name, {frac:.0%} of values agree")
    return ColumnDecision(column, "other", OTHER, round(1 - frac, 3), "no PII pattern")


def detect_table(table, sample: int = 500, seed: int = 0) -> list[ColumnDecision]:
    """One decision per column from a sample of up to `sample` rows (spread over the file)."""
    import numpy as np

    n = table.num_rows
    if n > sample:
        idx = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
        data = table.data.take(idx)
    else:
        data = table.data
    return [detect_column(c, data.column(c).to_pylist()) for c in data.column_names]
