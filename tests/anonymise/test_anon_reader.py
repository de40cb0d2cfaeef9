"""Reading CSV/TSV/Parquet/JSONL, sniffing, and the hostile inputs of issue 9."""

import pytest

from workbench_plugins.anonymise.errors import InputError
from workbench_plugins.anonymise.reader import read_table, iter_csv_batches


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delim):
    rows = [["name", "city", "zip"], ["Ann", "Oslo", "0150"], ["Bo", "Bergen, NO", "5003"]]
    text = "\n".join(delim.join(f'"{c}"' if delim in c or "," in c else c for c in r) for r in rows) + "\n"
    t = read_table(write(tmp_path, "d.csv", text.encode()))
    assert t.delimiter == delim
    assert t.columns == ["name", "city", "zip"]
    assert t.values("zip") == ["0150", "5003"]  # strings: leading zeros kept
    assert t.values("city")[1] == "Bergen, NO"


def test_delimiter_override(tmp_path):
    p = write(tmp_path, "o.csv", b"a;b;c,d\n1;2;3,4\n")
    assert read_table(p).columns == ["a", "b", "c,d"]
    assert read_table(p, delimiter=",").columns == ["a;b;c", "d"]


def test_encodings_sniffed(tmp_path):
    latin = write(tmp_path, "l.csv", "name;city\nJosé;Málaga\n".encode("cp1252"))
    t = read_table(latin)
    assert t.encoding == "cp1252" and t.values("name") == ["José"]
    bom = write(tmp_path, "b.csv", b"\xef\xbb\xbfname,city\nZo\xc3\xab,Li\xc3\xa8ge\n")
    t = read_table(bom)
    assert t.columns == ["name", "city"] and t.values("city") == ["Liège"]
    u16 = write(tmp_path, "u16.csv", "name,city\nAnn,Köln\n".encode("utf-16"))
    assert read_table(u16).values("city") == ["Köln"]


def test_ragged_row_names_line(tmp_path):
    p = write(tmp_path, "r.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.raises(InputError) as e:
        read_table(p)
    assert "r.csv, line 3" in str(e.value) and "2 fields" in str(e.value)
    t = read_table(p, repair="skip")
    assert t.num_rows == 2 and t.repairs == {"skipped_rows": 1}


def test_line_over_limit(tmp_path):
    p = write(tmp_path, "long.csv", b"a,b\n1,2\n" + b"x" * 5000 + b",3\n")
    with pytest.raises(InputError) as e:
        read_table(p, max_line_bytes=1000)
    assert "line 3" in str(e.value) and "limit" in str(e.value)


def test_nul_byte(tmp_path):
    p = write(tmp_path, "nul.csv", b"a,b\n1,2\n3,\x004\n")
    with pytest.raises(InputError) as e:
        read_table(p)
    assert "line 3" in str(e.value) and "NUL" in str(e.value)


def test_mixed_encodings(tmp_path):
    p = write(tmp_path, "mix.csv", "a,b\nJosé,1\n".encode() + "Zoë,2\n".encode("cp1252"))
    with pytest.raises(InputError) as e:
        read_table(p)
    assert "line 3" in str(e.value) and "mixed" in str(e.value)
    t = read_table(p, encoding="utf-8", repair="replace")
    assert t.repairs["replaced_characters"] == 1 and t.values("a")[0] == "José"


def test_empty_and_header_only(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_table(write(tmp_path, "e.csv", b""))
    with pytest.raises(InputError, match="empty"):
        read_table(write(tmp_path, "ws.csv", b"\n\n  \n"))
    with pytest.raises(InputError, match="header but no data rows"):
        read_table(write(tmp_path, "h.csv", b"a,b,c\n"))
    assert read_table(write(tmp_path, "h2.csv", b"a,b\n"), allow_empty=True).num_rows == 0


def test_bad_header(tmp_path):
    with pytest.raises(InputError, match="appears twice"):
        read_table(write(tmp_path, "dup.csv", b"a,a\n1,2\n"))
    with pytest.raises(InputError, match="empty"):
        read_table(write(tmp_path, "blank.csv", b"a,,c\n1,2,3\n"))


def test_quoted_newlines_and_codes(tmp_path):
    p = write(tmp_path, "q.csv", b'id,note\n1,"two\nlines"\n2,x\n3,x\n')
    t = read_table(p)
    assert t.values("note") == ["two\nlines", "x", "x"]
    codes, dictionary = t.codes("note")
    assert list(codes) == [0, 1, 1] and dictionary == ["two\nlines", "x"]


def test_parquet_and_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), tmp_path / "t.parquet")
    t = read_table(tmp_path / "t.parquet")
    assert t.values("a") == ["1", "2"]
    j = write(tmp_path, "t.jsonl", b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    assert read_table(j).values("b") == ["x", "y"]
    bad = write(tmp_path, "bad.jsonl", b'{"a": 1}\n{"a": \n')
    with pytest.raises(InputError, match="JSON"):
        read_table(bad)


def test_streaming_batches(tmp_path):
    lines = ["id,v"] + [f"{i},{i * 2}" for i in range(20000)]
    p = write(tmp_path, "big.csv", ("\n".join(lines) + "\n").encode())
    batches = list(iter_csv_batches(p, block_size=1 << 14))
    assert len(batches) > 1 and sum(b.num_rows for b in batches) == 20000
    ragged = write(tmp_path, "rg.csv", b"a,b\n1,2\n3\n")
    with pytest.raises(InputError) as e:
        list(iter_csv_batches(ragged))
    assert "line 3" in str(e.value) and "1 fields" in str(e.value)


def test_streaming_cuts_only_between_records(tmp_path):
    rows = ['id,note'] + [f'{i},"line one\nline ""two"", {i}"' for i in range(3000)]
    p = write(tmp_path, "ql.csv", ("\n".join(rows) + "\n").encode())
    got = [v for b in iter_csv_batches(p, block_size=4096) for v in b.column(1).to_pylist()]
    assert len(got) == 3000 and got[1234] == 'line one\nline "two", 1234'
    bad = write(tmp_path, "bad.csv", ("id,v\n" + "".join(f"{i},x\n" for i in range(5000)) + "9\n").encode())
    with pytest.raises(InputError) as e:
        list(iter_csv_batches(bad, block_size=4096))
    assert "line 5002" in str(e.value)
    nul = write(tmp_path, "nul.csv", ("id,v\n" + "".join(f"{i},x\n" for i in range(5000))).encode() + b"1,\x00\n")
    with pytest.raises(InputError, match="line 5002"):
        list(iter_csv_batches(nul, block_size=4096))
    cp = write(tmp_path, "cp.csv", "id,v\n1,Málaga\n".encode("cp1252"))
    assert [b.column(1).to_pylist() for b in iter_csv_batches(cp)] == [["Málaga"]]
