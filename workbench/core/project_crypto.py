"""Encrypted project files: SQLCipher 4 connections, their keys, conversions and key files.

An encrypted project is the same SQLite database, every page (and every WAL
frame) encrypted with AES-256 and authenticated with HMAC-SHA512 by SQLCipher.
Temporary tables stay in memory (the bundled SQLCipher is built with
``TEMP_STORE=2``, and every connection says ``temp_store = MEMORY`` as well).

The key is 32 random bytes, used raw (no passphrase, so no key derivation on
each open). It lives in the secrets backend of :mod:`workbench.core.secrets`
(the OS keyring or the user's encrypted file) under the project's *key id*
and nowhere else; worker processes get it from their parent through the
process pipe. The key id is the project id the file was encrypted under, and
SQLCipher's 16-byte salt is set to that id's bytes, so the first 16 bytes of
the file name their key without the key. (A copy of the file gets its own
project id later, and keeps the key id: it is still encrypted with that key.)

A key file (``workbench key export``) carries the key to a reviewer,
encrypted with AES-256-GCM under a passphrase stretched by scrypt.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from workbench.core.errors import ProjectError, WorkbenchError
from workbench.core.open_files import _known, is_open_here, looks_encrypted

# A plain project needs none of SQLCipher (a C extension with SQLCipher built in; not every platform has a
# wheel), uuid, secrets, json or the key-file KDF: each is imported where an encrypted file or a key needs it.
_cipher = None
_cipher_loaded = False

#: What every driver in use raises: catch these, not sqlite3's alone. ERROR, OPERATIONAL_ERROR and
#: DATABASE_ERROR are made on first use (module __getattr__ below), which loads SQLCipher's driver: an
#: ``except crypto.ERROR`` is evaluated only when something was raised, so a clean open never loads it.
_ERROR_CLASSES = {"ERROR": "Error", "OPERATIONAL_ERROR": "OperationalError", "DATABASE_ERROR": "DatabaseError"}


def _driver():
    """SQLCipher's DB-API module, imported on first need; None where it is not installed."""
    global _cipher, _cipher_loaded
    if not _cipher_loaded:
        try:
            from sqlcipher3 import dbapi2 as cipher
        except ImportError:  # pragma: no cover - depends on the platform
            cipher = None
        _cipher, _cipher_loaded = cipher, True
    return _cipher


def __getattr__(name: str):
    if name in _ERROR_CLASSES:
        cipher = _driver()
        for attr, cls in _ERROR_CLASSES.items():
            globals()[attr] = (getattr(sqlite3, cls),) + ((getattr(cipher, cls),) if cipher else ())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


KEY_FILE_FORMAT = "workbench-project-key"
KEY_FILE_SUFFIX = ".wbkey"
KEY_IMPORT_HINT = "import it with `workbench key import KEYFILE` (the project's owner makes one with `workbench key export`)"
# scrypt for a key file: the same cost as the secrets file (128 MiB, about 0.3 s).
KEY_FILE_SCRYPT = {"n": 2**17, "r": 8, "p": 1}
_LABEL = b"workbench-project-key v1"

#: key id -> key (64 hex digits) of every encrypted project this process opened or created
_keys: dict[str, str] = {}


class EncryptionUnavailableError(ProjectError):
    pass


class ProjectKeyMissingError(ProjectError):
    def __init__(self, path, key_id: str):
        self.key_id = key_id
        super().__init__(path, f"is an encrypted project, and its key (key id {key_id}) is not in this machine's "
                               f"secrets backend; {KEY_IMPORT_HINT}.")


class WrongProjectKeyError(ProjectError):
    pass


class KeyFileError(WorkbenchError):
    pass


def available() -> bool:
    return _driver() is not None


def cipher_module():
    if _driver() is None:
        raise EncryptionUnavailableError(
            "encrypted projects", "need the `sqlcipher3-binary` package (Linux) or `sqlcipher3` built against "
            "SQLCipher; install it into the workbench's environment")
    return _cipher


# ------------------------------------------------------------------ the file itself
# Which project files this process has open (and under which key id) is kept by the leaf module
# workbench.core.open_files (opened, closed, is_open_here), which workbench.core.files reads too.
def read_head(path: Path, size: int = 100) -> bytes:
    if is_open_here(path):
        raise RuntimeError(f"{path}: open in this process; reading it directly would drop SQLite's locks")
    with open(path, "rb") as fh:
        return fh.read(size)


def is_encrypted_file(path: Path) -> bool:
    known = _known(path)
    if known is not None:
        return known[1] is not None
    return looks_encrypted(read_head(path, 16), os.path.getsize(path))


