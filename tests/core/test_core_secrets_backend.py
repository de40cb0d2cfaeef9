"""Which backend holds secrets: never one that forgets or keeps plain text, never chosen silently.

Subprocesses run without ``PYTHON_KEYRING_BACKEND``, without a D-Bus session
and with their own XDG folders: a box with no OS keyring, as issue 7 found it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.compat import properties

from wb_core_helpers import REPO_ROOT, raw_connect
from workbench.core import secrets
from workbench.core.errors import ProjectError, SecretsUnavailableError
from workbench.core.project import Project

VALUE = "sk-backend-Tq7pW2mZ9xK4vB1nR8cY3dF6gH0jL5"

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="isolates the user folders through XDG_CONFIG_HOME/XDG_DATA_HOME")


def bare_env(tmp_path, **extra) -> dict:
    """The environment of a machine with no OS keyring and no choice made yet."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", secrets.PASSPHRASE_ENV,
                        "WORKBENCH_SETTINGS_DIR")}
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_DATA_HOME=str(tmp_path / "xdg-data"),
               XDG_RUNTIME_DIR=str(runtime))
    env.update(extra)
    return env


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=REPO_ROOT)


@pytest.fixture
def bare(monkeypatch, tmp_path):
    """This process, set up like bare_env (keyring's cached backend is restored afterwards)."""
    previous = keyring.get_keyring()  # resolved under the tests' PYTHON_KEYRING_BACKEND, before it goes
    for key, value in bare_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    for key in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", secrets.PASSPHRASE_ENV,
                "WORKBENCH_SETTINGS_DIR"):
        monkeypatch.delenv(key, raising=False)
    yield tmp_path
    keyring.set_keyring(previous)
    secrets.lock()
    secrets._stores.clear()


# ------------------------------------------------------------------ automatic selection
@linux_only
def test_memory_keyring_is_never_picked_automatically(tmp_path):
    out = run_python("""
        import json
        import workbench.core.secrets as secrets
        memory = secrets.MemoryKeyring          # defined now, before keyring looks around
        import keyring, keyring.backend
        chosen = keyring.get_keyring()
        print(json.dumps({
            "chosen": type(chosen).__module__ + "." + type(chosen).__name__,
            "viable": memory.viable,
            "candidates": sorted(type(k).__name__ for k in keyring.backend.get_all_keyring()),
        }))
    """, bare_env(tmp_path))
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["chosen"] != secrets.MEMORY_KEYRING
    assert found["viable"] is False
    assert "MemoryKeyring" not in found["candidates"]


def test_memory_keyring_is_used_when_named(tmp_project):
    # conftest names it in PYTHON_KEYRING_BACKEND: the only way in.
    assert type(keyring.get_keyring()) is secrets.MemoryKeyring
    assert "in-memory test keyring" in secrets.backend_description()
    assert secrets.set_secret(tmp_project, "t", VALUE) == "the in-memory test keyring"
    assert "in-memory test keyring" in tmp_project.events()[0]["message"]


