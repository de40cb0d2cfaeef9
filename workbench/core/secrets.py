"""The only code that touches ``keyring`` (and the encrypted secrets file).

Secrets are stored per project under service ``ai-security-workbench`` and
user ``<project-id>/<name>``. Only the *names* go into the project file (so
the Credentials dialog can list them); values never touch the project file,
a log, an export or a report.

Where values go is the user's explicit choice, persisted in the user config
folder (``secrets-backend.json``; in ``WORKBENCH_SETTINGS_DIR`` when that is set):

* ``os`` (the default): the OS keyring that ``keyring`` finds. A backend that
  forgets (``fail``, ``null``, an empty chainer, anything in-memory) or keeps
  plain text (``keyrings.alt``) is refused with what to install.
* ``encrypted-file``: :mod:`workbench.core.secret_file_backend`, a file
  encrypted under a passphrase that comes from ``WORKBENCH_KEYRING_PASSPHRASE``
  or a prompt (:func:`unlock`) and is never stored.

``PYTHON_KEYRING_BACKEND``, when set, is an explicit choice too and wins (the
tests use it to select :class:`MemoryKeyring`, which exists only when named).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from pathlib import Path

from workbench.core.errors import ProjectError, SecretsUnavailableError
from workbench.core.kdf import SecretsFileDamagedError, SecretsFileError, read_regular_file, write_atomically
from workbench.core.secret_file_backend import EncryptedFileStore, SecretsLockedError, WrongPassphraseError

__all__ = [
    "BACKENDS", "CHOOSE_FILE_COMMAND", "PASSPHRASE_ENV", "SERVICE", "SecretsFileDamagedError", "SecretsFileError",
    "SecretsLockedError", "WrongPassphraseError", "available", "backend_description", "backend_name",
    "change_passphrase", "choose_backend", "chosen_backend", "config_path", "delete_secret", "encrypted_file_path",
    "get_secret", "is_new_store", "list_secrets", "lock", "needs_passphrase", "prompt_unlock", "set_secret", "unlock",
]

SERVICE = "ai-security-workbench"
APP_DIR = "ai-security-workbench"
PASSPHRASE_ENV = "WORKBENCH_KEYRING_PASSPHRASE"
BACKENDS = ("os", "encrypted-file")
# The command the messages point to; the CLI must accept exactly this.
CHOOSE_FILE_COMMAND = "workbench secret backend encrypted-file"
MEMORY_KEYRING = f"{__name__}.MemoryKeyring"

INSTALL_HINT = {
    "linux": "Install and unlock a Secret Service keyring (GNOME Keyring: `apt install gnome-keyring`, "
             "or KWallet), make sure a D-Bus session is running, then try again.",
    "darwin": "The macOS Keychain should be available; check that the login keychain is unlocked.",
    "win32": "Windows Credential Manager should be available; check that `pywin32-ctypes` is installed.",
}
FILE_HINT = f" Or keep secrets in a passphrase-protected encrypted file instead: `{CHOOSE_FILE_COMMAND}`."


def _hint() -> str:
    return INSTALL_HINT.get(sys.platform, INSTALL_HINT["linux"]) + FILE_HINT


# ------------------------------------------------------------ the user's choice
def _settings_dir() -> Path | None:
    # The GUI's WORKBENCH_SETTINGS_DIR (tests, portable installs) holds the choice and the file too.
    folder = os.environ.get("WORKBENCH_SETTINGS_DIR")
    return Path(folder) if folder else None


def config_path() -> Path:
    import platformdirs

    folder = _settings_dir() or platformdirs.user_config_path(APP_DIR, appauthor=False)
    return folder / "secrets-backend.json"


def _default_file() -> Path:
    import platformdirs

    folder = _settings_dir() or platformdirs.user_data_path(APP_DIR, appauthor=False)
    return folder / "secrets.encrypted.json"


def _read_choice() -> dict:
    path = config_path()
    try:
        raw = read_regular_file(path, limit=64 * 1024)
    except FileNotFoundError:
        return {"backend": "os"}
    except (OSError, SecretsFileError) as exc:
        raise SecretsUnavailableError(f"{path}: cannot read the secrets backend choice ({exc}); fix or delete "
                                      "that file, then choose a backend again") from None
    try:
        choice = json.loads(raw.decode("utf-8"))
        ok = isinstance(choice, dict) and choice.get("backend") in BACKENDS and \
            isinstance(choice.get("file", ""), str)
    except (UnicodeDecodeError, ValueError):
        ok = False
    if not ok:
        # Never fall back to some other backend: the user chose one and we cannot tell which.
        raise SecretsUnavailableError(
            f"{path}: the secrets backend choice is damaged; delete it or choose again "
            f"(`workbench secret backend os` or `{CHOOSE_FILE_COMMAND}`)")
    return choice


def _env_override() -> str | None:
    return os.environ.get("PYTHON_KEYRING_BACKEND") or None


def chosen_backend() -> str:
    """``"os"`` or ``"encrypted-file"``: what the user chose (``os`` when never asked)."""
    return "os" if _env_override() else _read_choice()["backend"]


def encrypted_file_path() -> Path:
    """Where the encrypted-file backend keeps (or would keep) its file."""
    file = _read_choice().get("file")
    return Path(file) if file else _default_file()


def choose_backend(name: str, path: str | os.PathLike | None = None) -> str:
    """Persist the user's choice of backend; returns :func:`backend_description` afterwards.

    Values are not moved between backends: names stored in the other one are
    then listed as missing until set again.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown secrets backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    if path is not None and name != "encrypted-file":
        raise ValueError("a file path only goes with the encrypted-file backend")
    choice = {"backend": name}
    if path is not None:
        choice["file"] = str(Path(path).expanduser().resolve())
    path = config_path()
    try:
        write_atomically(path, (json.dumps(choice, indent=1) + "\n").encode("utf-8"))
    except OSError as exc:
        raise SecretsUnavailableError(f"{path}: cannot save the secrets backend choice ({exc.strerror or exc})") \
            from None
    lock()
    return backend_description()


