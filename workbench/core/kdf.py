"""Passphrase-sealed small files, shared by the encrypted secrets file and project key files.

scrypt stretches the passphrase and HKDF splits it into an AES key and a check value
(:func:`derive`, with bounds on what a file may ask for in :func:`check_kdf_params`); fields
are canonical base64; files are read with a size limit and replaced atomically. A leaf module:
:mod:`workbench.core.secret_file_backend` and :mod:`workbench.core.project_crypto` both build
on it, and neither imports the other for it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import stat
import tempfile
from pathlib import Path

from workbench.core.errors import SecretsUnavailableError
from workbench.core.files import fsync_folder

# OWASP's scrypt recommendation (2023): 128 MiB, about 0.3 s on a laptop core.
DEFAULT_SCRYPT = {"n": 2**17, "r": 8, "p": 1}
MIN_PASSPHRASE = 8
# A secrets file is small; anything bigger is not ours (and must not cost memory).
MAX_FILE_BYTES = 8 * 1024 * 1024


class SecretsFileError(SecretsUnavailableError):
    """The encrypted secrets file cannot be used; the message names the file."""


class SecretsFileDamagedError(SecretsFileError):
    pass


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text, path: Path, what: str) -> bytes:
    if not isinstance(text, str):
        raise SecretsFileDamagedError(f"{path}: the encrypted secrets file is damaged ({what} is not text)")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        data = None
    # Only the canonical spelling: otherwise unused trailing bits could change without changing the data.
    if data is None or b64(data) != text:
        raise SecretsFileDamagedError(f"{path}: the encrypted secrets file is damaged ({what} is not base64)")
    return data


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of *path*, refusing anything that is not a regular file or is too big.

    O_NONBLOCK so that a FIFO put in the file's place cannot hang us before fstat says what it is.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretsFileError(f"{path}: not a regular file; refusing to read it")
        if st.st_size > limit:
            raise SecretsFileError(f"{path}: {st.st_size} bytes, more than the {limit} a secrets file may have")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:  # grew while we read
                raise SecretsFileError(f"{path}: more than the {limit} bytes a secrets file may have")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace *path* by *data* all at once: readers see the old file or the new one, never half."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)  # mkstemp already does; say it so a changed default cannot widen it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(folder)


def check_kdf_params(kdf, path: Path) -> dict:
    """Bounds on what the file may ask for: a tampered header must not cost gigabytes or hours."""
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise SecretsFileDamagedError(
            f"{path}: the encrypted secrets file is damaged or altered (unknown key derivation)")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    if not all(type(v) is int for v in (n, r, p)):
        raise SecretsFileDamagedError(f"{path}: the encrypted secrets file is damaged (scrypt parameters)")
    if not (2**14 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4 and 128 * n * r <= 2**28):
        raise SecretsFileDamagedError(
            f"{path}: the encrypted secrets file asks for scrypt n={n}, r={r}, p={p}, outside the accepted range "
            "(it was altered, or written by something else)")
    return {"n": n, "r": r, "p": p}


def derive(passphrase: str, salt: bytes, params: dict, label: bytes = b"workbench-secrets v1") -> tuple[bytes, bytes]:
    try:  # every use of the file starts here, so this is where a missing package is reported
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    except ImportError as exc:
        raise SecretsFileError(f"the encrypted secrets file needs the `cryptography` package ({exc}); "
                               "install it with `pip install cryptography`") from None

    import unicodedata  # only when a passphrase is used

    # NFC: the same passphrase typed on another system (other Unicode composition) must still open the file.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    master = Scrypt(salt=salt, length=32, **params).derive(secret)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label + b" key").derive(master)
    check = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=label + b" check").derive(master)
    return key, check