@linux_only
def test_no_os_keyring_and_no_choice_refuses_with_the_install_hint(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path).close()
    out = run_python(f"""
        from workbench.core import secrets
        from workbench.core.errors import SecretsUnavailableError
        from workbench.core.project import Project
        with Project.open({str(path)!r}) as project:
            try:
                secrets.set_secret(project, "api", {VALUE!r})
            except SecretsUnavailableError as exc:
                print("REFUSED:", exc)
            else:
                print("STORED in", secrets.backend_description())
            print("NAMES:", project.secret_names())
    """, bare_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "REFUSED: No OS keyring" in out.stdout
    assert "apt install gnome-keyring" in out.stdout
    assert secrets.CHOOSE_FILE_COMMAND in out.stdout  # the fallback is offered, not taken
    assert "plain text" in out.stdout
    assert "NAMES: []" in out.stdout
    assert not (tmp_path / "xdg-config").exists() and not (tmp_path / "xdg-data").exists()

    cli = subprocess.run([sys.executable, "-m", "workbench", "secret", "set", str(path), "api", "--stdin"],
                         input=VALUE + "\n", capture_output=True, text=True, env=bare_env(tmp_path), timeout=120,
                         cwd=REPO_ROOT)
    assert cli.returncode == 1, (cli.stdout, cli.stderr)
    assert "No OS keyring" in cli.stderr and "apt install gnome-keyring" in cli.stderr
    assert "stored" not in cli.stdout and "Traceback" not in cli.stderr
    with Project.open(path, readonly=True) as project:
        assert project.secret_names() == []


# ------------------------------------------------------------------ backends that forget or keep plain text
class _NotDiscoverable:
    """Backends built by these tests must never be viable for keyring's own discovery."""

    @properties.classproperty
    def priority(cls):
        raise RuntimeError("test backend")


class _DictBackend(_NotDiscoverable, KeyringBackend):
    def __init__(self):
        super().__init__()
        self.values = {}

    def get_password(self, service, username):
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        self.values.pop((service, username), None)


class PlaintextKeyring(_DictBackend):
    pass


class AltFileKeyring(_DictBackend):
    pass


AltFileKeyring.__module__ = "keyrings.alt.file"  # as keyrings.alt would be, were it installed


class VolatileMemoryKeyring(_DictBackend):
    pass


def _refusal(tmp_project) -> str:
    events_before = len(tmp_project.events())
    with pytest.raises(SecretsUnavailableError) as caught:
        secrets.set_secret(tmp_project, "api", VALUE)
    assert tmp_project.secret_names() == []
    assert len(tmp_project.events()) == events_before
    ok, why = secrets.available()
    assert ok is False and why == str(caught.value)
    assert secrets.backend_name() == "none"
    assert secrets.backend_description().startswith("none usable: ")
    return str(caught.value)


@pytest.mark.parametrize("make, expected", [
    (fail.Keyring, "No OS keyring"),
    (null.Keyring, "does not keep secrets after the process ends"),
    (VolatileMemoryKeyring, "does not keep secrets after the process ends"),
    (PlaintextKeyring, "plain text"),
    (AltFileKeyring, "plain text"),
])
def test_forgetful_and_plaintext_backends_are_refused(bare, tmp_project, make, expected):
    backend = make()
    keyring.set_keyring(backend)
    message = _refusal(tmp_project)
    assert expected in message
    assert "apt install gnome-keyring" in message and secrets.CHOOSE_FILE_COMMAND in message
    assert VALUE not in repr(getattr(backend, "values", {}))


def test_empty_chainer_is_refused(bare, tmp_project, monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    assert "No OS keyring" in _refusal(tmp_project)


def test_chainer_is_judged_by_the_member_it_writes_to(bare, tmp_project, monkeypatch):
    plain = PlaintextKeyring()
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [plain])
    keyring.set_keyring(chainer.ChainerBackend())
    assert "plain text" in _refusal(tmp_project)
    assert plain.values == {}


def test_memory_keyring_not_named_in_the_environment_is_refused(bare, tmp_project):
    # Selected some other way (set_keyring, a keyringrc.cfg): it would forget, so it is refused.
    keyring.set_keyring(secrets.MemoryKeyring())
    message = _refusal(tmp_project)
    assert "only in memory" in message and "for the tests only" in message


# ------------------------------------------------------------------ the persisted choice
@linux_only
def test_choice_is_persisted_in_the_user_config_folder(bare):
    keyring.set_keyring(fail.Keyring())  # what keyring finds on a box without a Secret Service
    config = bare / "xdg-config" / "ai-security-workbench" / "secrets-backend.json"
    assert secrets.chosen_backend() == "os"
    description = secrets.choose_backend("encrypted-file")
    assert json.loads(config.read_text()) == {"backend": "encrypted-file"}
    assert secrets.chosen_backend() == "encrypted-file"
    expected_file = bare / "xdg-data" / "ai-security-workbench" / "secrets.encrypted.json"
    assert secrets.encrypted_file_path() == expected_file
    assert description == f"encrypted file {expected_file} (not created yet)"
    assert secrets.backend_name() == "encrypted-file"
    assert secrets.choose_backend("os").startswith("none usable: No OS keyring")
    assert secrets.chosen_backend() == "os"
    with pytest.raises(ValueError, match="choose one of: os, encrypted-file"):
        secrets.choose_backend("plaintext")
    with pytest.raises(ValueError):
        secrets.choose_backend("os", path=bare / "x.json")
    assert json.loads(config.read_text()) == {"backend": "os"}  # refused choices changed nothing


def test_settings_dir_holds_the_choice_and_the_file(bare, monkeypatch):
    portable = bare / "portable"
    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(portable))
    secrets.choose_backend("encrypted-file")
    assert json.loads((portable / "secrets-backend.json").read_text()) == {"backend": "encrypted-file"}
    assert secrets.encrypted_file_path() == portable / "secrets.encrypted.json"
    assert not (bare / "xdg-config").exists()


