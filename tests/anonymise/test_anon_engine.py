"""The whole pipeline on real files: ARX reference, verification, planted leaks, hostile input."""

import csv
import json

import pytest
from faker import Faker

from workbench_plugins.anonymise.engine import Policy, anonymise_file, detect_policy, load_policy
from workbench_plugins.anonymise.errors import AnonymiseError, InputError, VerificationError
from workbench_plugins.anonymise.hierarchy import (interval_hierarchy, prefix_hierarchy,
                                                   write_arx_hierarchy)
from workbench_plugins.anonymise.reader import read_table

from .conftest import ADULT_QIS

KEYS = {"pseudonym": bytes(range(32)), "token": bytes(range(32, 64))}


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        r = list(csv.reader(fh))
    return r[0], r[1:]


def test_adult_end_to_end(adult_dir, tmp_path):
    policy = Policy(qi={c: str(adult_dir / f"adult_hierarchy_{c}.csv") for c in ADULT_QIS},
                    k=5, suppression=0.04, metric="loss")
    out = tmp_path / "adult-anon.csv"
    s = anonymise_file(adult_dir / "adult.csv", out, policy)
    assert [s["levels"][c] for c in ADULT_QIS] == [0, 3, 0, 1, 1, 1, 1, 2, 0]
    assert round(s["information_loss"], 4) == 0.2661 and s["suppressed_rows"] == 1178
    assert s["rows_out"] == 30162 - 1178
    assert all(c["ok"] for c in s["verification"])
    header, rows = _rows(out)
    assert header == ADULT_QIS and len(rows) == s["rows_out"]
    assert s["risk_before"]["prosecutor"]["highest"] == 1.0
    assert s["risk_after"]["prosecutor"]["highest"] <= 1 / 5
    assert s["p_reidentification"] < s["risk_before"]["p_reidentification"]
    json.dumps(s)  # the summary is JSON as it is


def _people(tmp_path, name, seed, n=400, shared_emails=()):
    fake = Faker("en_US")
    fake.seed_instance(seed)
    p = tmp_path / name
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "email", "phone", "zip", "age", "sex", "diagnosis", "notes"])
        for i in range(n):
            email = shared_emails[i] if i < len(shared_emails) else fake.unique.email()
            w.writerow([fake.name(), email, fake.phone_number(), fake.zipcode()[:3] + "01",
                        str(fake.random_int(18, 90)), fake.random_element(["M", "F"]),
                        fake.random_element(["flu", "asthma", "diabetes", "none"]),
                        f"Called back, reach at {email}" if i % 10 == 0 else "=HYPERLINK(\"http://x\")"])
    return p


def _policy(tmp_path, *tables):
    ages = [str(a) for a in range(18, 91)]
    write_arx_hierarchy(tmp_path / "h_age.csv", interval_hierarchy(ages, widths=(5, 10, 20)))
    zips = [z for t in tables for z in t.values("zip")]
    write_arx_hierarchy(tmp_path / "h_zip.csv", prefix_hierarchy(zips))
    sex = tmp_path / "h_sex.csv"
    sex.write_text("M;*\nF;*\n")
    return Policy(
        columns={"name": {"transform": "surrogate", "role": "direct_identifier"},
                 "email": {"transform": "pseudonymise", "role": "direct_identifier"},
                 "phone": {"transform": "mask", "keep_last": 2, "role": "direct_identifier"},
                 "notes": {"transform": "scrub"}},
        qi={"age": str(tmp_path / "h_age.csv"), "zip": str(tmp_path / "h_zip.csv"), "sex": str(sex)},
        sensitive=["diagnosis"], k=3, l_diversity={"diagnosis": "distinct:2"}, suppression=0.05)


