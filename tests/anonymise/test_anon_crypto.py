"""Encrypted outputs: to a key, to recipients; tampering, truncation and outsiders are refused."""

import os

import pytest

from workbench_plugins.anonymise import crypto
from workbench_plugins.anonymise.errors import AnonymiseError


@pytest.fixture
def plain(tmp_path):
    p = tmp_path / "out.csv"
    p.write_bytes(os.urandom(3 * crypto.CHUNK + 123))  # several chunks, odd tail
    return p


def test_encrypt_to_a_named_key(plain, tmp_path):
    key = os.urandom(32)
    enc, back = tmp_path / "out.csv.wbenc", tmp_path / "back.csv"
    crypto.encrypt_file(plain, enc, key, "dataset-key")
    raw = enc.read_bytes()
    assert plain.read_bytes()[:4096] not in raw and b"dataset-key" in raw.split(b"\n")[1]
    crypto.decrypt_file(enc, back, {"dataset-key": key})
    assert back.read_bytes() == plain.read_bytes()
    with pytest.raises(AnonymiseError, match="does not open"):
        crypto.decrypt_file(enc, tmp_path / "x.csv", {"dataset-key": os.urandom(32)})
    with pytest.raises(AnonymiseError, match="needs key 'dataset-key'"):
        crypto.decrypt_file(enc, tmp_path / "x.csv", {})
    assert not (tmp_path / "x.csv").exists()


def test_tampering_and_truncation_are_detected(plain, tmp_path):
    key = os.urandom(32)
    enc = tmp_path / "e.wbenc"
    crypto.encrypt_file(plain, enc, key, "k")
    data = bytearray(enc.read_bytes())
    flipped = tmp_path / "flip.wbenc"
    data[-50] ^= 1
    flipped.write_bytes(bytes(data))
    with pytest.raises(AnonymiseError, match="does not verify"):
        crypto.decrypt_file(flipped, tmp_path / "x.csv", {"k": key})
    cut = tmp_path / "cut.wbenc"
    head_len = enc.read_bytes().index(b"\n", len(crypto.MAGIC)) + 1
    cut.write_bytes(enc.read_bytes()[: head_len + 2 * (crypto.CHUNK + 16)])  # whole chunks dropped
    with pytest.raises(AnonymiseError, match="does not verify"):
        crypto.decrypt_file(cut, tmp_path / "x.csv", {"k": key})
    assert not (tmp_path / "x.csv").exists()


def test_recipients_only(plain, tmp_path):
    alice, bob, eve = crypto.new_identity(), crypto.new_identity(), crypto.new_identity()
    enc = tmp_path / "r.wbenc"
    crypto.encrypt_for_recipients(plain, enc, {"alice (reviewer)": alice[1], "bob (data owner)": bob[1]})
    assert crypto.recipients_of(enc) == ["alice (reviewer)", "bob (data owner)"]
    for who in (alice, bob):
        out = tmp_path / "b.csv"
        crypto.decrypt_with_identity(enc, out, who[0])
        assert out.read_bytes() == plain.read_bytes()
    with pytest.raises(AnonymiseError, match="not among the file's recipients"):
        crypto.decrypt_with_identity(enc, tmp_path / "e.csv", eve[0])
    with pytest.raises(AnonymiseError, match="X25519"):
        crypto.encrypt_for_recipients(plain, tmp_path / "z.wbenc", {"x": b"short"})