@linux_only
@pytest.mark.parametrize("content", [b"{not json", b'{"backend": "plaintext"}', b"[]", b"\xff\xfe",
                                     b'{"backend": "encrypted-file", "file": 3}'])
def test_damaged_choice_is_refused_not_replaced(bare, tmp_project, content):
    config = bare / "xdg-config" / "ai-security-workbench" / "secrets-backend.json"
    config.parent.mkdir(parents=True)
    config.write_bytes(content)
    keyring.set_keyring(secrets.MemoryKeyring())  # a backend that would be there to fall back to: must not be
    with pytest.raises(SecretsUnavailableError, match="secrets-backend.json") as caught:
        secrets.set_secret(tmp_project, "api", VALUE)
    assert str(config) in str(caught.value)
    assert secrets.backend_description().startswith("none usable: ")
    assert tmp_project.secret_names() == []
    assert config.read_bytes() == content


@linux_only
def test_choice_file_that_is_a_fifo_is_refused_without_hanging(bare, tmp_project):
    config = bare / "xdg-config" / "ai-security-workbench" / "secrets-backend.json"
    config.parent.mkdir(parents=True)
    os.mkfifo(config)
    with pytest.raises(SecretsUnavailableError, match="not a regular file"):
        secrets.set_secret(tmp_project, "api", VALUE)


# ------------------------------------------------------------------ the project side of a write
def test_read_only_project_stores_nothing(tmp_path):
    path = tmp_path / "ro.wbproj"
    Project.create(path).close()
    with Project.open(path, readonly=True) as project:
        with pytest.raises(ProjectError, match="read-only"):
            secrets.set_secret(project, "api", VALUE)
        assert keyring.get_keyring().get_password(secrets.SERVICE, f"{project.project_id}/api") is None
        with pytest.raises(ProjectError, match="read-only"):
            secrets.delete_secret(project, "api")


def test_value_is_rolled_back_when_the_project_cannot_record_the_name(tmp_path):
    path = tmp_path / "refuses.wbproj"
    with Project.create(path) as project:
        secrets.set_secret(project, "kept", "old-value")
        users = {n: f"{project.project_id}/{n}" for n in ("kept", "new")}
    conn = raw_connect(path)  # a real write failure at the moment the name is recorded
    conn.execute("CREATE TRIGGER refuse_names BEFORE INSERT ON secret_names "
                 "BEGIN SELECT RAISE(ABORT, 'no more names'); END")
    conn.commit()
    conn.close()
    backend = keyring.get_keyring()
    with Project.open(path) as project:
        for name in ("new", "kept"):
            with pytest.raises(sqlite3.DatabaseError, match="no more names"):
                secrets.set_secret(project, name, VALUE)
        assert project.secret_names() == ["kept"]
    assert backend.get_password(secrets.SERVICE, users["new"]) is None  # removed again
    assert backend.get_password(secrets.SERVICE, users["kept"]) == "old-value"  # restored


def _probe_backend(env_changes: dict) -> tuple[str, bool]:
    """In a fresh interpreter: what the OS backend check says, and whether keyring was imported."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
    env.update(env_changes)
    code = ("import sys\nfrom workbench.core import secrets\n"
            "try:\n    secrets._os_backend(); out = 'ok'\n"
            "except secrets.SecretsUnavailableError as exc:\n    out = str(exc)\n"
            "print(out[:60]); print('keyring' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    message, imported = proc.stdout.strip().splitlines()
    return message, imported == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the shortcut is for Linux")
def test_no_session_bus_answers_without_importing_keyring(tmp_path):
    """With no D-Bus session bus and only keyring's own backends, none can work: the answer is the
    same as keyring's detection gives, without its 0.1 s of imports. With a bus, keyring decides."""
    home = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    message, imported = _probe_backend(home)
    assert message.startswith("No OS keyring is available") and not imported
    bus = dict(home, DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path / 'no-such-bus'}")
    message, imported = _probe_backend(bus)
    assert imported and message.startswith("No OS keyring is available")  # keyring's own detection said so
    config = tmp_path / "config" / "python_keyring"
    config.mkdir(parents=True)
    (config / "keyringrc.cfg").write_text("[backend]\ndefault-keyring=keyring.backends.fail.Keyring\n")
    message, imported = _probe_backend(home)
    assert imported  # a keyring configuration is keyring's to read
