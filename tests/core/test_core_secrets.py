"""Secrets live in the OS keyring only: never in the project file, never in plain text."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from wb_core_helpers import run_cli
from workbench.core import secrets
from workbench.core.errors import SecretsUnavailableError
from workbench.core.project import Project

VALUE = "sk-test-Zq8vR3nP1xL0wE5tY7uI2oA9sD4fG6hJ"


def _project_bytes(path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm", ".lock"):
        p = path.with_name(path.name + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


def test_memory_backend_is_in_use():
    assert secrets.backend_name() == "workbench.core.secrets.MemoryKeyring"
    ok, name = secrets.available()
    assert ok and name == "workbench.core.secrets.MemoryKeyring"


def test_set_get_list_delete(tmp_project):
    secrets.set_secret(tmp_project, "openai", VALUE)
    assert secrets.get_secret(tmp_project, "openai") == VALUE
    assert secrets.list_secrets(tmp_project) == [("openai", True)]
    assert tmp_project.secret_names() == ["openai"]
    secrets.set_secret(tmp_project, "openai", VALUE + "-2")  # overwrite
    assert secrets.get_secret(tmp_project, "openai") == VALUE + "-2"
    secrets.delete_secret(tmp_project, "openai")
    assert secrets.get_secret(tmp_project, "openai") is None
    assert secrets.list_secrets(tmp_project) == []
    secrets.delete_secret(tmp_project, "openai")  # deleting twice is harmless
    assert tmp_project.verify_events().ok


def test_secrets_are_per_project(tmp_path):
    with Project.create(tmp_path / "a.wbproj") as a, Project.create(tmp_path / "b.wbproj") as b:
        secrets.set_secret(a, "token", "value-a")
        assert secrets.get_secret(b, "token") is None
        secrets.set_secret(b, "token", "value-b")
        assert secrets.get_secret(a, "token") == "value-a"


def test_name_missing_from_keyring_is_listed_as_missing(tmp_project):
    secrets.set_secret(tmp_project, "gone", VALUE)
    keyring.get_keyring().delete_password(secrets.SERVICE, f"{tmp_project.project_id}/gone")
    assert secrets.list_secrets(tmp_project) == [("gone", False)]


@pytest.mark.parametrize("name", ["", "a/b", " padded", "padded "])
def test_bad_names_are_refused(tmp_project, name):
    with pytest.raises(ValueError):
        secrets.set_secret(tmp_project, name, VALUE)
    assert tmp_project.secret_names() == []


def test_value_never_reaches_the_project_file(tmp_project):
    path = tmp_project.path
    secrets.set_secret(tmp_project, "hf_token", VALUE)
    needle = VALUE.encode()
    assert needle not in _project_bytes(path)  # while open (the -wal holds the newest pages)
    assert all(VALUE not in e["message"] + e["data"] for e in tmp_project.events())
    assert VALUE not in repr(tmp_project.summary())
    tmp_project.close()
    assert needle not in _project_bytes(path)
    assert b"hf_token" in path.read_bytes()  # the name is kept, so the check above can fail


def test_no_backend_refuses_and_says_what_to_install(tmp_project):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        ok, message = secrets.available()
        assert ok is False
        assert "keyring" in message.lower() and "plain text" in message
        assert secrets.backend_name() == "none"
        with pytest.raises(SecretsUnavailableError):
            secrets.set_secret(tmp_project, "x", VALUE)
        with pytest.raises(SecretsUnavailableError):
            secrets.get_secret(tmp_project, "x")
        assert tmp_project.secret_names() == []
    finally:
        keyring.set_keyring(previous)


def test_cli_secret_set_without_backend_exits_1(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path).close()
    before = path.read_bytes()
    result = run_cli("secret", "set", path, "api", "--stdin", stdin=VALUE + "\n",
                     env_extra={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "keyring" in result.stderr.lower()
    assert "plain text" in result.stderr
    assert "Traceback" not in result.stderr
    assert VALUE not in result.stdout + result.stderr
    assert VALUE.encode() not in _project_bytes(path)
    with Project.open(path, readonly=True) as project:
        assert project.secret_names() == []
    assert before  # the file is still there


def test_cli_secret_set_and_list_with_memory_backend(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path).close()
    result = run_cli("secret", "set", path, "api", "--stdin", stdin=VALUE + "\n")
    assert result.returncode == 0, result.stderr
    assert VALUE not in result.stdout + result.stderr
    assert VALUE.encode() not in _project_bytes(path)
    # The memory keyring died with that process: the name is known, the value is missing.
    listed = run_cli("secret", "list", path)
    assert listed.returncode == 0, listed.stderr
    assert "api  (missing from the keyring)" in listed.stdout
    missing = run_cli("secret", "get", path, "api")
    assert missing.returncode == 1 and "no secret named 'api'" in missing.stderr
    empty = run_cli("secret", "set", path, "other", "--stdin", stdin="\n")
    assert empty.returncode == 1