def test_mixed_table_and_keyed_joins_across_files_and_runs(tmp_path):
    shared = [f"person{i}@example.org" for i in range(50)]
    a = _people(tmp_path, "a.csv", 1, shared_emails=shared)
    b = _people(tmp_path, "b.csv", 2, shared_emails=shared[::-1])
    policy = _policy(tmp_path, read_table(a), read_table(b))
    (tmp_path / "policy.json").write_text(json.dumps(policy.to_dict()))
    policy = load_policy(tmp_path / "policy.json")
    s1 = anonymise_file(a, tmp_path / "a1.csv", policy, KEYS)
    s2 = anonymise_file(a, tmp_path / "a2.csv", policy, KEYS)
    assert s2["levels"] == s1["levels"] and s2["suppressed_rows"] == s1["suppressed_rows"]
    anonymise_file(b, tmp_path / "b1.csv", policy, KEYS)
    assert all(c["ok"] for c in s1["verification"])
    assert "2-diversity" in " ".join(s1["models"])
    h, r1 = _rows(tmp_path / "a1.csv")
    _, r2 = _rows(tmp_path / "a2.csv")
    _, rb = _rows(tmp_path / "b1.csv")
    e = h.index("email")
    # two runs: same pseudonyms; rows are shuffled differently
    assert {r[e] for r in r1} == {r[e] for r in r2} and [r[e] for r in r1] != [r[e] for r in r2]
    # two files: the 50 shared people join on their pseudonym
    a_orig = read_table(a)
    kept_a = {r[e] for r in r1}
    assert len(kept_a & {r[e] for r in rb}) >= 40
    assert not kept_a & set(a_orig.values("email"))
    notes = h.index("notes")
    assert any("[EMAIL]" in r[notes] for r in r1)
    with open(tmp_path / "a1.csv", newline="") as fh:
        raw = fh.read()
    assert "'=HYPERLINK" in raw and "\n=HYPERLINK" not in raw and ",=HYPERLINK" not in raw
    assert s1["transforms"]["notes"]["spans_scrubbed"] >= 40


def test_planted_leak_blocks_the_export(tmp_path):
    a = _people(tmp_path, "a.csv", 3)
    policy = _policy(tmp_path, read_table(a))
    policy.columns["notes"] = {"transform": "keep"}  # the emails in the notes leak
    out = tmp_path / "out.csv"
    out.write_text("older,output\n")
    with pytest.raises(VerificationError) as exc:
        anonymise_file(a, out, policy, KEYS)
    assert "notes" in str(exc.value) and "'email'" in str(exc.value)
    assert out.read_text() == "older,output\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_privacy_leak_in_output_is_caught():
    from workbench_plugins.anonymise import verify as V
    from workbench_plugins.anonymise.lattice import parse_l_diversity

    header = ["age", "dx"]
    rows = [["20-29", "flu"], ["20-29", "flu"], ["30-39", "flu"], ["30-39", "cold"], ["30-39", "flu"]]
    assert not V.check_privacy(header, rows, ["age"], k=3)["ok"]
    assert V.check_privacy(header, rows[2:], ["age"], k=3)["ok"]
    l2 = [parse_l_diversity("dx", "distinct:2")]
    assert not V.check_privacy(header, rows, ["age"], k=2, l_diversity=l2)["ok"]


