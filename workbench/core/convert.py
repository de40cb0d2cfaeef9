"""Encrypting a plain project file in place, and writing a plain copy of an encrypted one.

Both hold the project's write lock, copy the whole database with SQLCipher's
``sqlcipher_export`` into a temporary file beside the target, check that the
copy describes the same state (:meth:`Project.state_sha256`) before anything
replaces anything, and then rename it into place. The key of a newly encrypted
file is in the secrets backend before the plain file is replaced, so no step
can leave a file nobody can open.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from workbench.core import project_crypto as crypto
from workbench.core.database import APPLICATION_ID, _file_identity, validate
from workbench.core.errors import ProjectError, StorageFullError, is_no_room
from workbench.core.files import fsync_folder
from workbench.core.lock import ProjectLock


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _wrap(path: Path, conn):
    from workbench.core.project import Project

    return Project(path, conn, readonly=False, lock=None)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _clean_up(tmp: Path) -> None:
    """Best effort after a failure: the error being raised is the one to report."""
    for name in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        with contextlib.suppress(OSError):
            os.unlink(name)


@contextlib.contextmanager
def _writing_copy(target: Path, what: str):
    """Errors while the copy is written are about the copy's folder, never "the project is damaged".
    *target* is the file the user named (never the temporary copy, which is removed)."""
    try:
        yield
    except (*crypto.ERROR, OSError) as exc:
        if "full" in str(exc).lower() or is_no_room(exc):
            raise StorageFullError(target, f"the disk is full ({exc}); {what}") from exc
        raise ProjectError(target, f"cannot write the converted copy in {target.parent} ({exc}); {what}") from exc


def _checkpoint(path: Path, conn) -> None:
    """Merge the WAL into the file, and be sure it happened: the WAL is about to be left behind."""
    busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy or (log != -1 and log != done):
        raise ProjectError(path, "another process is still reading it (its write-ahead log could not be merged); "
                                 "close the other workbench and try again")


def _adopt_first(path: Path) -> None:
    """Open the project once the normal way: a copied file gets its own project id first (its secrets
    are named by it), and migrations are applied, before the file is converted."""
    from workbench.core.project import Project

    if os.access(path, os.W_OK):
        Project.open(path).close()


def _finish_copy(tmp: Path, key: str | None, source_state: str, event: str, data: dict) -> None:
    """Check the copy at *tmp*, give it its own file identity (so that opening it later does not take it
    for a copy and give it a new project id), and log the conversion in its audit log."""
    conn = crypto.connect(str(tmp), key, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        project = _wrap(tmp, conn)
        check = conn.execute("PRAGMA integrity_check").fetchall()
        if [tuple(r) for r in check] != [("ok",)]:
            raise ProjectError(tmp, f"the converted copy fails SQLite's integrity check ({check[0][0]})")
        if project.state_sha256() != source_state:
            raise ProjectError(tmp, "the converted copy does not hold the same state as the original; "
                                    "nothing was replaced")
        with project.transaction():
            project.set_meta("file_identity", _file_identity(tmp), _tx=False)
        project.log_event("file", event, data=data)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    _fsync(tmp)


def encrypt_project(path: str | os.PathLike) -> str:
    """Encrypt the plain project at *path* in place; returns the new key id (the key is in the secrets backend).

    The plain file's blocks may stay on the disk until they are overwritten: a project that must never
    exist in plain text is created encrypted (``workbench new --encrypted``).
    """
    path = validate(path)
    crypto.cipher_module()
    _adopt_first(path)
    tmp = path.with_name(f".{path.name}.encrypting")
    doing = "the plain file is unchanged"
    lock = ProjectLock.acquire(path)
    key_id = None
    try:
        if crypto.is_encrypted_file(validate(path)):  # checked again under the lock: another process may have won
            raise ProjectError(path, f"is already encrypted (key id {crypto.key_id_of(path)})")
        with _writing_copy(path, doing):
            _remove(tmp)
        # The SQLCipher driver reads a plain file when no key is given.
        source = crypto.cipher_module().connect(str(path), isolation_level=None)
        source.row_factory = crypto.cipher_module().Row
        try:
            source.execute("PRAGMA busy_timeout = 15000")
            _checkpoint(path, source)
            state = _wrap(path, source).state_sha256()
            key_id, key = crypto.new_key_id(), crypto.new_key()
            crypto.store_key(key_id, key)
            with _writing_copy(path, doing):
                crypto.export_database(source, tmp, key=key, salt=crypto.salt_of(key_id),
                                       application_id=APPLICATION_ID)
        finally:
            source.close()
        with _writing_copy(path, doing):
            _finish_copy(tmp, key, state, f"project file encrypted with SQLCipher (key id {key_id})",
                         {"key_id": key_id, "cipher": "SQLCipher 4 (AES-256, HMAC-SHA512)"})
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
            # No plain WAL or shared memory may stay beside the encrypted file: SQLite would read them.
            # (The checkpoint above merged the WAL, so nothing is lost with it.)
            for sidecar in ("-wal", "-shm"):
                _remove(path.with_name(path.name + sidecar))
            os.replace(tmp, path)
        fsync_folder(path.parent)
        return key_id
    except BaseException:
        _clean_up(tmp)
        if key_id is not None and not crypto.is_encrypted_file(path):
            with contextlib.suppress(Exception):  # the key was made for this call only; the original error counts
                crypto.forget_key(key_id, from_backend=True)
        raise
    finally:
        lock.release()


def decrypt_project(path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write a plain copy of the encrypted project at *path* to *out* (which must not exist), readable by
    its owner only (mode 0600).

    The copy keeps the project id and state: it is the same project, readable without a key.
    """
    from workbench.core.files import check_writable_target

    path = validate(path)
    out = Path(out)
    if not crypto.is_encrypted_file(path):
        raise ProjectError(path, "is not encrypted; copy it as it is")
    if out.exists():
        raise ProjectError(out, "already exists; choose another name for the plain copy")
    check_writable_target(out)
    _adopt_first(path)
    key_id = crypto.key_id_of(path)
    key = crypto.key_for(path)
    tmp = out.with_name(f".{out.name}.decrypting")
    doing = "nothing was written"
    lock = ProjectLock.acquire(path)
    try:
        with _writing_copy(out, doing):
            _remove(tmp)
        source = crypto.connect(str(path), key, isolation_level=None)
        try:
            source.execute("PRAGMA busy_timeout = 15000")
            _checkpoint(path, source)
            state = _wrap(path, source).state_sha256()
            with _writing_copy(out, doing):
                crypto.export_database(source, tmp, key=None, salt=None, application_id=APPLICATION_ID)
        finally:
            source.close()
        with _writing_copy(out, doing):
            os.chmod(tmp, 0o600)
            _finish_copy(tmp, None, state, f"plain copy written from the encrypted {path.name}",
                         {"key_id": key_id, "from": str(path)})
            os.replace(tmp, out)
        fsync_folder(out.parent)
        return out
    except BaseException:
        _clean_up(tmp)
        raise
    finally:
        lock.release()