def key_id_of(path: Path) -> str:
    known = _known(path)
    if known is not None and known[1] is not None:
        return known[1]
    import uuid

    return str(uuid.UUID(bytes=read_head(path, 16)))


# ------------------------------------------------------------------------- keys
def new_key() -> str:
    import secrets as _random

    return _random.token_hex(32)


def new_key_id() -> str:
    """A fresh id for every new key: no two files' keys can ever compete for one name."""
    import uuid

    return str(uuid.uuid4())


def _backend_user(key_id: str) -> str:
    return f"project-key/{key_id}"


def stored_key(key_id: str) -> str | None:
    """What the secrets backend holds under *key_id* (not this process's cache)."""
    from workbench.core import secrets

    return secrets.get_user_secret(_backend_user(key_id))


def store_key(key_id: str, key: str) -> None:
    """Into the secrets backend (and this process's cache). Raises SecretsUnavailableError when none is usable.

    Never replaces another key under the same id: a file encrypted with that one could not be opened again.
    """
    from workbench.core import secrets

    _checked_hex(key, 64)
    existing = stored_key(key_id)
    if existing and existing != key:
        raise KeyFileError(f"another key is already stored under key id {key_id}; refusing to replace it "
                           "(a project encrypted with it could not be opened again)")
    if existing != key:
        secrets.set_user_secret(_backend_user(key_id), key)
    _keys[key_id] = key


def forget_key(key_id: str, *, from_backend: bool = False) -> None:
    _keys.pop(key_id, None)
    if from_backend:
        from workbench.core import secrets

        secrets.delete_user_secret(_backend_user(key_id))


def remember(keys: dict[str, str]) -> None:
    """Keys handed over by a parent process (a job worker): they never touch the disk."""
    _keys.update(keys)


def key_for(path: Path) -> str:
    """The key of the encrypted project at *path*: this process's cache, else the secrets backend."""
    return key_by_id(key_id_of(path), path)


def key_by_id(key_id: str, path: Path) -> str:
    if key_id in _keys:
        return _keys[key_id]
    from workbench.core import secrets
    from workbench.core.errors import SecretsUnavailableError

    try:
        key = secrets.get_user_secret(_backend_user(key_id))
    except SecretsUnavailableError as exc:
        raise ProjectError(path, f"is an encrypted project (key id {key_id}), and its key cannot be looked "
                                 f"up: {exc}") from None
    if not key:
        raise ProjectKeyMissingError(path, key_id)
    if not _is_hex(key, 64):
        raise ProjectError(path, f"is an encrypted project, and what the secrets backend holds under its key id "
                                 f"{key_id} is not a project key (altered?); {KEY_IMPORT_HINT}.")
    _keys[key_id] = key
    return key


def keys_for_worker(project) -> dict[str, str]:
    """What a job worker of the open *project* needs to open it (nothing for a plain file)."""
    if project.key_id is None:
        return {}
    return {project.key_id: key_by_id(project.key_id, project.path)}


# ----------------------------------------------------------------- connections
def connect(target: str, key: str | None, *, salt: str | None = None, uri: bool = False, mixin: type | None = None,
            **kwargs):
    """A DB-API connection: the standard ``sqlite3`` for a plain file, SQLCipher's with *key*.

    *salt* (32 hex digits) is given only when creating a file, to make its first bytes the key id.
    *mixin*: a class put before the driver's own Connection class (the connection's class is then both).
    """
    if key is None:
        if mixin is not None:
            kwargs["factory"] = _connection_class(mixin, sqlite3.Connection)
        conn = sqlite3.connect(target, uri=uri, **kwargs)
        conn.row_factory = sqlite3.Row
        return conn
    driver = cipher_module()
    if mixin is not None:
        kwargs["factory"] = _connection_class(mixin, driver.Connection)
    conn = driver.connect(target, uri=uri, **kwargs)
    conn.row_factory = driver.Row
    # A wrong key is reported by us, once, with what to do; not by SQLCipher's log on stderr.
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(f"PRAGMA key = \"x'{_checked_hex(key, 64)}{_checked_hex(salt, 32) if salt else ''}'\"")
    # SQLCipher 4's format (4 KiB pages, HMAC-SHA512) whatever the library's own default.
    conn.execute("PRAGMA cipher_compatibility = 4")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


_connection_classes: dict[tuple[type, type], type] = {}