@pytest.mark.parametrize("content,message", [
    (b"", "empty"), (b"name,email\n", "no data rows"), (b"name,email\nA,a@x.org\nB\n", "line 3"),
    (b"name,email\nA,a@x.org\x00\n", "NUL"), (b"name,email\nA," + b"x" * (2 << 20) + b"\n", "limit"), ("name,email\nJosé,a@x.org\n".encode() + "Zoë,b@x\n".encode("cp1252"), "mixed"),
])
def test_hostile_input_writes_nothing(tmp_path, content, message):
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    policy = Policy(columns={"email": {"transform": "pseudonymise"}})
    with pytest.raises(InputError, match=message):
        anonymise_file(src, tmp_path / "out.csv", policy, KEYS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_policy_errors_are_clear(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("name,email\nA,a@x.org\n")
    with pytest.raises(AnonymiseError, match="column 'mail'"):
        anonymise_file(src, tmp_path / "o.csv", Policy(columns={"mail": {"transform": "drop"}}))
    with pytest.raises(AnonymiseError, match="needs key 'pseudonym'"):
        anonymise_file(src, tmp_path / "o.csv", Policy(columns={"email": {"transform": "pseudonymise"}}))
    (tmp_path / "p.json").write_text('{"columns": {"email": {"transform": "encrypt"}}}')
    with pytest.raises(AnonymiseError, match="unknown transform 'encrypt'"):
        load_policy(tmp_path / "p.json")
    assert not (tmp_path / "o.csv").exists()


def test_detected_policy(tmp_path):
    a = _people(tmp_path, "a.csv", 4)
    pol = detect_policy(read_table(a))
    assert pol.columns["email"]["transform"] == "pseudonymise"
    assert pol.columns["name"]["entity"] == "person_name"
    assert pol.columns["phone"]["entity"] == "phone"
    assert pol.columns["notes"]["entity"] == "free_text_pii"
    assert pol.columns["diagnosis"]["role"] == "sensitive"


@pytest.mark.parametrize("keep_order", [False, True])
def test_streaming_path_matches_and_catches_leaks(tmp_path, keep_order):
    from workbench_plugins.anonymise import engine

    src = _people(tmp_path, "s.csv", 9, n=3000)
    pol = Policy(columns={"name": {"transform": "surrogate", "role": "direct_identifier"},
                          "email": {"transform": "pseudonymise", "role": "direct_identifier"},
                          "phone": {"transform": "mask", "role": "direct_identifier"},
                          "notes": {"transform": "scrub"}}, keep_order=keep_order)
    old = engine.STREAM_BUCKET_BYTES
    engine.STREAM_BUCKET_BYTES = 64 << 10  # several buckets for this small file
    try:
        s = engine.anonymise_stream(src, tmp_path / "o.csv", pol, KEYS, block_size=1 << 15)
        whole = anonymise_file(src, tmp_path / "w.csv", pol, KEYS)
        assert whole["rows_out"] == 3000 and "streamed" not in whole
    finally:
        engine.STREAM_BUCKET_BYTES = old
    assert s["rows_out"] == 3000 and (keep_order or s["buckets"] > 1)
    h, streamed = _rows(tmp_path / "o.csv")
    _, inmem = _rows(tmp_path / "w.csv")
    assert sorted(streamed) == sorted(inmem)  # same rows either way, pseudonyms and all
    orig = read_table(src)
    orig_emails = orig.values("email")
    tails = [r[h.index("phone")][-4:] for r in streamed]
    assert (tails == [v[-4:] for v in orig.values("phone")]) is keep_order
    leak = Policy(columns={"email": {"transform": "pseudonymise", "role": "direct_identifier"}},
                  keep_order=keep_order)  # notes keep the emails: a leak
    with pytest.raises(VerificationError, match="notes"):
        engine.anonymise_stream(src, tmp_path / "leak.csv", leak, KEYS, block_size=1 << 15)
    assert not (tmp_path / "leak.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert orig_emails[0] not in (tmp_path / "o.csv").read_text()


def test_repair_is_counted_and_output_never_replaces_input(tmp_path):
    src = tmp_path / "r.csv"
    src.write_text("name,email\nA,a@x.org\nB\nC,c@x.org\n")
    pol = Policy(columns={"email": {"transform": "redact"}}, repair="skip")
    s = anonymise_file(src, tmp_path / "o.csv", pol, KEYS)
    assert s["repairs"] == {"skipped_rows": 1} and s["rows_out"] == 2
    with pytest.raises(AnonymiseError, match="replace the input"):
        anonymise_file(src, src, pol, KEYS)
    with pytest.raises(AnonymiseError, match="repair must be"):
        Policy.from_dict({"repair": "guess"})
    from workbench_plugins.anonymise.transforms import add_noise
    import pyarrow as pa

    with pytest.raises(AnonymiseError, match="row 2 holds 'n/a'"):
        add_noise(pa.array(["1.5", "n/a"]), 1.0)


def test_streaming_with_worker_processes_gives_the_same_rows(tmp_path):
    from workbench_plugins.anonymise import engine

    src = _people(tmp_path, "s.csv", 11, n=2000)
    pol = Policy(columns={"email": {"transform": "pseudonymise", "role": "direct_identifier"},
                          "phone": {"transform": "mask", "role": "direct_identifier"},
                          "notes": {"transform": "scrub"}}, keep_order=True)
    one = engine.anonymise_stream(src, tmp_path / "one.csv", pol, KEYS, block_size=1 << 14)
    two = engine.anonymise_stream(src, tmp_path / "two.csv", pol, KEYS, block_size=1 << 14, workers=2)
    assert one["rows_out"] == two["rows_out"] == 2000
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()
    assert two["transforms"]["notes"]["spans_scrubbed"] == one["transforms"]["notes"]["spans_scrubbed"] > 0
    leak = Policy(columns={"email": {"transform": "pseudonymise", "role": "direct_identifier"}})
    with pytest.raises(VerificationError, match="notes"):
        engine.anonymise_stream(src, tmp_path / "leak.csv", leak, KEYS, block_size=1 << 14, workers=2)
    assert not (tmp_path / "leak.csv").exists()
