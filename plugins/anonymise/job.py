"""The anonymise job: runs the pipeline and records the result in the project."""

from __future__ import annotations

import json
import os

from workbench.api import Finding, assign_fingerprints

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


def run(params, ctx) -> dict:
    from .engine import Policy, anonymise_file

    policy = Policy.from_dict(dict(params.policy), "policy")
    keys = load_keys(policy, ctx)
    encrypt_keys = {}
    if params.encrypt_key:
        encrypt_keys = load_keys(None, ctx, names=[params.encrypt_key])
    elif params.recipients:
        encrypt_keys = load_keys(None, ctx, names=[CUSTODIAN_KEY])
    encrypted = bool(params.encrypt_key or params.recipients)
    out = params.output
    if encrypted:
        # the verified plaintext lives only as a hidden temporary file next to the output
        folder = os.path.dirname(os.path.abspath(params.output))
        out = os.path.join(folder, f".{os.path.basename(params.output)}.{os.getpid()}.plain.csv")
    try:
        summary = anonymise_file(params.target, out, policy, keys,
                                 progress=ctx.progress, check_cancelled=ctx.check_cancelled)
        if encrypted:
            from . import crypto

            if params.encrypt_key:
                crypto.encrypt_file(out, params.output, encrypt_keys[params.encrypt_key], params.encrypt_key)
            else:
                crypto.encrypt_for_recipients(out, params.output, {n: bytes.fromhex(h) for n, h in
                                                                   params.recipients.items()},
                                              custodian=(CUSTODIAN_KEY, encrypt_keys[CUSTODIAN_KEY]))
            summary["output"] = params.output
            summary["encrypted_to"] = crypto.recipients_of(params.output)
    finally:
        if encrypted and os.path.exists(out):
            os.unlink(out)
    from .transforms import hash_key_id

    key_ids = {name: hash_key_id(k) for name, k in {**keys, **encrypt_keys}.items()}
    summary["key_ids"] = key_ids
    findings = []
    after = summary.get("risk_after") or {}
    pros = after.get("prosecutor", {})
    if pros.get("records_at_risk", 0) > 0:
        findings.append(Finding(
            plugin="anonymise", rule="AN001", severity="MEDIUM", confidence="HIGH",
            title="Records above the re-identification threshold",
            message=f"{pros['records_at_risk']:.1%} of released records of {params.target} have a "
                    f"re-identification risk above {after.get('threshold')}", path=params.target))
    for name, spec in policy.columns.items():
        if spec.get("role") == "direct_identifier" and spec.get("transform", "keep") == "keep":
            findings.append(Finding(
                plugin="anonymise", rule="AN002", severity="HIGH", confidence="MEDIUM",
                title="Direct identifier kept", path=params.target,
                message=f"column {name!r} of {params.target} is a direct identifier and is released as is"))
    assign_fingerprints(findings, lambda f: f.message)
    store = ctx.store
    with store.transaction():
        store.execute(
            "INSERT INTO anonymise_outputs (run_id, input, output, policy, levels, suppressed_rows, "
            "information_loss, metric, p_reid_before, p_reid_after, verification, key_ids) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (ctx.run_id, params.target, params.output, json.dumps(policy.to_dict(), sort_keys=True),
             json.dumps(summary.get("levels")), summary.get("suppressed_rows"),
             summary.get("information_loss"), summary.get("metric"),
             (summary.get("risk_before") or {}).get("p_reidentification"),
             summary.get("p_reidentification"), json.dumps(summary.get("verification")),
             json.dumps(key_ids)))
        store.executemany(
            "INSERT INTO anonymise_columns (run_id, column_name, entity, role, confidence, transform) "
            "VALUES (?,?,?,?,?,?)",
            [(ctx.run_id, c, s.get("entity"), s.get("role"), s.get("confidence"), s.get("transform", "keep"))
             for c, s in policy.columns.items()])
        store.add_findings(ctx.run_id, findings)
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for name, pub in sorted(params.recipients.items()):
            role = params.roles.get(name, "reviewer")
            store.execute("INSERT INTO anonymise_access (run_id, output, name, role, public_key, granted_at) "
                          "VALUES (?,?,?,?,?,?)", (ctx.run_id, params.output, name, role, pub, now))
            store.log_event("anonymise.grant", f"{name} ({role}) may read {params.output}",
                            {"output": params.output, "name": name, "role": role, "public_key": pub})
        store.log_event("anonymise.output", f"wrote verified output {params.output}",
                        {"input": params.target, "rows": summary.get("rows_out"), "key_ids": key_ids})
    return summary