def _connection_class(mixin: type, base: type) -> type:
    cls = _connection_classes.get((mixin, base))
    if cls is None:
        cls = _connection_classes[(mixin, base)] = type(mixin.__name__, (mixin, base), {"__module__": mixin.__module__})
    return cls


def _is_hex(value, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and all(c in "0123456789abcdef" for c in value)


def _checked_hex(value: str, length: int) -> str:
    # Goes into a PRAGMA, which takes no parameters: only hex digits may pass.
    if not _is_hex(value, length):
        raise ValueError(f"a project key must be {length} lower-case hex digits")
    return value


def salt_of(key_id: str) -> str:
    import uuid

    return uuid.UUID(key_id).hex


# -------------------------------------------------------------------- conversion
def export_database(conn, target: Path, *, key: str | None, salt: str | None, application_id: int) -> None:
    """Write the whole database of *conn* (a SQLCipher connection) to *target*, encrypted with *key* or plain.

    sqlcipher_export copies schema and rows, not the header fields, so those are set after.
    """
    attach_key = f"x'{_checked_hex(key, 64)}{_checked_hex(salt, 32) if salt else ''}'" if key else ""
    conn.execute("ATTACH DATABASE ? AS converted KEY ?", (str(target), attach_key))
    try:
        version = conn.execute("PRAGMA main.user_version").fetchone()[0]
        conn.execute("SELECT sqlcipher_export('converted')").fetchall()
        conn.execute(f"PRAGMA converted.user_version = {int(version)}")
        conn.execute(f"PRAGMA converted.application_id = {int(application_id)}")
    finally:
        conn.execute("DETACH DATABASE converted")


# --------------------------------------------------------------------- key files
def write_key_file(out: Path, *, key_id: str, key: str, project_name: str, passphrase: str) -> None:
    import json

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from workbench.core.kdf import MIN_PASSPHRASE, b64, derive, write_atomically

    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyFileError(f"a key file's passphrase needs at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    header = {"format": KEY_FILE_FORMAT, "version": 1, "key_id": key_id, "project": project_name,
              "cipher": "AES-256-GCM", "kdf": {"name": "scrypt", **KEY_FILE_SCRYPT, "salt": b64(salt)}}
    aes_key, check = derive(passphrase, salt, KEY_FILE_SCRYPT, label=_LABEL)
    header["check"] = b64(check)
    ciphertext = AESGCM(aes_key).encrypt(nonce, bytes.fromhex(key), _aad(header))
    body = {"header": header, "nonce": b64(nonce), "ciphertext": b64(ciphertext)}
    try:
        write_atomically(out, (json.dumps(body, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    except OSError as exc:  # a full disk: name the key file asked for (the temporary one is already gone)
        raise KeyFileError(f"{out}: cannot write ({exc.strerror or exc}); the previous file, if any, "
                           "is unchanged") from exc


def _aad(header: dict) -> bytes:
    import json

    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def read_key_file(path: Path, passphrase: str) -> tuple[str, str, str]:
    """(key id, key, project name) from a key file; KeyFileError names the file and what is wrong."""
    import hmac
    import json
    import uuid

    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from workbench.core.kdf import SecretsFileError, check_kdf_params, derive, read_regular_file, unb64

    path = Path(path)
    try:
        body = json.loads(read_regular_file(path, limit=64 * 1024).decode("utf-8"))
        header = body["header"]
        if header.get("format") != KEY_FILE_FORMAT or header.get("version") != 1:
            raise KeyFileError(f"{path}: not a workbench project key file")
        key_id = str(uuid.UUID(header["key_id"]))
        params = check_kdf_params(header["kdf"], path)
        salt = unb64(header["kdf"]["salt"], path, "the salt")
        nonce = unb64(body["nonce"], path, "the nonce")
        ciphertext = unb64(body["ciphertext"], path, "the ciphertext")
        check = unb64(header["check"], path, "the check value")
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such file") from None
    except KeyFileError:
        raise
    except (SecretsFileError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: not a readable project key file ({exc})") from None
    aes_key, expected = derive(passphrase, salt, params, label=_LABEL)
    if not hmac.compare_digest(check, expected):
        raise KeyFileError(f"{path}: wrong passphrase for this key file")
    try:
        key = AESGCM(aes_key).decrypt(nonce, ciphertext, _aad(header)).hex()
    except InvalidTag:
        raise KeyFileError(f"{path}: the key file was altered (its authentication fails)") from None
    if len(key) != 64:
        raise KeyFileError(f"{path}: holds a {len(key) // 2}-byte key; a project key has 32 bytes")
    return key_id, key, str(header.get("project", ""))
