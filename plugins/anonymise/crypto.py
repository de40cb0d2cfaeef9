"""Encrypted outputs: authenticated encryption, to a named key or to recipients' X25519 keys.

File format (all integers big-endian):

    b"WBENC1\\n"  header-JSON  b"\\n"  chunk*

The header names what is needed to read the file, never a secret: either
``{"key_id": ...}`` (a symmetric key held in the keyring under that id) or
``{"recipients": [{"name", "public_key", "epk", "wrapped"}]}``. The file key is
random per file; for each recipient it is wrapped with AES-256-GCM under
HKDF-SHA256(X25519(ephemeral, recipient)). The data is split into chunks of
``chunk`` bytes, each sealed with AES-256-GCM under the file key, nonce = 8 random
bytes of the header || a 4-byte counter, and the header plus the counter and a
last-chunk flag as associated data: a changed, reordered, dropped or truncated
chunk, or an edited header, fails to decrypt.
"""

from __future__ import annotations

import base64
import json
import os
import struct

from .errors import AnonymiseError
from .writer import atomic_path, room_for

MAGIC = b"WBENC1\n"
CHUNK = 1 << 20


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"))


def new_identity() -> tuple[bytes, bytes]:
    """(private, public) raw X25519 keys for a recipient; the private key goes to their keyring."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    priv = X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    return (priv.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()),
            priv.public_key().public_bytes(raw, serialization.PublicFormat.Raw))


def _wrap_key(shared: bytes, epk: bytes, rpk: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt=epk + rpk, info=b"workbench-anonymise-recipient").derive(shared)


def _seal_stream(src, dst, header: dict, file_key: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = dict(header, chunk=CHUNK, nonce=_b64(os.urandom(8)))
    head = json.dumps(header, sort_keys=True).encode()
    aead = AESGCM(file_key)
    prefix = _unb64(header["nonce"])
    with room_for(dst), open(src, "rb") as fin, atomic_path(dst) as tmp, open(tmp, "wb") as fout:
        fout.write(MAGIC + head + b"\n")
        counter = 0
        chunk = fin.read(CHUNK)
        while True:
            nxt = fin.read(CHUNK)
            last = not nxt
            ad = head + struct.pack(">IB", counter, last)
            fout.write(aead.encrypt(prefix + struct.pack(">I", counter), chunk, ad))
            if last:
                break
            chunk, counter = nxt, counter + 1


def _open_stream(src, dst, file_key_for) -> dict:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with open(src, "rb") as fin:
        if fin.read(len(MAGIC)) != MAGIC:
            raise AnonymiseError(f"{src}: not a workbench encrypted file")
        head = fin.readline().rstrip(b"\n")
        try:
            header = json.loads(head)
        except ValueError:
            raise AnonymiseError(f"{src}: damaged header") from None
        aead = AESGCM(file_key_for(header))
        prefix = _unb64(header["nonce"])
        size = header["chunk"] + 16
        with room_for(dst), atomic_path(dst) as tmp, open(tmp, "wb") as fout:
            counter = 0
            block = fin.read(size)
            while True:
                nxt = fin.read(size)
                last = not nxt
                ad = head + struct.pack(">IB", counter, last)
                try:
                    fout.write(aead.decrypt(prefix + struct.pack(">I", counter), block, ad))
                except InvalidTag:
                    raise AnonymiseError(f"{src}: chunk {counter} does not verify (wrong key, or the "
                                         "file was changed or cut)") from None
                if last:
                    break
                block, counter = nxt, counter + 1
    return header


def encrypt_file(src, dst, key: bytes, key_id: str) -> None:
    """Encrypt to a symmetric key (32 bytes, kept in the keyring under `key_id`)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(key) != 32:
        raise AnonymiseError("the file encryption key must be 32 bytes")
    file_key = AESGCM.generate_key(256)
    wrapped = AESGCM(key).encrypt(b"\0" * 12, file_key, key_id.encode())
    _seal_stream(src, dst, {"key_id": key_id, "wrapped": _b64(wrapped)}, file_key)


