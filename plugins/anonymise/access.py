"""Access to the outputs a project knows about: revoking a recipient, rotating a key.

Both work on the rows of ``anonymise_outputs`` (and ``anonymise_access``), re-encrypt
or re-tokenise each affected file into a temporary file next to it, and rename it
into place only when every file is ready, so a failure leaves every output as it was.
Each step is an event in the audit log; no key value is ever written to the project.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone

from . import crypto
from .errors import AnonymiseError
from .keys import CUSTODIAN_KEY, load_keys
from .transforms import hash_key_id


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _tmp_next_to(path, suffix) -> str:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix=f".{os.path.basename(path)}.", suffix=suffix)
    os.close(fd)
    return tmp


def _no_room(exc: BaseException, output) -> AnonymiseError | None:
    """The error to raise instead of *exc* when it is a full disk (or quota, or file size limit) while
    *output* was re-encrypted: it names *output* (not the temporary files, which are removed)."""
    from workbench.api import is_no_room

    cause = exc.__cause__ if isinstance(exc, AnonymiseError) else exc
    if not is_no_room(cause):
        return None
    return AnonymiseError(f"{output}: no room to re-encrypt it ({os.strerror(cause.errno)}: the disk or quota is "
                          f"full, or a file size limit was reached); it is unchanged. Free some space in "
                          f"{os.path.dirname(os.path.abspath(output))} and run again.")


def _is_encrypted(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(crypto.MAGIC)) == crypto.MAGIC


def active_recipients(store, output) -> dict:
    """name -> (public key hex, role) of the grants on `output` that are not revoked (latest grant wins)."""
    rows = store.query("SELECT name, role, public_key FROM anonymise_access WHERE output=? AND revoked_at IS NULL "
                       "ORDER BY run_id, rowid", (output,))
    return {r["name"]: (r["public_key"], r["role"]) for r in rows}


def revoke(store, output, name) -> list[str]:
    """Take `name` off `output`: the file is re-encrypted under a new file key to the remaining
    recipients (a copy of the old file key is useless for the new file), the grant is marked revoked
    and the revocation is logged. Returns the remaining recipients."""
    output = os.path.abspath(output)
    granted = active_recipients(store, output)
    if name not in granted:
        known = ", ".join(sorted(granted)) or "nobody"
        raise AnonymiseError(f"{output}: {name!r} has no grant to revoke (granted: {known})")
    if not os.path.exists(output):
        raise AnonymiseError(f"{output}: the output is not there any more; nothing to re-encrypt")
    header = crypto.read_header(output)
    kid = (header.get("custodian") or {}).get("key_id")
    if not kid:
        raise AnonymiseError(f"{output}: written without a custodian key, so this project cannot re-encrypt it")
    keys = load_keys(None, store=store, names=[kid], create=False)
    remaining = {n: bytes.fromhex(pk) for n, (pk, _) in granted.items() if n != name}
    plain = _tmp_next_to(output, ".plain")
    try:
        crypto.decrypt_as_custodian(output, plain, keys)
        if remaining:
            crypto.encrypt_for_recipients(plain, output, remaining, custodian=(kid, keys[kid]))
        else:
            # nobody left: only the project (its custodian key) can open it
            crypto.encrypt_file(plain, output, keys[kid], kid)
    except BaseException as exc:
        err = _no_room(exc, output)
        if err is None:
            raise
        raise err from (exc.__cause__ or exc)
    finally:
        os.unlink(plain)
    with store.transaction():
        store.execute("UPDATE anonymise_access SET revoked_at=? WHERE output=? AND name=? AND revoked_at IS NULL",
                      (_now(), output, name))
        store.log_event("anonymise.revoke", f"{name} may no longer read {output}",
                        {"output": output, "name": name, "remaining": sorted(remaining)})
    return sorted(remaining)


def _outputs_using(store, name) -> list[dict]:
    """The latest row per output file whose key_ids name key `name` (a file written twice counts once)."""
    latest = {}
    for row in store.query("SELECT run_id, output, policy, key_ids FROM anonymise_outputs ORDER BY run_id"):
        latest[row["output"]] = row
    return [r for r in latest.values() if name in json.loads(r["key_ids"] or "{}")]


def _token_columns(policy_json, name) -> dict:
    """column -> token domain for the columns tokenised with key `name`."""
    cols = json.loads(policy_json).get("columns", {})
    return {c: s.get("domain", c) for c, s in cols.items()
            if s.get("transform") == "tokenise" and s.get("key", "token") == name}


def _retokenise(src, dst, columns: dict, old: dict, new: dict) -> None:
    from .transforms import detokenise, tokenise
    from .writer import rewrite_csv_columns

    [kid] = old
    rewrite_csv_columns(src, dst, columns,
                        lambda n, col: tokenise(detokenise(col, old, columns[n]), new[kid], kid, columns[n]),
                        require=False)


def rotate_key(store, name) -> dict:
    """Replace key `name` with a new random key and re-key every output the project knows about that
    uses it: files encrypted to it, files encrypted to people with it as custodian, and reversible
    tokens made with it. HMAC pseudonyms cannot be re-keyed without the source, so a key used for them
    is refused (run the anonymisation again from the source with the new key instead).

    Every new file is prepared first; the new key is stored; then the files are renamed into place.
    Returns {"old_id", "new_id", "outputs": [...]}."""
    old = load_keys(None, store=store, names=[name], create=False)
    rows = _outputs_using(store, name)
    for r in rows:
        pol = json.loads(r["policy"])
        for col, spec in pol.get("columns", {}).items():
            t = spec.get("transform")
            if t in ("pseudonymise", "surrogate", "shift_dates") and spec.get("key", "pseudonym") == name:
                raise AnonymiseError(f"key {name!r} made the pseudonyms of column {col!r} in {r['output']}; "
                                     "one-way pseudonyms cannot be re-keyed: anonymise the source again "
                                     "after rotating a differently named key")
    new = {name: os.urandom(32)}
    prepared = []   # (temporary, final)
    out = None      # the output being re-keyed, named by a full-disk error
    try:
        for r in rows:
            out = r["output"]
            if not os.path.exists(out):
                raise AnonymiseError(f"{out}: recorded as using key {name!r} but not there; "
                                     "move it back or remove its run before rotating")
            tokens = _token_columns(r["policy"], name)
            encrypted = _is_encrypted(out)
            if not encrypted and not tokens:
                continue   # nothing in this file depends on the key
            header = crypto.read_header(out) if encrypted else {}
            plain = out
            if encrypted:
                plain = _tmp_next_to(out, ".plain")
                prepared.append((plain, None))
                kid = header.get("key_id") or (header.get("custodian") or {}).get("key_id")
                keys = old if kid == name else load_keys(None, store=store, names=[kid], create=False)
                if "recipients" in header:
                    crypto.decrypt_as_custodian(out, plain, keys)
                else:
                    crypto.decrypt_file(out, plain, keys)
            if tokens:
                retok = _tmp_next_to(out, ".retok")
                prepared.append((retok, None))
                _retokenise(plain, retok, tokens, old, new)
                plain = retok
            final = _tmp_next_to(out, ".new")
            prepared.append((final, out))
            if not encrypted:
                os.replace(plain, final)
            elif "recipients" in header:
                c = header["custodian"]["key_id"]
                ckey = new[name] if c == name else load_keys(None, store=store, names=[c], create=False)[c]
                people = {e["name"]: crypto._unb64(e["public_key"]) for e in header["recipients"]}
                crypto.encrypt_for_recipients(plain, final, people, custodian=(c, ckey))
            else:
                k = header["key_id"]
                crypto.encrypt_file(plain, final, new[name] if k == name else keys[k], k)
        out = None
        store.set_secret(name, new[name].hex())
    except BaseException as exc:
        for tmp, _ in prepared:
            if os.path.exists(tmp):
                os.unlink(tmp)
        err = _no_room(exc, out) if out is not None else None
        if err is None:
            raise
        raise err from (exc.__cause__ or exc)
    done = []
    for tmp, final in prepared:
        if final is None:
            if os.path.exists(tmp):
                os.unlink(tmp)
        elif os.path.exists(tmp):
            os.replace(tmp, final)
            done.append(final)
    summary = {"name": name, "old_id": hash_key_id(old[name]), "new_id": hash_key_id(new[name]), "outputs": done}
    with store.transaction():
        for r in rows:
            ids = json.loads(r["key_ids"] or "{}")
            ids[name] = summary["new_id"]
            store.execute("UPDATE anonymise_outputs SET key_ids=? WHERE run_id=? AND output=?",
                          (json.dumps(ids), r["run_id"], r["output"]))
        store.log_event("anonymise.key_rotated", f"rotated key {name!r} ({summary['old_id']} -> "
                        f"{summary['new_id']}); re-keyed {len(done)} output(s)", summary)
    return summary


__all__ = ["CUSTODIAN_KEY", "active_recipients", "revoke", "rotate_key"]
