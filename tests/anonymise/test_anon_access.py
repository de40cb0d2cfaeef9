"""Keys in the keyring (never in the project file), revoking a person, rotating a key."""

import csv
import json

import pytest

from workbench.core.jobs import run_in_process
from workbench.core.project import Project

from workbench_plugins.anonymise import crypto, plugin
from workbench_plugins.anonymise.errors import AnonymiseError

from .test_anon_plugin import _parser, _registry

ROWS = [("Ann Smith", "ann@example.org", "DE89370400440532013000", "34"),
        ("Bob Jones", "bob@example.org", "GB82WEST12345698765432", "51"),
        ("Cy Young", "cy@example.net", "DE89370400440532013000", "28")]


def _source(path):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "email", "iban", "age"])
        w.writerows(ROWS)
    return path


POLICY = {"columns": {"name": {"transform": "pseudonymise", "role": "direct_identifier"},
                      "email": {"transform": "pseudonymise", "role": "direct_identifier"},
                      "iban": {"transform": "tokenise", "role": "direct_identifier"},
                      "age": {"transform": "keep"}},
          "keep_order": True}


def _rows(path):
    return list(csv.DictReader(open(path, newline="")))


def _project_bytes(tmp_path):
    return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("p.wbproj"))


def test_keys_are_created_in_the_keyring_and_never_reach_the_project(tmp_path):
    registry = _registry()
    src = _source(tmp_path / "in.csv")
    with Project.create(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        store = project.store("anonymise")
        outs = []
        for i in range(2):   # two runs, two output files: the same pseudonyms (joins still work)
            spec = plugin.job_spec("anonymise", target=str(src), output=str(tmp_path / f"o{i}.wbenc"),
                                   policy=POLICY, encrypt_key="share")
            _, status, summary = run_in_process(project, spec, registry=registry)
            assert status == "done", summary
            outs.append(summary)
        keys = {n: store.get_secret(n) for n in ("pseudonym", "token", "share")}
        assert all(v and len(bytes.fromhex(v)) == 32 for v in keys.values())
        assert len(set(keys.values())) == 3
        created = [e for e in project.events() if e["kind"] == "anonymise.key_created"]
        assert sorted(e["data"]["name"] if isinstance(e.get("data"), dict) else json.loads(e["data"])["name"]
                      for e in created) == ["pseudonym", "share", "token"]   # once each, not per run
        for i in range(2):
            crypto.decrypt_file(tmp_path / f"o{i}.wbenc", tmp_path / f"{'ab'[i]}.csv",
                                {"share": bytes.fromhex(keys["share"])})
        a, b = _rows(tmp_path / "a.csv"), _rows(tmp_path / "b.csv")
        assert [r["name"] for r in a] == [r["name"] for r in b] and a[0]["name"] != "Ann Smith"
        assert a[0]["iban"].startswith("tok:token:") and a[0]["iban"] == a[2]["iban"]
        assert outs[0]["key_ids"] == outs[1]["key_ids"]
    raw = _project_bytes(tmp_path)
    assert b"key_created" in raw   # the events are in the file we grep
    for value in keys.values():
        assert value.encode() not in raw and value.upper().encode() not in raw
        assert bytes.fromhex(value) not in raw


def test_a_missing_key_is_not_created_when_reading(tmp_path):
    from workbench_plugins.anonymise.keys import load_keys

    with Project.create(tmp_path / "p.wbproj", plugins=_registry().plugins) as project:
        with pytest.raises(AnonymiseError, match="workbench secret set PROJECT vault"):
            load_keys(None, store=project.store("anonymise"), names=["vault"], create=False)


def test_revoking_a_recipient_re_encrypts_without_them(tmp_path):
    registry = _registry()
    src = _source(tmp_path / "in.csv")
    alice, bob = crypto.new_identity(), crypto.new_identity()
    out = tmp_path / "o.wbenc"
    with Project.create(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        spec = plugin.job_spec("anonymise", target=str(src), output=str(out), policy=POLICY,
                               recipients={"alice": alice[1].hex(), "bob": bob[1].hex()},
                               roles={"alice": "data owner"})
        _, status, summary = run_in_process(project, spec, registry=registry)
        assert status == "done", summary
    crypto.decrypt_with_identity(out, tmp_path / "bob0.csv", bob[0])
    ap = _parser()
    args = ap.parse_args(["anonymise-revoke", str(out), "bob", "-p", str(tmp_path / "p.wbproj")])
    assert args.func(args) == 0
    assert crypto.recipients_of(out) == ["alice"]
    with pytest.raises(AnonymiseError, match="not among"):
        crypto.decrypt_with_identity(out, tmp_path / "bob.csv", bob[0])
    crypto.decrypt_with_identity(out, tmp_path / "alice.csv", alice[0])
    assert (tmp_path / "alice.csv").read_bytes() == (tmp_path / "bob0.csv").read_bytes()
    with Project.open(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        store = project.store("anonymise")
        rows = {r["name"]: r["revoked_at"] for r in store.query("SELECT name, revoked_at FROM anonymise_access")}
        assert rows["bob"] and rows["alice"] is None
        [ev] = [e for e in project.events() if e["kind"] == "anonymise.revoke"]
        assert "bob may no longer read" in ev["message"]
    with pytest.raises(Exception, match="no grant to revoke"):
        args.func(args)   # twice: bob has nothing left to revoke
    # the last recipient revoked: only the project's custodian key opens it, and decrypting is logged
    args = ap.parse_args(["anonymise-revoke", str(out), "alice", "-p", str(tmp_path / "p.wbproj")])
    assert args.func(args) == 0
    with pytest.raises(AnonymiseError):
        crypto.decrypt_with_identity(out, tmp_path / "x.csv", alice[0])
    args = ap.parse_args(["anonymise-decrypt", str(out), "-o", str(tmp_path / "own.csv"),
                          "-p", str(tmp_path / "p.wbproj")])
    assert args.func(args) == 0
    assert (tmp_path / "own.csv").read_bytes() == (tmp_path / "bob0.csv").read_bytes()
    with Project.open(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        assert [e for e in project.events() if e["kind"] == "anonymise.decrypt"]


def test_rotating_keys_re_keys_the_outputs_the_project_knows(tmp_path):
    registry = _registry()
    src = _source(tmp_path / "in.csv")
    policy = {"columns": {"iban": {"transform": "tokenise"}, "email": {"transform": "tokenise"},
                          "name": {"transform": "redact"}}, "keep_order": True}
    alice = crypto.new_identity()
    enc, plain, people = tmp_path / "o.wbenc", tmp_path / "o.csv", tmp_path / "r.wbenc"
    with Project.create(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        store = project.store("anonymise")
        for out, extra in ((enc, {"encrypt_key": "share"}), (plain, {}),
                           (people, {"recipients": {"alice": alice[1].hex()}})):
            spec = plugin.job_spec("anonymise", target=str(src), output=str(out), policy=policy, **extra)
            _, status, summary = run_in_process(project, spec, registry=registry)
            assert status == "done", summary
        old_share, old_token = (bytes.fromhex(store.get_secret(n)) for n in ("share", "token"))
        old_custodian = bytes.fromhex(store.get_secret("anonymise-custodian"))
    before = _rows(plain)
    ap = _parser()
    for name in ("share", "token", "anonymise-custodian"):
        args = ap.parse_args(["anonymise-rotate-key", name, "-p", str(tmp_path / "p.wbproj")])
        assert args.func(args) == 0
    with Project.open(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        store = project.store("anonymise")
        new_share, new_token = (bytes.fromhex(store.get_secret(n)) for n in ("share", "token"))
        new_custodian = bytes.fromhex(store.get_secret("anonymise-custodian"))
        rotated = [e for e in project.events() if e["kind"] == "anonymise.key_rotated"]
        assert len(rotated) == 3
        from workbench_plugins.anonymise.transforms import hash_key_id

        ids = [json.loads(r["key_ids"]) for r in store.query("SELECT key_ids FROM anonymise_outputs")]
        assert all(i["token"] == hash_key_id(new_token) for i in ids)
    assert new_share != old_share and new_token != old_token and new_custodian != old_custodian
    # the encrypted-to-key output: the old key no longer opens it, the new one does
    with pytest.raises(AnonymiseError, match="does not open"):
        crypto.decrypt_file(enc, tmp_path / "x.csv", {"share": old_share})
    crypto.decrypt_file(enc, tmp_path / "e.csv", {"share": new_share})
    # tokens (in the plain and the encrypted output) name the key and open only with the new one
    from workbench_plugins.anonymise.transforms import detokenise_value

    for rows in (_rows(plain), _rows(tmp_path / "e.csv")):
        assert rows[0]["iban"].startswith("tok:token:") and rows[0]["iban"] != before[0]["iban"]
        assert [detokenise_value(r["iban"], {"token": new_token}, "iban") for r in rows] == [r[2] for r in ROWS]
        assert [detokenise_value(r["email"], {"token": new_token}, "email") for r in rows] == [r[1] for r in ROWS]
        with pytest.raises(AnonymiseError, match="does not verify"):
            detokenise_value(rows[0]["iban"], {"token": old_token}, "iban")
    # the people's output: still theirs, and the project opens it only with the new custodian key
    crypto.decrypt_with_identity(people, tmp_path / "alice.csv", alice[0])
    assert [r["iban"] for r in _rows(tmp_path / "alice.csv")] == [r["iban"] for r in _rows(plain)]
    with pytest.raises(AnonymiseError, match="does not open"):
        crypto.decrypt_as_custodian(people, tmp_path / "x.csv", {"anonymise-custodian": old_custodian})
    crypto.decrypt_as_custodian(people, tmp_path / "c.csv", {"anonymise-custodian": new_custodian})


def test_a_pseudonym_key_is_not_rotated_under_outputs_that_use_it(tmp_path):
    from workbench_plugins.anonymise.access import rotate_key

    registry = _registry()
    src = _source(tmp_path / "in.csv")
    with Project.create(tmp_path / "p.wbproj", plugins=registry.plugins) as project:
        store = project.store("anonymise")
        spec = plugin.job_spec("anonymise", target=str(src), output=str(tmp_path / "o.csv"), policy=POLICY)
        assert run_in_process(project, spec, registry=registry)[1] == "done"
        before = store.get_secret("pseudonym"), (tmp_path / "o.csv").read_bytes()
        with pytest.raises(AnonymiseError, match="cannot be re-keyed"):
            rotate_key(store, "pseudonym")
        assert (store.get_secret("pseudonym"), (tmp_path / "o.csv").read_bytes()) == before
