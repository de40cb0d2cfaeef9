"""The throughput fast paths give exactly the results of the general ones."""

import hmac

import pyarrow as pa
import pyarrow.compute as pc

from workbench_plugins.anonymise import engine, transforms

VALUES = ["Ann.Lee@Example.org", "  ann   lee ", "ANN\tLEE", "a\nb", "x\x0by", "", None, "Zoë Ångström",
          "ﬁle ＡＢＣ", "non\u00a0breaking", "trailing\r", "UPPER CASE", "plain"]


def _general_normalise(array):
    out = pc.utf8_lower(pc.utf8_normalize(array, "NFKC"))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(out, r"\s+", " "))


def test_normalise_fast_path_matches_the_general_one():
    for subset in (VALUES, [v for v in VALUES if v is None or v.isascii()], ["abc", "DEF", None],
                   ["a b", "c"], []):
        arr = pa.array(subset, pa.string())
        assert transforms._normalise_array(arr).to_pylist() == _general_normalise(arr).to_pylist(), subset
    # a slice: the value buffer covers more than the slice holds
    arr = pa.array(VALUES, pa.string()).slice(9, 3)
    assert transforms._normalise_array(arr).to_pylist() == _general_normalise(arr).to_pylist()


def test_leak_key_fast_path_matches_the_general_one():
    def general(a):
        out = pc.utf8_lower(a)
        for ws in (" ", "\t", "\u00a0"):
            out = pc.replace_substring(out, ws, "")
        return out

    for subset in (VALUES, ["AB CD", "ef\tgh"], ["abc"], ["non\u00a0breaking"]):
        arr = pa.array(subset, pa.string())
        assert engine._leak_key(arr).to_pylist() == general(arr).to_pylist(), subset
        assert engine._leak_key(pa.chunked_array([arr])).to_pylist() == general(arr).to_pylist()


def test_batched_hmac_is_hmac_sha256():
    key = bytes(range(32))
    messages = [str(i).encode() * (i % 50) for i in range(10_000)]   # more than one internal chunk
    for length in (4, 12, 32):
        expected = b"".join(hmac.digest(key, m, "sha256")[:length] for m in messages)
        assert transforms._hmac_sha256_many(key, messages, length) == expected
    long_key = bytes(range(100))   # over a block: hashed first, as RFC 2104 says
    assert transforms._hmac_sha256_many(long_key, [b"x"], 32) == hmac.digest(long_key, b"x", "sha256")
    assert transforms._hmac_sha256_many(key, [], 12) == b""


def test_formula_first_byte_check_matches_the_character_check():
    from workbench_plugins.anonymise.writer import neutralise_formulas

    values = ["=HYPERLINK(\"http://x\")", "+1", "-2.5", "-x", "@SUM(A1)", "\tTAB", "\rCR", "", None, "ok",
              "é=", "=", "+", "1e5", "-1e-5", "  =not first"]

    def by_characters(array):
        first = pc.utf8_slice_codeunits(array, 0, 1)
        risky = pc.fill_null(pc.is_in(first, value_set=pa.array(["=", "+", "-", "@", "\t", "\r"])), False)
        risky = pc.fill_null(pc.and_(risky, pc.invert(pc.match_substring_regex(
            array, r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"))), False)
        quoted = pc.binary_join_element_wise(pa.scalar("'"), array, "")
        return pc.if_else(risky, quoted, array).to_pylist(), pc.sum(risky).as_py() or 0

    arr = pa.array(values, pa.string())
    for a in (arr, arr.slice(3, 9), arr.slice(8, 3), pa.array(["ok", None, "fine"], pa.string())):
        out, count = neutralise_formulas(a)
        assert (out.to_pylist(), count) == by_characters(a), a
    out, count = neutralise_formulas(arr)
    assert count == 7 and out.to_pylist()[0].startswith("'=")


def test_mask_without_short_values_takes_the_short_path_and_agrees():
    long_only = pa.array(["+44 20 12345678", None, "0123456789"])
    assert transforms.mask(long_only, 0, 4).to_pylist() == ["***********5678", None, "******6789"]
    assert transforms.mask(pa.array([None, None], pa.string()), 1, 1).to_pylist() == [None, None]
    mixed = pa.array(["+44 20 12345678", "12", None])   # one short value: the general path
    assert transforms.mask(mixed, 0, 4).to_pylist() == ["***********5678", "**", None]


def test_pseudonymise_of_all_distinct_values_skips_the_take_and_agrees():
    key = bytes(range(32))

    def expected(values):
        return [None if v is None else hmac.digest(key, transforms.normalise(v).encode(), "sha256").hex()[:24]
                for v in values]

    distinct = [f"user{i}@Example.org" for i in range(300)]
    cases = [distinct, list(reversed(distinct)), distinct + ["USER0@example.org"], distinct[:5] + [None],
             ["a", "A", "b"], []]
    for values in cases:
        assert transforms.pseudonymise(pa.array(values, pa.string()), key).to_pylist() == expected(values)
    sliced = pa.array(distinct, pa.string()).slice(100, 50)   # codes relative to the slice
    assert transforms.pseudonymise(sliced, key).to_pylist() == expected(distinct[100:150])
    chunked = pa.chunked_array([distinct[:10], distinct[10:20]], pa.string())
    assert transforms.pseudonymise(chunked, key).to_pylist() == expected(distinct[:20])