# ------------------------------------------------------------ the OS keyring
def _dotted(backend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


#: keyring's own backends; each Linux one talks to a Secret Service or KWallet over the D-Bus session bus
_KEYRING_OWN = "keyring.backends."


def _no_keyring_can_work() -> bool:
    """True when keyring's detection could only end in its "fail" backend, known without it.

    keyring's detection imports every installed backend (its macOS one included) on each process:
    about 0.1 s, on every command that touches a secret or the audit log's anchor. On Linux with no
    D-Bus session bus, none of keyring's own backends can work, so when no other backend is
    installed and no keyring configuration names one, the answer is known without asking."""
    if not sys.platform.startswith("linux") or os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    if "keyring" in sys.modules:  # loaded already: a backend may have been set in code (keyring.set_keyring)
        return False
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return False
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "python_keyring" / "keyringrc.cfg"
    if config.exists():
        return False
    return _only_keyrings_own_backends()


@functools.lru_cache(maxsize=1)
def _only_keyrings_own_backends() -> bool:
    """No third-party keyring backend is installed (read once: each secret lookup asks)."""
    from importlib.metadata import entry_points

    return all(ep.value.startswith(_KEYRING_OWN) for ep in entry_points(group="keyring.backends"))


def _no_keyring() -> SecretsUnavailableError:
    return SecretsUnavailableError("No OS keyring is available, so secrets cannot be stored. " + _hint()
                                   + " (Secrets are never stored in plain text.)")


def _os_backend():
    """keyring's backend, or SecretsUnavailableError when it would forget or keep plain text."""
    if not _env_override() and _no_keyring_can_work():
        raise _no_keyring()
    import keyring
    from keyring.backends import chainer, fail, null

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # e.g. PYTHON_KEYRING_BACKEND names a module that is not there
        raise SecretsUnavailableError(
            f"The keyring backend could not be loaded ({type(exc).__name__}: {exc}). " + _hint()) from exc
    if isinstance(backend, chainer.ChainerBackend):
        members = list(backend.backends)
        if not members:
            backend = fail.Keyring()
        else:
            backend = members[0]  # the chainer writes to its first member: that is the one to judge
    name = _dotted(backend)
    if isinstance(backend, fail.Keyring):
        raise _no_keyring()
    if name == MEMORY_KEYRING:
        if _env_override() == MEMORY_KEYRING:
            return backend  # the tests' explicit choice
        raise SecretsUnavailableError(
            f"The keyring backend {name} keeps secrets only in memory (they are gone when the process ends), "
            "so nothing would be stored. It is for the tests only. " + _hint())
    if isinstance(backend, null.Keyring) or "memory" in name.lower():
        raise SecretsUnavailableError(
            f"The keyring backend {name} does not keep secrets after the process ends, "
            "so nothing would be stored. " + _hint())
    if "plaintext" in name.lower() or name.startswith("keyrings.alt."):
        raise SecretsUnavailableError(
            f"The keyring backend {name} stores secrets in plain text (or without a real key), which the workbench "
            "refuses. " + _hint())
    return backend


# ------------------------------------------------------------ the encrypted file
_stores: dict[Path, EncryptedFileStore] = {}


def _file_store() -> EncryptedFileStore:
    path = encrypted_file_path()
    key = path.expanduser().absolute()
    if key not in _stores:
        _stores[key] = EncryptedFileStore(key)
    return _stores[key]


#: set in a worker process: returns the parent's unlocked state when the user has since unlocked
#: the file in the window (Settings → Credentials → Unlock), else None
_parent_unlock = None


def unlocked_state_for_worker() -> dict | None:
    """What a worker needs to use the encrypted file unlocked here: path, derived key, header.

    Handed over the worker's pipe (as an encrypted project's key is), never through the
    environment or a file; None when the file backend is not chosen or not unlocked.
    """
    if chosen_backend() != "encrypted-file":
        return None
    store = _file_store()
    state = store.unlocked_state()
    return None if state is None else {"path": str(store.path), "key": state[0], "header": state[1]}


def adopt_unlocked_state(state: dict | None) -> bool:
    """In a worker: take the parent's unlocked state (see :func:`unlocked_state_for_worker`)."""
    if not state:
        return False
    path = Path(state["path"]).expanduser().absolute()
    store = _stores.setdefault(path, EncryptedFileStore(path))
    if not store.unlocked:
        store.adopt(state["key"], state["header"])
    return True


def set_parent_unlock(source) -> None:
    """In a worker: *source()* returns the parent's unlocked state once the user unlocks, else None."""
    global _parent_unlock
    _parent_unlock = source


def _unlocked_store() -> EncryptedFileStore:
    store = _file_store()
    if not store.unlocked and _parent_unlock is not None:
        with contextlib.suppress(SecretsFileError):  # a stale hand-over: the lock message below
            adopt_unlocked_state(_parent_unlock())
    if not store.unlocked:
        passphrase = os.environ.get(PASSPHRASE_ENV)
        if not passphrase:
            state = "has not been created yet" if not store.exists() else "is locked"
            raise SecretsLockedError(
                f"{store.path}: the encrypted secrets file {state}: set {PASSPHRASE_ENV}, "
                "or run the command in a terminal (or open Credentials) to type its passphrase.")
        store.unlock(passphrase)
    return store


def needs_passphrase() -> bool:
    """True when the chosen backend is the encrypted file, locked, with no passphrase in the environment.

    The CLI and the Credentials dialog then ask for it (:func:`prompt_unlock`) before anything else.
    """
    if chosen_backend() != "encrypted-file":
        return False
    return not _file_store().unlocked and not os.environ.get(PASSPHRASE_ENV)


def is_new_store() -> bool:
    """True when the encrypted file is chosen and does not exist yet (ask for the new passphrase twice)."""
    return chosen_backend() == "encrypted-file" and not _file_store().exists()


def unlock(passphrase: str) -> None:
    """Unlock the encrypted file (creating it, empty, the first time).

    Raises WrongPassphraseError, SecretsFileDamagedError (altered or truncated
    file), or ValueError (a new passphrase shorter than 8 characters). The
    passphrase is kept only as the derived key, in this process's memory.
    """
    if chosen_backend() != "encrypted-file":
        raise SecretsUnavailableError(f"the secrets backend in use ({backend_description()}) takes no passphrase")
    _file_store().unlock(passphrase)


def change_passphrase(new_passphrase: str) -> None:
    """Re-encrypt the (unlocked) encrypted file under a new passphrase (at least 8 characters)."""
    if chosen_backend() != "encrypted-file":
        raise SecretsUnavailableError(f"the secrets backend in use ({backend_description()}) takes no passphrase")
    _unlocked_store().change_passphrase(new_passphrase)


def lock() -> None:
    """Forget every derived key held by this process."""
    for store in _stores.values():
        store.lock()


def prompt_unlock(ask) -> bool:
    """Ask for the passphrase with ``ask(prompt) -> str | None`` and unlock.

    A new file asks twice and refuses two different answers. Returns False
    when the user gives nothing (cancelled); raises what :func:`unlock` raises.
    """
    store = _file_store()
    if store.exists():
        passphrase = ask(f"Passphrase for the encrypted secrets file {store.path}: ")
        if not passphrase:
            return False
    else:
        passphrase = ask(f"New passphrase for the encrypted secrets file {store.path} (at least 8 characters): ")
        if not passphrase:
            return False
        if ask("Type the same passphrase again: ") != passphrase:
            raise ValueError("the two passphrases differ; the encrypted secrets file was not created")
    unlock(passphrase)
    return True


# ------------------------------------------------------------ which one, in words
def _backend():
    if chosen_backend() == "encrypted-file":
        return _unlocked_store()
    return _os_backend()


def backend_name() -> str:
    """A short identifier: the keyring class's dotted name, ``encrypted-file``, or ``none``."""
    try:
        if chosen_backend() == "encrypted-file":
            return "encrypted-file"
        return _dotted(_os_backend())
    except SecretsUnavailableError:
        return "none"


def _where(backend) -> str:
    """Where set_secret says a value went, for the user and the audit log."""
    if isinstance(backend, EncryptedFileStore):
        return "the encrypted secrets file"
    if _dotted(backend) == MEMORY_KEYRING:
        return "the in-memory test keyring"
    return "the OS keyring"


def backend_description() -> str:
    """One line for people: which backend, and whether it can be used now. Never raises."""
    try:
        if chosen_backend() == "encrypted-file":
            store = _file_store()
            state = ("unlocked" if store.unlocked else "locked") if store.exists() else "not created yet"
            return f"encrypted file {store.path} ({state})"
        backend = _os_backend()
    except SecretsUnavailableError as exc:
        return f"none usable: {exc}"
    name = _dotted(backend)
    if not _env_override():
        return f"the OS keyring ({name})"
    try:
        overridden = _read_choice()["backend"] == "encrypted-file"
    except SecretsUnavailableError:
        overridden = False
    note = "; it overrides the encrypted file you chose: unset it to use the file" if overridden else ""
    if name == MEMORY_KEYRING:
        return f"in-memory test keyring {name}, named by PYTHON_KEYRING_BACKEND{note} " \
               "(values are lost when the process ends)"
    return f"the OS keyring ({name}, named by PYTHON_KEYRING_BACKEND{note})"


def available() -> tuple[bool, str]:
    """(True, backend_name()) when a secret can be stored right now; else (False, why and what to do)."""
    try:
        _backend()
        return True, backend_name()
    except SecretsUnavailableError as exc:
        return False, str(exc)


# ------------------------------------------------------------ per-project secrets
def _user(project, name: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or name.strip() != name:
        raise ValueError("a secret name must be non-empty, without '/' or surrounding spaces")
    return f"{project.project_id}/{name}"


def _writable(project) -> None:
    if getattr(project, "readonly", False):
        raise ProjectError(project.path, "opened read-only, so a secret can be neither stored nor deleted "
                                         "(its name could not be recorded)")


def set_secret(project, name: str, value: str) -> str:
    """Store *value*; returns where it went (e.g. "the OS keyring")."""
    user = _user(project, name)
    _writable(project)
    backend = _backend()
    previous = backend.get_password(SERVICE, user)
    backend.set_password(SERVICE, user, value)
    where = _where(backend)
    try:
        project._remember_secret_name(name, True)
        project.log_event("secret", f"secret '{name}' stored in {where}")
    except BaseException:
        # The project did not record it: put the backend back as it was, so nothing half-done stays.
        with contextlib.suppress(Exception):  # the original error is the one to report
            if previous is None:
                _delete_quietly(backend, user)
            else:
                backend.set_password(SERVICE, user, previous)
        raise
    return where


def _delete_quietly(backend, user: str) -> None:
    import keyring.errors

    try:
        backend.delete_password(SERVICE, user)
    except keyring.errors.PasswordDeleteError:
        pass  # already gone


def get_secret(project, name: str) -> str | None:
    return _backend().get_password(SERVICE, _user(project, name))


def delete_secret(project, name: str) -> None:
    user = _user(project, name)
    _writable(project)
    backend = _backend()
    _delete_quietly(backend, user)  # already gone from the backend: forget the name anyway
    project._remember_secret_name(name, False)
    project.log_event("secret", f"secret '{name}' deleted from {_where(backend)}")


def list_secrets(project) -> list[tuple[str, bool]]:
    """(name, present in the backend) for each name this project knows."""
    backend = _backend()
    return [(n, backend.get_password(SERVICE, _user(project, n)) is not None) for n in project.secret_names()]


# ------------------------------------------------------------ the tests' backend
_memory_class = None


def _memory_keyring_class():
    """Define MemoryKeyring on first request only.

    Defining a KeyringBackend subclass registers it with keyring's automatic
    discovery, so it must not happen at import; and even once defined, its
    priority raises (making it not viable) unless PYTHON_KEYRING_BACKEND names it.
    """
    global _memory_class
    if _memory_class is None:
        from keyring.backend import KeyringBackend
        from keyring.compat import properties

        class MemoryKeyring(KeyringBackend):
            """In-memory backend for tests: ``PYTHON_KEYRING_BACKEND=workbench.core.secrets.MemoryKeyring``.

            Nothing is written anywhere; values are gone when the process ends.
            """

            _store: dict = {}

            @properties.classproperty
            def priority(cls) -> float:
                if os.environ.get("PYTHON_KEYRING_BACKEND") != MEMORY_KEYRING:
                    raise RuntimeError("the workbench's in-memory keyring is for tests; name it in "
                                       "PYTHON_KEYRING_BACKEND to use it")
                return 1

            def get_password(self, service, username):
                return self._store.get((service, username))

            def set_password(self, service, username, password):
                self._store[(service, username)] = password

            def delete_password(self, service, username):
                import keyring.errors

                try:
                    del self._store[(service, username)]
                except KeyError:
                    raise keyring.errors.PasswordDeleteError(username) from None

        MemoryKeyring.__module__ = __name__
        MemoryKeyring.__qualname__ = "MemoryKeyring"
        _memory_class = MemoryKeyring
    return _memory_class


def __getattr__(name: str):
    # keyring resolves "workbench.core.secrets.MemoryKeyring" with getattr, which lands here.
    if name == "MemoryKeyring":
        return _memory_keyring_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- the user's own secrets
def get_user_secret(name: str) -> str | None:
    """A secret of the user rather than of a project (the report-signing key), from the same backend."""
    return _backend().get_password(SERVICE, f"user/{name}")


def set_user_secret(name: str, value: str) -> None:
    _backend().set_password(SERVICE, f"user/{name}", value)


def delete_user_secret(name: str) -> None:
    _delete_quietly(_backend(), f"user/{name}")
