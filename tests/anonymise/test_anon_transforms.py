"""Every transform, keyed consistency, surrogates without collisions, safe CSV output."""

import csv
import datetime as dt

import pyarrow as pa
import pytest

from workbench_plugins.anonymise import transforms as T
from workbench_plugins.anonymise.errors import AnonymiseError
from workbench_plugins.anonymise.hierarchy import interval_hierarchy
from workbench_plugins.anonymise.writer import StreamingCsvWriter, neutralise_formulas, write_table

KEY = bytes(range(32))


def test_redact_and_mask():
    a = pa.array(["4111111111111111", "abc", "hello world", None])
    assert T.redact(a).to_pylist() == ["[REDACTED]"] * 4
    assert T.mask(a, 0, 4).to_pylist() == ["************1111", "***", "*******orld", None]
    assert T.mask(a, 2, 2, "#").to_pylist()[2] == "he#######ld"


def test_pseudonyms_keyed_normalised_and_stable():
    a = T.pseudonymise(pa.array(["Ann.Lee@Example.org", " ann.lee@example.org ", "bob@x.io"]), KEY)
    b = T.pseudonymise(pa.array(["bob@x.io", "ann.lee@example.org"]), KEY)
    assert a[0] == a[1] and a[0] == b[1] and a[2] == b[0] and a[0] != a[2]
    other = T.pseudonymise(pa.array(["bob@x.io"]), bytes(32))
    assert other[0] != b[0]
    assert len(a[0].as_py()) == 24 and "ann" not in a[0].as_py()
    with pytest.raises(AnonymiseError, match="16 bytes"):
        T.pseudonymise(a, b"short")


def test_tokens_reverse_only_with_the_named_key():
    a = pa.array(["DE89370400440532013000", "x", "DE89370400440532013000"])
    tok = T.tokenise(a, KEY, "k1", domain="iban")
    assert tok[0] == tok[2] and tok[0].as_py().startswith("tok:k1:")
    assert T.detokenise(tok, {"k1": KEY}, domain="iban").to_pylist() == a.to_pylist()
    with pytest.raises(AnonymiseError, match="does not verify"):
        T.detokenise_value(tok[0].as_py(), {"k1": bytes(32)}, domain="iban")
    with pytest.raises(AnonymiseError, match="does not verify"):
        T.detokenise_value(tok[0].as_py(), {"k1": KEY}, domain="email")
    with pytest.raises(AnonymiseError, match="not available"):
        T.detokenise_value(tok[0].as_py(), {"k2": KEY})


def test_surrogates_no_collision_on_100k_distinct_names():
    from faker.providers.person.en_US import Provider

    firsts, lasts = list(Provider.first_names), list(Provider.last_names)
    names = [f"{firsts[i % len(firsts)]} {lasts[(i // len(firsts)) % len(lasts)]}" for i in range(100_000)]
    assert len(set(names)) == 100_000
    s = T.SurrogateNames(KEY)
    out = s.apply(pa.array(names)).to_pylist()
    assert len(set(out)) == 100_000  # no two people merged
    assert not set(out) & set(names)
    again = T.SurrogateNames(KEY, mapping=s.mapping).apply(pa.array(names[:1000])).to_pylist()
    assert again == out[:1000]
    fresh = T.SurrogateNames(KEY).apply(pa.array(names[:50])).to_pylist()
    assert fresh == out[:50]  # the same key gives the same names in a new run


def test_generalise_shift_noise_shuffle():
    h = interval_hierarchy([str(x) for x in range(0, 100)], widths=(10,))
    assert T.generalise(pa.array(["37", "5"]), h, 1).to_pylist() == ["30-39", "0-9"]
    with pytest.raises(AnonymiseError, match="not in hierarchy"):
        T.generalise(pa.array(["200"]), h, 1)
    dates = pa.array(["2020-01-01", "2020-01-11", "2021-05-05"])
    subj = pa.array(["p1", "p1", "p2"])
    out = [dt.date.fromisoformat(d) for d in T.shift_dates(dates, subj, KEY).to_pylist()]
    assert (out[1] - out[0]).days == 10 and out[0] != dt.date(2020, 1, 1)
    with pytest.raises(AnonymiseError, match="row 1"):
        T.shift_dates(pa.array(["01/02/2020"]), pa.array(["p"]), KEY)
    noisy = T.add_noise(pa.array(["10.00", "20.50"] * 500), 1.0, seed=1).to_pylist()
    assert all(len(v.split(".")[1]) == 2 for v in noisy)
    vals = [float(v) for v in noisy]
    assert abs(sum(vals) / len(vals) - 15.25) < 0.3 and vals[:2] != [10.0, 20.5]
    perm = T.shuffle_permutation(1000)
    assert sorted(perm) == list(range(1000)) and list(perm) != list(range(1000))


def test_formula_cells_neutralised_in_csv(tmp_path):
    t = pa.table({"a": ['=HYPERLINK("http://x","y")', "+1+2", "-3", "@SUM(A1)", "\tx", "\rz",
                        "plain", "-12.5"]})
    arr, n = neutralise_formulas(t.column("a").combine_chunks())
    assert n == 5
    info = write_table(tmp_path / "o.csv", t)
    assert info["formulas_neutralised"] == 5
    with open(tmp_path / "o.csv", newline="") as fh:
        cells = [r[0] for r in csv.reader(fh)][1:]
    assert cells[0].startswith("'=HYPERLINK") and cells[1] == "'+1+2" and cells[2] == "-3"
    assert cells[3] == "'@SUM(A1)" and cells[-2:] == ["plain", "-12.5"]


def test_no_partial_output_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("previous,result\n")
    schema = pa.schema([("a", pa.string())])
    w = StreamingCsvWriter(target, schema)
    w.write(pa.record_batch([pa.array(["1", "=2"])], names=["a"]))
    w.abort(RuntimeError("disk full"))
    assert target.read_text() == "previous,result\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    w = StreamingCsvWriter(target, schema)
    w.write(pa.record_batch([pa.array(["1", "=2"])], names=["a"]))
    w.close()
    assert target.read_text().splitlines()[1:] == ['"1"', "\"'=2\""]
    assert w.formulas_neutralised == 1
