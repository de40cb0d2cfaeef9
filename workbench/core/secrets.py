"""The only code that touches ``keyring``.

Secrets are stored per project under service ``ai-security-workbench`` and
user ``<project-id>/<name>``. Only the *names* go into the project file (so
the Credentials dialog can list them); values never touch the project file,
a log, an export or a report. With no usable OS backend we refuse, and say
what to install: we never fall back to plain text.
"""

from __future__ import annotations

import sys

from workbench.core.errors import SecretsUnavailableError

SERVICE = "ai-security-workbench"

INSTALL_HINT = {
    "linux": "Install and unlock a Secret Service keyring (GNOME Keyring: `apt install gnome-keyring`, "
             "or KWallet), make sure a D-Bus session is running, then try again.",
    "darwin": "The macOS Keychain should be available; check that the login keychain is unlocked.",
    "win32": "Windows Credential Manager should be available; check that `pywin32-ctypes` is installed.",
}


def _backend():
    import keyring
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # e.g. PYTHON_KEYRING_BACKEND names a module that is not there
        raise SecretsUnavailableError(
            f"The keyring backend could not be loaded ({type(exc).__name__}: {exc}). "
            + INSTALL_HINT.get(sys.platform, INSTALL_HINT["linux"])) from exc
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    chain = getattr(backend, "backends", None)
    if isinstance(backend, fail.Keyring) or (chain is not None and not chain):
        raise SecretsUnavailableError(
            "No OS keyring is available, so secrets cannot be stored. "
            + INSTALL_HINT.get(sys.platform, INSTALL_HINT["linux"])
            + " (Secrets are never stored in plain text.)"
        )
    if "plaintext" in name.lower() or name.startswith("keyrings.alt.file"):
        raise SecretsUnavailableError(
            f"The keyring backend {name} stores secrets in plain text, which the workbench refuses. "
            + INSTALL_HINT.get(sys.platform, INSTALL_HINT["linux"])
        )
    return backend


def backend_name() -> str:
    try:
        b = _backend()
    except SecretsUnavailableError:
        return "none"
    return f"{type(b).__module__}.{type(b).__name__}"


def available() -> tuple[bool, str]:
    try:
        _backend()
        return True, backend_name()
    except SecretsUnavailableError as exc:
        return False, str(exc)


def _user(project, name: str) -> str:
    if not name or "/" in name or name.strip() != name:
        raise ValueError("a secret name must be non-empty, without '/' or surrounding spaces")
    return f"{project.project_id}/{name}"


def set_secret(project, name: str, value: str) -> None:
    backend = _backend()
    backend.set_password(SERVICE, _user(project, name), value)
    project._remember_secret_name(name, True)
    project.log_event("secret", f"secret '{name}' stored in the OS keyring")


def get_secret(project, name: str) -> str | None:
    return _backend().get_password(SERVICE, _user(project, name))


def delete_secret(project, name: str) -> None:
    import keyring.errors

    backend = _backend()
    try:
        backend.delete_password(SERVICE, _user(project, name))
    except keyring.errors.PasswordDeleteError:
        pass  # already gone from the keyring; forget the name anyway
    project._remember_secret_name(name, False)
    project.log_event("secret", f"secret '{name}' deleted from the OS keyring")


def list_secrets(project) -> list[tuple[str, bool]]:
    """(name, present in keyring) for each name this project knows."""
    backend = _backend()
    return [(n, backend.get_password(SERVICE, _user(project, n)) is not None) for n in project.secret_names()]


try:
    from keyring.backend import KeyringBackend as _KeyringBackend
except ImportError:  # pragma: no cover - keyring is a dependency
    _KeyringBackend = object  # type: ignore[misc,assignment]


class MemoryKeyring(_KeyringBackend):  # type: ignore[misc,valid-type]
    """In-memory backend for tests: ``PYTHON_KEYRING_BACKEND=workbench.core.secrets.MemoryKeyring``.

    Nothing is written anywhere; values are gone when the process ends.
    """

    priority = 1  # type: ignore[assignment]
    _store: dict = {}

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