def decrypt_file(src, dst, keys: dict) -> dict:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    def file_key(header):
        kid = header.get("key_id")
        if kid is None:
            raise AnonymiseError(f"{src}: encrypted to recipients, not to a key; use the identity")
        if kid not in keys:
            raise AnonymiseError(f"{src}: needs key {kid!r}, which is not available")
        try:
            return AESGCM(keys[kid]).decrypt(b"\0" * 12, _unb64(header["wrapped"]), kid.encode())
        except InvalidTag:
            raise AnonymiseError(f"{src}: key {kid!r} does not open this file") from None

    return _open_stream(src, dst, file_key)


def encrypt_for_recipients(src, dst, recipients: dict, custodian: tuple[str, bytes] | None = None) -> None:
    """Encrypt so that only the holders of the private keys of `recipients` (name -> raw public key) can read.

    `custodian` (key id, 32-byte key from the project's keyring) also wraps the file key, so that the
    project that wrote the file can re-encrypt it without a revoked recipient, or after rotating that key,
    without holding anyone's private key. The recipients' entries are unchanged by it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not recipients:
        raise AnonymiseError("no recipient to encrypt to")
    file_key = AESGCM.generate_key(256)
    entries = []
    raw = serialization.Encoding.Raw
    for name, pub in sorted(recipients.items()):
        try:
            rpk = X25519PublicKey.from_public_bytes(pub)
        except ValueError:
            raise AnonymiseError(f"recipient {name!r}: not an X25519 public key (32 bytes)") from None
        eph = X25519PrivateKey.generate()
        epk = eph.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
        wk = _wrap_key(eph.exchange(rpk), epk, pub)
        entries.append({"name": name, "public_key": _b64(pub), "epk": _b64(epk),
                        "wrapped": _b64(AESGCM(wk).encrypt(b"\0" * 12, file_key, name.encode()))})
    header = {"recipients": entries}
    if custodian is not None:
        kid, key = custodian
        header["custodian"] = {"key_id": kid,
                               "wrapped": _b64(AESGCM(key).encrypt(b"\0" * 12, file_key, kid.encode()))}
    _seal_stream(src, dst, header, file_key)


def read_header(path) -> dict:
    with open(path, "rb") as fin:
        if fin.read(len(MAGIC)) != MAGIC:
            raise AnonymiseError(f"{path}: not a workbench encrypted file")
        try:
            return json.loads(fin.readline())
        except ValueError:
            raise AnonymiseError(f"{path}: damaged header") from None


def decrypt_as_custodian(src, dst, keys: dict) -> dict:
    """Open a recipients' file with the custodian key the project holds (key id -> key)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    def file_key(header):
        c = header.get("custodian")
        if not c:
            raise AnonymiseError(f"{src}: written without a custodian key; only its recipients can open it")
        if c["key_id"] not in keys:
            raise AnonymiseError(f"{src}: needs custodian key {c['key_id']!r}, which is not available")
        try:
            return AESGCM(keys[c["key_id"]]).decrypt(b"\0" * 12, _unb64(c["wrapped"]), c["key_id"].encode())
        except InvalidTag:
            raise AnonymiseError(f"{src}: key {c['key_id']!r} does not open this file") from None

    return _open_stream(src, dst, file_key)


def decrypt_with_identity(src, dst, private_key: bytes) -> dict:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    priv = X25519PrivateKey.from_private_bytes(private_key)
    pub = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def file_key(header):
        for r in header.get("recipients", []):
            if _unb64(r["public_key"]) == pub:
                epk = _unb64(r["epk"])
                wk = _wrap_key(priv.exchange(X25519PublicKey.from_public_bytes(epk)), epk, pub)
                try:
                    return AESGCM(wk).decrypt(b"\0" * 12, _unb64(r["wrapped"]), r["name"].encode())
                except InvalidTag:
                    break
        raise AnonymiseError(f"{src}: this identity is not among the file's recipients")

    return _open_stream(src, dst, file_key)


def recipients_of(path) -> list[str]:
    """Who can read an encrypted file (from its header; no key needed)."""
    with open(path, "rb") as fin:
        if fin.read(len(MAGIC)) != MAGIC:
            raise AnonymiseError(f"{path}: not a workbench encrypted file")
        header = json.loads(fin.readline())
    return [r["name"] for r in header.get("recipients", [])] or [f"key:{header.get('key_id')}"]
