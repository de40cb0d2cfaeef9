"""The anonymiser's keys: which ones a policy needs, and reading or creating them in the
project's OS keyring (or, without a project, from the environment)."""

from __future__ import annotations

import os

from .errors import AnonymiseError

KEY_ENV_PREFIX = "WORKBENCH_ANON_KEY_"
# The project's own key for outputs encrypted to people: lets it revoke and re-key without their keys.
CUSTODIAN_KEY = "anonymise-custodian"


def key_names(policy) -> set[str]:
    names = set()
    for spec in policy.columns.values():
        t = spec.get("transform")
        if t in ("pseudonymise", "surrogate", "shift_dates"):
            names.add(spec.get("key", "pseudonym"))
        elif t == "tokenise":
            names.add(spec.get("key", "token"))
    return names


def _from_keyring(read, name):
    """The key stored under `name` for this project, or None; a keyring that cannot be used says why."""
    try:
        return read(name)
    except Exception as exc:  # SecretsUnavailableError and friends: the core's message says what to do
        raise AnonymiseError(f"key {name!r}: the keyring cannot be read ({exc}); or set "
                             f"{KEY_ENV_PREFIX}{name.upper()} (hex) for a run without a project") from exc


def create_key(store, name) -> bytes:
    """A new random 32-byte key, written to the OS keyring through the SDK (only its name goes into
    the project); the audit log records its id, never its value."""
    from .transforms import hash_key_id

    key = os.urandom(32)
    try:
        store.set_secret(name, key.hex())
    except Exception as exc:
        raise AnonymiseError(f"key {name!r} could not be stored in the keyring ({exc})") from exc
    store.log_event("anonymise.key_created", f"created key {name!r} (id {hash_key_id(key)}) in the keyring",
                    {"name": name, "key_id": hash_key_id(key)})
    return key


def load_keys(policy, ctx=None, names=None, store=None, create=True) -> dict:
    """The keys the policy (or `names`) needs, as bytes.

    With a project (a job's ``ctx.store``, or `store` from a command) the keys live in the OS keyring
    (``store.get_secret``); a missing one is generated and stored there on first use when `create`,
    so HMAC pseudonyms stay the same across files and runs of the project. Without a project (scripts,
    benchmarks) ``WORKBENCH_ANON_KEY_<NAME>`` (hex) is read instead."""
    keys = {}
    if store is None and ctx is not None:
        store = getattr(ctx, "store", None)
    # a job reads through ctx.secret (the SDK's job-side door to the keyring); a command through its store
    read = ctx.secret if store is not None and callable(getattr(ctx, "secret", None)) else \
        (store.get_secret if store is not None else None)
    for name in sorted(names if names is not None else key_names(policy)):
        value = _from_keyring(read, name) if store is not None else None
        if value is None and store is None:
            value = os.environ.get(KEY_ENV_PREFIX + name.upper())
        if value is None and store is not None and create:
            keys[name] = create_key(store, name)
            continue
        if value is None:
            where = (f"store it in the project's keyring (workbench secret set PROJECT {name})"
                     if store is not None else f"set {KEY_ENV_PREFIX}{name.upper()} (hex), or give -p PROJECT")
            raise AnonymiseError(f"the policy needs key {name!r}: {where}")
        try:
            keys[name] = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
        except ValueError:
            raise AnonymiseError(f"key {name!r} must be hex (64 hex digits for 32 bytes)") from None
    return keys
