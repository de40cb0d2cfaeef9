"""Signed reports: an Ed25519 key in the OS keyring, a detached ``REPORT.sig``, and the check.

What is signed is a small canonical JSON *payload*: the SHA-256 of the report file's bytes, the
SHA-256 of the report's content (canonical JSON of the report data, see
:func:`workbench.core.report.content_sha256`), the project state SHA-256, the project id and
name, when, and who. The signature and payload go into ``REPORT.sig`` beside the report
(JSON), because a signature over a file's bytes cannot live inside those bytes. The report
itself also carries the content hash, the state hash, the signer and the key fingerprint
(printed on its last page, and in the PDF's XMP metadata / the HTML's ``<meta>``), so a
printed page can be matched with its ``.sig`` and a reader sees who signed it.

The private key never leaves the keyring (it is not per project: one key per user).
"""

from __future__ import annotations

import base64
import datetime as _dt
import getpass
import hashlib
import json
import platform
import re
from pathlib import Path

from workbench.core.errors import WorkbenchError

KEY_USER = "report-signing-key/ed25519"
SIG_FORMAT = "aisw-report-signature/1"


class SignatureError(WorkbenchError):
    pass




def signer_name() -> str:
    return f"{getpass.getuser()}@{platform.node() or 'localhost'}"


def _load_private(create: bool):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    # The signing key is the user's, not a project's: kept by the core beside project secrets.
    from workbench.core.secrets import get_user_secret, set_user_secret

    stored = get_user_secret(KEY_USER)
    if stored:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(stored))
    if not create:
        return None
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    set_user_secret(KEY_USER, base64.b64encode(raw).decode())
    return key


