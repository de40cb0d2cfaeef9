"""An encrypted file that holds secrets, for machines without an OS keyring.

The user chooses it explicitly (see ``workbench.core.secrets.choose_backend``);
nothing here is ever picked automatically, and it is deliberately *not* a
``keyring`` backend, so keyring's own discovery can never select it.

File format (UTF-8 JSON, one object)::

    {"header": {"format": "workbench-secrets", "version": 1,
                "cipher": "AES-256-GCM",
                "kdf": {"name": "scrypt", "n": ..., "r": ..., "p": ..., "salt": b64},
                "check": b64},
     "nonce": b64, "ciphertext": b64}

* The passphrase goes through scrypt (memory-hard; OWASP's n=2**17, r=8, p=1
  costs 128 MiB per guess). HKDF splits the result into the AES key and a
  16-byte check value, so a wrong passphrase is told apart from a damaged file.
* The plaintext is ``{"secrets": {service: {user: value}}}``, padded with
  spaces to a multiple of 512 bytes so the file size says little about the
  values. The whole header is AES-GCM's associated data: altering any byte
  of the file makes decryption fail.
* Writes go to a temporary file in the same folder (mode 0600) that replaces
  the old file atomically, under an exclusive lock on ``<file>.lock``.

Not covered: an attacker who can write the file can put back an older copy
(roll back) undetected, and the passphrase is only as strong as the user makes it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from workbench.core.kdf import (
    DEFAULT_SCRYPT,
    MIN_PASSPHRASE,
    SecretsFileDamagedError,
    SecretsFileError,
)
from workbench.core.kdf import b64 as _b64
from workbench.core.kdf import check_kdf_params as _check_kdf_params
from workbench.core.kdf import derive as _derive
from workbench.core.kdf import read_regular_file, write_atomically
from workbench.core.kdf import unb64 as _unb64

FORMAT = "workbench-secrets"
VERSION = 1
CIPHER = "AES-256-GCM"
_PAD = 512


class SecretsLockedError(SecretsFileError):
    """The file needs its passphrase first."""


class WrongPassphraseError(SecretsFileError):
    pass


@contextlib.contextmanager
def _exclusive(path: Path):
    """Serialise read-modify-write between processes sharing the file."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SecretsFileError(f"{lock_path}: cannot create the lock for the encrypted secrets file "
                               f"({exc.strerror or exc})") from None
    try:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _aad(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


class EncryptedFileStore:
    """get/set/delete_password like a keyring backend, over one encrypted file.

    ``unlock`` derives the key once per process; every later call rereads the
    file, so values written by another process are seen.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._key: bytes | None = None
        self._header: dict | None = None

    # ------------------------------------------------------------ state
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def unlocked(self) -> bool:
        return self._key is not None

    def lock(self) -> None:
        self._key = self._header = None

    def unlocked_state(self) -> tuple[bytes, dict] | None:
        """The derived key and header, to hand to a worker process of ours (never stored)."""
        return None if self._key is None else (self._key, dict(self._header))

    def adopt(self, key: bytes, header: dict) -> None:
        """Take a derived key from the parent process; refused unless it opens this very file."""
        with _exclusive(self.path):
            file_header, nonce, ciphertext = self._load_envelope()
            if file_header != header:
                raise WrongPassphraseError(f"{self.path}: the key handed over is for another secrets file")
            self._decrypt(key, file_header, nonce, ciphertext)
            self._key, self._header = key, file_header

    def unlock(self, passphrase: str) -> None:
        """Open the file with *passphrase*, or create it (empty) if there is none yet."""
        if not isinstance(passphrase, str) or not passphrase:
            raise WrongPassphraseError(f"{self.path}: an empty passphrase cannot unlock the encrypted secrets file")
        with _exclusive(self.path):
            if self.path.exists():
                header, nonce, ciphertext = self._load_envelope()
                key = self._key_for(header, passphrase)
                self._decrypt(key, header, nonce, ciphertext)  # proves the body is intact too
                self._key, self._header = key, header
                return
            if len(passphrase) < MIN_PASSPHRASE:
                raise ValueError(f"the passphrase for a new encrypted secrets file needs at least {MIN_PASSPHRASE} "
                                 "characters")
            salt = os.urandom(16)
            key, check = _derive(passphrase, salt, DEFAULT_SCRYPT)
            header = {"format": FORMAT, "version": VERSION, "cipher": CIPHER,
                      "kdf": {"name": "scrypt", **DEFAULT_SCRYPT, "salt": _b64(salt)}, "check": _b64(check)}
            self._key, self._header = key, header
            try:
                self._save({})
            except BaseException:
                self.lock()  # no file, so nothing is unlocked
                raise

    def change_passphrase(self, new_passphrase: str) -> None:
        """Re-encrypt under *new_passphrase* (fresh salt); the store must be unlocked."""
        if len(new_passphrase or "") < MIN_PASSPHRASE:
            raise ValueError(f"the new passphrase needs at least {MIN_PASSPHRASE} characters")
        with _exclusive(self.path):
            data = self._read_all()
            salt = os.urandom(16)
            key, check = _derive(new_passphrase, salt, DEFAULT_SCRYPT)
            previous = self._key, self._header
            self._key = key
            self._header = {"format": FORMAT, "version": VERSION, "cipher": CIPHER,
                            "kdf": {"name": "scrypt", **DEFAULT_SCRYPT, "salt": _b64(salt)}, "check": _b64(check)}
            try:
                self._save(data)
            except BaseException:
                self._key, self._header = previous  # the file still has the old passphrase
                raise

    # ------------------------------------------------------ keyring-like API
    def get_password(self, service: str, username: str) -> str | None:
        with _exclusive(self.path):
            return self._read_all().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        if not isinstance(password, str):
            raise TypeError("a secret value must be a string")
        with _exclusive(self.path):
            data = self._read_all()
            data.setdefault(service, {})[username] = password
            self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        """Remove the entry; a missing one is not an error (the caller forgets the name either way)."""
        with _exclusive(self.path):
            data = self._read_all()
            if username in data.get(service, {}):
                del data[service][username]
                if not data[service]:
                    del data[service]
                self._save(data)

    # ------------------------------------------------------------ internals
    def _require_key(self) -> bytes:
        if self._key is None:
            raise SecretsLockedError(f"{self.path}: the encrypted secrets file is locked; give its passphrase first")
        return self._key

    def _load_envelope(self) -> tuple[dict, bytes, bytes]:
        try:
            raw = read_regular_file(self.path)
        except FileNotFoundError:
            raise SecretsFileDamagedError(
                f"{self.path}: the encrypted secrets file has disappeared; its secrets are gone "
                "(restore it from a backup, or unlock again to start a new one)") from None
        except OSError as exc:
            raise SecretsFileError(f"{self.path}: cannot read the encrypted secrets file ({exc.strerror})") from None
        try:
            envelope = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise SecretsFileDamagedError(
                f"{self.path}: the encrypted secrets file is damaged or not one (not the expected JSON)") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("header"), dict):
            raise SecretsFileDamagedError(f"{self.path}: the encrypted secrets file is damaged (no header)")
        header = envelope["header"]
        if header.get("format") != FORMAT:
            raise SecretsFileDamagedError(f"{self.path}: not a workbench encrypted secrets file")
        if header.get("version") != VERSION or header.get("cipher") != CIPHER:
            raise SecretsFileDamagedError(
                f"{self.path}: encrypted secrets file version {header.get('version')!r} "
                f"({header.get('cipher')!r}) is not one this workbench reads")
        nonce = _unb64(envelope.get("nonce"), self.path, "nonce")
        ciphertext = _unb64(envelope.get("ciphertext"), self.path, "ciphertext")
        if len(nonce) != 12 or len(ciphertext) < 16:
            raise SecretsFileDamagedError(f"{self.path}: the encrypted secrets file is damaged (truncated data)")
        return header, nonce, ciphertext

    def _key_for(self, header: dict, passphrase: str) -> bytes:
        kdf = header.get("kdf")
        params = _check_kdf_params(kdf, self.path)
        salt = _unb64(kdf.get("salt"), self.path, "salt")
        check = _unb64(header.get("check"), self.path, "check value")
        key, expected = _derive(passphrase, salt, params)
        import hmac  # with hashlib: only when the file is unlocked

        if not hmac.compare_digest(check, expected):
            raise WrongPassphraseError(
                f"{self.path}: wrong passphrase for the encrypted secrets file (or its header was altered)")
        return key

    def _decrypt(self, key: bytes, header: dict, nonce: bytes, ciphertext: bytes) -> dict:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plain = AESGCM(key).decrypt(nonce, ciphertext, _aad(header))
        except InvalidTag:
            raise SecretsFileDamagedError(
                f"{self.path}: the encrypted secrets file was altered or damaged (authentication failed); "
                "nothing was read from it. Restore it from a backup.") from None
        try:
            body = json.loads(plain.decode("utf-8"))
            secrets = body["secrets"]
            ok = isinstance(secrets, dict) and all(
                isinstance(s, dict) and all(isinstance(u, str) and isinstance(v, str) for u, v in s.items())
                for s in secrets.values())
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            ok = False
        if not ok:  # authentic but malformed: written by a buggy or foreign writer holding the key
            raise SecretsFileDamagedError(f"{self.path}: the encrypted secrets file decrypts to unexpected content")
        return secrets

    def _read_all(self) -> dict:
        key = self._require_key()
        header, nonce, ciphertext = self._load_envelope()
        if header != self._header:
            # Re-keyed (or replaced) since we unlocked: our key no longer fits; ask again.
            self.lock()
            raise SecretsLockedError(
                f"{self.path}: the encrypted secrets file's key changed since it was unlocked (re-encrypted by "
                "another process, or replaced); give its passphrase again")
        return self._decrypt(key, header, nonce, ciphertext)

    def _save(self, data: dict) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self._require_key()
        plain = json.dumps({"secrets": data}, sort_keys=True, separators=(",", ":")).encode("utf-8")
        plain += b" " * (-len(plain) % _PAD)
        nonce = os.urandom(12)  # random 96-bit nonce per write; a store sees few writes
        ciphertext = AESGCM(key).encrypt(nonce, plain, _aad(self._header))
        envelope = {"header": self._header, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        try:
            write_atomically(self.path, (json.dumps(envelope, indent=1) + "\n").encode("utf-8"))
        except OSError as exc:  # disk full, read-only folder: the previous file is still whole
            raise SecretsFileError(f"{self.path}: cannot write the encrypted secrets file ({exc.strerror or exc}); "
                                   "it was left as it was") from None