def _public_raw(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(public_raw: bytes) -> str:
    """Short, comparable name of a public key: SHA-256 of its raw bytes, 16 hex digits in groups."""
    h = hashlib.sha256(public_raw).hexdigest()[:16]
    return ":".join(h[i:i + 4] for i in range(0, 16, 4))


def signing_identity(create: bool = True) -> dict | None:
    """{signer, public_key (base64), fingerprint} of this user's key (created on first use)."""
    key = _load_private(create)
    if key is None:
        return None
    raw = _public_raw(key)
    return {"signer": signer_name(), "public_key": base64.b64encode(raw).decode(),
            "fingerprint": key_fingerprint(raw)}


def export_public_key(path: str | Path) -> dict:
    """Write this user's public key (PEM) to *path*; creates the key on first use."""
    from cryptography.hazmat.primitives import serialization

    from workbench.core.files import atomic_write

    key = _load_private(create=True)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    atomic_write(path, pem)  # a full disk: an error naming *path*, and an earlier key file left whole
    return signing_identity(create=False)


def _read_public_key_file(path: str | Path) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            return Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True)).public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        except Exception as exc:
            raise SignatureError(f"{path}: not an Ed25519 public key (PEM or base64)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{path}: the public key is not an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sig_path(report_path: str | Path) -> Path:
    p = Path(report_path)
    return p.with_name(p.name + ".sig")


def sign_report_file(report_path: str | Path, *, content_sha256: str, state_sha256: str, project_id: str,
                     project_name: str, generated: str, template: str, events_head: dict | None = None) -> Path:
    """Sign the written report and write ``REPORT.sig`` (whole or not at all). The payload carries the
    audit log's head (event id, hash, time): a later rollback or rewrite of the log shows against it."""
    from workbench.core.files import atomic_write

    key = _load_private(create=True)
    raw = _public_raw(key)
    payload = {
        "format": SIG_FORMAT, "file": Path(report_path).name, "file_sha256": file_sha256(report_path),
        "content_sha256": content_sha256, "state_sha256": state_sha256, "project_id": project_id,
        **({"events_head": dict(events_head)} if events_head else {}),
        "project_name": project_name, "generated": generated, "template": template,
        "signed_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "signer": signer_name(), "public_key": base64.b64encode(raw).decode(), "key_fingerprint": key_fingerprint(raw),
    }
    doc = {"payload": payload, "signature": base64.b64encode(key.sign(_canonical(payload))).decode()}
    out = sig_path(report_path)
    # whole or not at all; a full disk is an error naming the .sig, not its temporary twin
    atomic_write(out, json.dumps(doc, indent=2, sort_keys=True))
    return out


def verify_report(report_path: str | Path, *, project_path: str | None = None,
                  public_key_file: str | None = None) -> dict:
    """Check a report against its ``.sig``. Returns a dict of findings; ``ok`` is the verdict:
    the file is intact, the signature is valid (by the given key, when one is given) and, when a
    project is given, the project's state still matches."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    report_path = Path(report_path)
    if not report_path.is_file():
        raise SignatureError(f"{report_path}: no such report")
    sp = sig_path(report_path)
    if not sp.is_file():
        return _verify_unsigned(report_path, sp, project_path)
    try:
        doc = json.loads(sp.read_text())
        payload, signature = doc["payload"], base64.b64decode(doc["signature"])
        public_raw = base64.b64decode(payload["public_key"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"{sp}: not a report signature file ({type(exc).__name__}: {exc})") from exc
    result: dict = {"report": str(report_path), "signer": payload.get("signer"),
                    "key_fingerprint": key_fingerprint(public_raw), "signed_at": payload.get("signed_at"),
                    "state_sha256": payload.get("state_sha256"), "content_sha256": payload.get("content_sha256")}
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, _canonical(payload))
        result["signature_valid"] = True
    except (InvalidSignature, ValueError):
        result["signature_valid"] = False
    actual = file_sha256(report_path)
    result["intact"] = actual == payload.get("file_sha256")
    if public_key_file:
        result["key_matches"] = _read_public_key_file(public_key_file) == public_raw
    else:
        own = None
        try:
            own = signing_identity(create=False)
        except Exception:  # no keyring here: the key in the .sig is then only self-consistent
            own = None
        result["key_matches"] = None
        result["own_key"] = bool(own and own["public_key"] == payload["public_key"])
    result["events_head"] = payload.get("events_head")
    if project_path:
        # The head a report carries counts only when its signature holds.
        _check_project(result, project_path, payload.get("state_sha256"), payload.get("project_id"),
                       payload.get("events_head") if result["signature_valid"] and result["intact"] else None)
    result["ok"] = (result["signature_valid"] and result["intact"] and result["key_matches"] is not False
                    and result.get("project_matches", True) is not False
                    and result.get("chain_ok", True) is not False)
    return result


def _check_project(result: dict, project_path, state_sha256: str | None, project_id: str | None,
                   events_head: dict | None) -> None:
    """The project against what the report says: its state hash, and its audit log (the chain, every
    sealed digest, the anchor outside the file, and the head the report carries)."""
    from workbench.core.project import Project

    with Project.open(project_path, readonly=True) as project:
        state = project.state_sha256()
        result["project_state_sha256"] = state
        result["project_matches"] = state == state_sha256
        result["same_project"] = project.project_id == project_id
        chain = project.verify_events(report_head=events_head)
        result["chain_ok"] = chain.ok
        result["chain_message"] = chain.message
        result["chain_anchor"] = chain.anchor
        result["chain_notes"] = chain.notes


# The PDF's XMP metadata ("state_sha256=…"), or the HTML's cover ("Project state SHA-256" then the hash).
_STATE_IN_REPORT = re.compile(rb"(?:state_sha256=|Project state SHA-256.{0,400}?)([0-9a-f]{64})", re.DOTALL)


def _verify_unsigned(report_path: Path, sp: Path, project_path: str | None) -> dict:
    """A report without REPORT.sig: nothing proves who wrote it or that it is unchanged, but the state
    hash it carries (the PDF's XMP metadata, the HTML's <meta>) is still checked against --project."""
    found = _STATE_IN_REPORT.search(report_path.read_bytes())
    result: dict = {"report": str(report_path), "unsigned": True, "signature_valid": False, "intact": None,
                    "key_matches": None, "signer": None, "key_fingerprint": None, "signed_at": None,
                    "state_sha256": found.group(1).decode() if found else None, "content_sha256": None,
                    "sig_missing": str(sp)}
    if project_path and result["state_sha256"]:
        _check_project(result, project_path, result["state_sha256"], None, None)
    result["ok"] = False  # an unsigned report never verifies; what matched is said line by line
    return result


def report_head(report_path: str | Path) -> dict:
    """The audit-log head a signed report carries, once its signature and bytes are checked:
    {"id", "hash", "ts"}. Raises SignatureError when the report cannot vouch for one."""
    r = verify_report(report_path)
    if r.get("unsigned"):
        raise SignatureError(f"{report_path}: an unsigned report carries no head that can be trusted")
    if not (r["signature_valid"] and r["intact"]):
        raise SignatureError(f"{report_path}: its signature does not hold, so the head it carries cannot be used")
    if not r.get("events_head"):
        raise SignatureError(f"{report_path}: signed by an older workbench, it carries no audit-log head")
    # Who vouches for the head is said with the verdict: trust it as far as you trust that key.
    return {**r["events_head"], "signed_by": f"{r['signer']}, key {r['key_fingerprint']}"}


def describe_verification(r: dict) -> list[str]:
    lines = [f"report     {r['report']}"]
    if r.get("unsigned"):
        lines.append(f"signature  NONE: no {Path(r['sig_missing']).name} beside the report, so nothing proves "
                     "who wrote it or that it is unchanged")
        if not r.get("state_sha256"):
            lines.append("state      the report carries no project state hash that could be read")
        elif "project_matches" in r:
            lines.append("project    " + ("matches the state hash the report carries" if r["project_matches"] else
                                          f"CHANGED: state {r['project_state_sha256'][:16]}… vs "
                                          f"{r['state_sha256'][:16]}… in the report"))
            lines.append("log        " + ("OK: " if r["chain_ok"] else "BROKEN: ") + r["chain_message"])
        else:
            lines.append(f"state      {r['state_sha256']} (pass --project to compare it with the project)")
        lines.append("verdict    UNSIGNED (not verified)")
        return lines
    lines.append("intact     yes: the file's SHA-256 matches the signed one" if r["intact"]
                 else "intact     NO: the file was changed after it was signed")
    lines.append(f"signature  {'valid' if r['signature_valid'] else 'INVALID'}, by {r['signer']} "
                 f"(key {r['key_fingerprint']}), signed {r['signed_at']}")
    if r["key_matches"] is True:
        lines.append("key        matches the public key given")
    elif r["key_matches"] is False:
        lines.append("key        DOES NOT match the public key given: someone else signed it")
    elif r.get("own_key"):
        lines.append("key        this user's own signing key")
    else:
        lines.append("key        not checked: pass --public-key FILE (the signer's exported key) to trust it")
    if "project_matches" in r:
        if r["project_matches"]:
            lines.append("project    matches: the project's state is the one the report describes")
        else:
            lines.append(f"project    CHANGED since the report: state {r['project_state_sha256'][:16]}… "
                         f"vs {r['state_sha256'][:16]}… in the report"
                         + ("" if r.get("same_project", True) else " (and it is a different project)"))
    if "chain_ok" in r:
        lines.append("log        " + ("OK: " if r["chain_ok"] else "BROKEN: ") + r["chain_message"])
        if r.get("chain_anchor"):
            lines.append(f"anchor     {r['chain_anchor']}")
        for note in r.get("chain_notes") or ():
            lines.append(f"note       {note}")
    lines.append("verdict    " + ("OK" if r["ok"] else "FAILED"))
    return lines
