"""The encrypted-file backend: persists across processes, refuses a wrong passphrase, detects tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import textwrap

import pytest

from test_core_secrets_backend import bare, bare_env, linux_only  # noqa: F401 - fixture reused
from wb_core_helpers import REPO_ROOT
from workbench.core import kdf
from workbench.core import secret_file_backend as sfb
from workbench.core import secrets
from workbench.core.errors import SecretsUnavailableError
from workbench.core.project import Project

VALUE = "hf_FileBackend9Kq2Wm7Zr4Xt1Vb8Np3Ls6Dj0Gh"
PASSPHRASE = "correct horse battery staple"
FAST_KDF = {"n": 2**14, "r": 8, "p": 1}  # the smallest cost the reader accepts; keeps in-process tests quick

pytestmark = linux_only


def workbench_cli(*args, env, stdin=None):
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO_ROOT)


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=REPO_ROOT)


def secrets_file(tmp_path):
    return tmp_path / "xdg-data" / "ai-security-workbench" / "secrets.encrypted.json"


@pytest.fixture
def fast_kdf(monkeypatch):
    monkeypatch.setattr(sfb, "DEFAULT_SCRYPT", FAST_KDF)


@pytest.fixture
def store(tmp_path, fast_kdf):
    s = sfb.EncryptedFileStore(tmp_path / "s.json")
    s.unlock(PASSPHRASE)
    s.set_password(secrets.SERVICE, "proj/api", VALUE)
    s.set_password(secrets.SERVICE, "proj/other", "second-value")
    return s


# ------------------------------------------------------------------ across processes, through the real CLI
def test_value_set_by_one_process_is_read_by_the_next(tmp_path):
    project = tmp_path / "p.wbproj"
    Project.create(project).close()
    chosen = run_python("""
        from workbench.core import secrets
        print(secrets.choose_backend("encrypted-file"))
    """, bare_env(tmp_path))
    assert chosen.returncode == 0, chosen.stderr
    assert "(not created yet)" in chosen.stdout

    unlocked = bare_env(tmp_path, **{secrets.PASSPHRASE_ENV: PASSPHRASE})
    stored = workbench_cli("secret", "set", project, "api", "--stdin", stdin=VALUE + "\n", env=unlocked)
    assert stored.returncode == 0, stored.stderr
    assert VALUE not in stored.stdout + stored.stderr

    read = workbench_cli("secret", "get", project, "api", env=unlocked)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == VALUE
    listed = workbench_cli("secret", "list", project, env=unlocked)
    assert listed.stdout.splitlines() == ["api"]

    path = secrets_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    with Project.open(project, readonly=True) as p:
        project_id = p.project_id
        events = [e["message"] for e in p.events()]
    assert "secret 'api' stored in the encrypted secrets file" in events
    for needle in (VALUE, VALUE[:12], VALUE[-12:], project_id, "api", secrets.SERVICE, PASSPHRASE):
        assert needle.encode() not in data, needle
    assert base64.b64encode(VALUE.encode()) not in data
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []  # no temp file left
    config = tmp_path / "xdg-config" / "ai-security-workbench" / "secrets-backend.json"
    assert PASSPHRASE.encode() not in config.read_bytes()

    # Without the passphrase the next process is told how to give it; nothing is guessed or created.
    before = hashlib.sha256(data).hexdigest()
    locked = workbench_cli("secret", "get", project, "api", env=bare_env(tmp_path))
    assert locked.returncode == 1
    assert "is locked" in locked.stderr and secrets.PASSPHRASE_ENV in locked.stderr
    assert VALUE not in locked.stdout + locked.stderr and "Traceback" not in locked.stderr

    wrong = workbench_cli("secret", "get", project, "api",
                          env=bare_env(tmp_path, **{secrets.PASSPHRASE_ENV: PASSPHRASE + "!"}))
    assert wrong.returncode == 1
    assert "wrong passphrase" in wrong.stderr and str(path) in wrong.stderr
    assert VALUE not in wrong.stdout + wrong.stderr and "Traceback" not in wrong.stderr
    overwrite = workbench_cli("secret", "set", project, "api", "--stdin", stdin="attacker\n",
                              env=bare_env(tmp_path, **{secrets.PASSPHRASE_ENV: "not the passphrase"}))
    assert overwrite.returncode == 1 and "wrong passphrase" in overwrite.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_concurrent_writers_lose_nothing(tmp_path):
    chosen = run_python('from workbench.core import secrets; secrets.choose_backend("encrypted-file")',
                        bare_env(tmp_path))
    assert chosen.returncode == 0, chosen.stderr
    env = bare_env(tmp_path, **{secrets.PASSPHRASE_ENV: PASSPHRASE})
    created = run_python("""
        from workbench.core import secrets
        secrets.unlock(secrets.os.environ[secrets.PASSPHRASE_ENV])
    """, env)
    assert created.returncode == 0 and secrets_file(tmp_path).is_file(), created.stderr
    writer = textwrap.dedent("""
        import sys
        from workbench.core import secrets
        store = secrets._unlocked_store()
        for i in range(15):
            store.set_password("svc", f"{sys.argv[1]}-{i}", f"value-{sys.argv[1]}-{i}")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", writer, tag], env=env, cwd=REPO_ROOT) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    check = run_python("""
        from workbench.core import secrets
        store = secrets._unlocked_store()
        print(sum(store.get_password("svc", f"{t}-{i}") == f"value-{t}-{i}" for t in "ab" for i in range(15)))
    """, env)
    assert check.stdout.strip() == "30", check.stderr


# ------------------------------------------------------------------ through secrets.*, in this process
def test_selection_unlock_and_switching_back(bare, tmp_project, fast_kdf, monkeypatch):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    secrets.choose_backend("encrypted-file")
    assert secrets.needs_passphrase() and secrets.is_new_store()
    ok, why = secrets.available()
    assert not ok and "has not been created yet" in why and secrets.PASSPHRASE_ENV in why
    with pytest.raises(secrets.SecretsLockedError):
        secrets.set_secret(tmp_project, "api", VALUE)
    assert tmp_project.secret_names() == []

    with pytest.raises(ValueError, match="at least 8"):
        secrets.unlock("short")
    assert not secrets.encrypted_file_path().exists()
    secrets.unlock(PASSPHRASE)
    assert not secrets.needs_passphrase() and not secrets.is_new_store()
    assert secrets.backend_description().endswith("(unlocked)")
    assert secrets.set_secret(tmp_project, "api", VALUE) == "the encrypted secrets file"
    assert secrets.list_secrets(tmp_project) == [("api", True)]

    secrets.lock()
    assert secrets.backend_description().endswith("(locked)")
    with pytest.raises(secrets.WrongPassphraseError, match="wrong passphrase"):
        secrets.unlock("a different passphrase")
    monkeypatch.setenv(secrets.PASSPHRASE_ENV, PASSPHRASE)  # the environment unlocks on first use
    assert secrets.get_secret(tmp_project, "api") == VALUE
    secrets.change_passphrase("the next passphrase")
    monkeypatch.delenv(secrets.PASSPHRASE_ENV)
    secrets.lock()
    with pytest.raises(secrets.WrongPassphraseError):
        secrets.unlock(PASSPHRASE)
    secrets.unlock("the next passphrase")
    secrets.delete_secret(tmp_project, "api")
    assert secrets.get_secret(tmp_project, "api") is None and tmp_project.secret_names() == []

    secrets.choose_backend("os")  # back to a box with no OS keyring: refused again, never the file
    with pytest.raises(SecretsUnavailableError, match="No OS keyring"):
        secrets.set_secret(tmp_project, "api", VALUE)
    with pytest.raises(SecretsUnavailableError, match="takes no passphrase"):
        secrets.unlock(PASSPHRASE)


def test_prompt_unlock_asks_twice_for_a_new_file(bare, fast_kdf):
    secrets.choose_backend("encrypted-file")
    answers = iter([PASSPHRASE, PASSPHRASE + "x"])
    prompts = []

    def ask(prompt):
        prompts.append(prompt)
        return next(answers)

    with pytest.raises(ValueError, match="differ"):
        secrets.prompt_unlock(ask)
    assert len(prompts) == 2 and "New passphrase" in prompts[0]
    assert not secrets.encrypted_file_path().exists()
    assert secrets.prompt_unlock(lambda prompt: None) is False  # cancelled
    answers = iter([PASSPHRASE, PASSPHRASE])
    assert secrets.prompt_unlock(ask) is True and secrets.encrypted_file_path().exists()
    secrets.lock()
    prompts.clear()
    answers = iter(["wrong passphrase!"])
    with pytest.raises(secrets.WrongPassphraseError):
        secrets.prompt_unlock(ask)
    assert len(prompts) == 1 and prompts[0].startswith("Passphrase for")
    answers = iter([PASSPHRASE])
    assert secrets.prompt_unlock(ask) is True and not secrets.needs_passphrase()


def test_custom_file_location(bare, fast_kdf, tmp_project):
    target = bare / "elsewhere" / "team.secrets"
    description = secrets.choose_backend("encrypted-file", path=target)
    assert description == f"encrypted file {target} (not created yet)"
    secrets.unlock(PASSPHRASE)
    secrets.set_secret(tmp_project, "api", VALUE)
    assert target.is_file() and VALUE.encode() not in target.read_bytes()


# ------------------------------------------------------------------ the file itself
def test_wrong_passphrase_is_refused_and_changes_nothing(store):
    before = store.path.read_bytes()
    other = sfb.EncryptedFileStore(store.path)
    for attempt in ("", "Correct horse battery staple", PASSPHRASE + " "):
        with pytest.raises(sfb.WrongPassphraseError) as caught:
            other.unlock(attempt)
        assert str(store.path) in str(caught.value)
        assert not other.unlocked
    with pytest.raises(sfb.SecretsLockedError):
        other.get_password(secrets.SERVICE, "proj/api")
    assert store.path.read_bytes() == before
    other.unlock(PASSPHRASE)
    assert other.get_password(secrets.SERVICE, "proj/api") == VALUE


def _envelope(path):
    return json.loads(path.read_text())


def _rewrite(path, envelope):
    path.write_text(json.dumps(envelope))


@pytest.mark.parametrize("field", ["ciphertext", "nonce"])
def test_every_flipped_bit_of_the_sealed_part_is_detected(store, field):
    original = _envelope(store.path)
    sealed = base64.b64decode(original[field])
    rng = random.Random(field)
    for bit in sorted(rng.sample(range(len(sealed) * 8), 24)) + [0, len(sealed) * 8 - 1]:
        flipped = bytearray(sealed)
        flipped[bit // 8] ^= 1 << (bit % 8)
        _rewrite(store.path, {**original, field: base64.b64encode(bytes(flipped)).decode()})
        with pytest.raises(sfb.SecretsFileDamagedError, match="altered or damaged"):
            store.get_password(secrets.SERVICE, "proj/api")
        fresh = sfb.EncryptedFileStore(store.path)
        with pytest.raises(sfb.SecretsFileDamagedError, match="altered or damaged"):
            fresh.unlock(PASSPHRASE)  # the right passphrase does not hide the damage
    _rewrite(store.path, original)
    assert store.get_password(secrets.SERVICE, "proj/api") == VALUE  # so the checks above could fail


@pytest.mark.parametrize("change", [
    lambda h: h.update(version=2),
    lambda h: h["kdf"].update(n=2**15),
    lambda h: h["kdf"].update(n=2**40),  # a header asking for terabytes is refused before any work
    lambda h: h["kdf"].update(name="pbkdf2"),
    lambda h: h["kdf"].update(salt=base64.b64encode(b"\0" * 16).decode()),
    lambda h: h.update(check=base64.b64encode(b"\0" * 16).decode()),
    lambda h: h.update(cipher="none"),
    lambda h: h.update(extra="field"),
])
def test_an_altered_header_is_detected(store, change):
    envelope = _envelope(store.path)
    change(envelope["header"])
    _rewrite(store.path, envelope)
    fresh = sfb.EncryptedFileStore(store.path)
    with pytest.raises((sfb.WrongPassphraseError, sfb.SecretsFileDamagedError)) as caught:
        fresh.unlock(PASSPHRASE)
    assert str(store.path) in str(caught.value)
    message = str(caught.value)
    assert "altered" in message or "damaged" in message or "not one this workbench reads" in message
    with pytest.raises(sfb.SecretsFileError):  # the already unlocked store notices too
        store.get_password(secrets.SERVICE, "proj/api")


def test_random_byte_flips_and_truncations_never_yield_a_value(store):
    original = store.path.read_bytes()
    rng = random.Random(7)
    cases = [original[:n] for n in (0, 1, len(original) // 2, len(original) - 2)]
    for _ in range(40):
        data = bytearray(original)
        data[rng.randrange(len(data))] = rng.randrange(256)
        if bytes(data) != original:
            cases.append(bytes(data))
    for data in cases:
        store.path.write_bytes(data)
        fresh = sfb.EncryptedFileStore(store.path)
        try:
            fresh.unlock(PASSPHRASE)
            value = fresh.get_password(secrets.SERVICE, "proj/api")
        except sfb.SecretsFileError as exc:
            assert str(store.path) in str(exc)
            continue
        # Only a change JSON cannot see (e.g. whitespace, an escape of the same character) may still open.
        assert value == VALUE and json.loads(data) == json.loads(original)


def test_file_holds_no_plaintext_and_has_mode_0600(store):
    data = store.path.read_bytes()
    for needle in (VALUE, "second-value", "proj/api", secrets.SERVICE, PASSPHRASE):
        assert needle.encode() not in data
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    # Lengths are padded: a value 100 bytes longer does not change the size.
    size = len(base64.b64decode(_envelope(store.path)["ciphertext"]))
    store.set_password(secrets.SERVICE, "proj/api", VALUE + "x" * 100)
    assert len(base64.b64decode(_envelope(store.path)["ciphertext"])) == size


def test_change_passphrase(store):
    store.change_passphrase("a brand new passphrase")
    old = sfb.EncryptedFileStore(store.path)
    with pytest.raises(sfb.WrongPassphraseError):
        old.unlock(PASSPHRASE)
    old.unlock("a brand new passphrase")
    assert old.get_password(secrets.SERVICE, "proj/other") == "second-value"


def test_rekeyed_by_another_process_asks_again(store):
    other = sfb.EncryptedFileStore(store.path)
    other.unlock(PASSPHRASE)
    other.change_passphrase("rotated passphrase 2")
    with pytest.raises(sfb.SecretsLockedError, match="give its passphrase again"):
        store.get_password(secrets.SERVICE, "proj/api")
    assert not store.unlocked


@pytest.mark.timeout(30)
def test_a_fifo_in_place_of_the_file_is_refused_without_hanging(tmp_path):
    path = tmp_path / "s.json"
    os.mkfifo(path)
    with pytest.raises(sfb.SecretsFileError, match="not a regular file"):
        sfb.EncryptedFileStore(path).unlock(PASSPHRASE)


def test_an_oversized_file_is_refused(tmp_path):
    path = tmp_path / "s.json"
    with open(path, "wb") as f:
        f.truncate(kdf.MAX_FILE_BYTES + 1)
    with pytest.raises(sfb.SecretsFileError, match="more than"):
        sfb.EncryptedFileStore(path).unlock(PASSPHRASE)


def test_a_file_deleted_after_unlock_is_reported(store):
    store.path.unlink()
    with pytest.raises(sfb.SecretsFileDamagedError, match="disappeared"):
        store.get_password(secrets.SERVICE, "proj/api")


def test_a_failed_write_leaves_the_previous_file_whole(store, tmp_path):
    before = store.path.read_bytes()
    # A real write failure: the file-size limit makes the kernel refuse the bigger file (EFBIG).
    out = run_python(f"""
        import resource, signal
        from workbench.core import secret_file_backend as sfb
        store = sfb.EncryptedFileStore({str(store.path)!r})
        store.unlock({PASSPHRASE!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) + 100}, resource.RLIM_INFINITY))
        try:
            store.set_password("svc", "big", "x" * 20000)
        except sfb.SecretsFileError as exc:
            print("REFUSED:", exc)
    """, dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert "REFUSED:" in out.stdout and "cannot write the encrypted secrets file" in out.stdout
    assert str(store.path) in out.stdout
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["s.json", "s.json.lock"]
    assert store.get_password(secrets.SERVICE, "proj/api") == VALUE


def test_the_passphrase_is_compared_in_one_unicode_form(tmp_path, fast_kdf):
    import unicodedata

    composed = "clé de café ünïcode"
    first = sfb.EncryptedFileStore(tmp_path / "u.json")
    first.unlock(composed)
    first.set_password("svc", "u", VALUE)
    second = sfb.EncryptedFileStore(tmp_path / "u.json")
    second.unlock(unicodedata.normalize("NFD", composed))  # as another keyboard or OS may send it
    assert second.get_password("svc", "u") == VALUE


def test_the_environment_backend_says_it_overrides_the_chosen_file(bare, monkeypatch):
    secrets.choose_backend("encrypted-file")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", secrets.MEMORY_KEYRING)
    assert secrets.chosen_backend() == "os"
    description = secrets.backend_description()
    assert "PYTHON_KEYRING_BACKEND" in description and "overrides the encrypted file" in description


def test_a_new_file_that_cannot_be_written_leaves_the_store_locked(tmp_path):
    target = tmp_path / "new.json"
    out = run_python(f"""
        import resource, signal
        from workbench.core import secret_file_backend as sfb
        store = sfb.EncryptedFileStore({str(target)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, resource.RLIM_INFINITY))
        try:
            store.unlock({PASSPHRASE!r})
        except sfb.SecretsFileError as exc:
            print("REFUSED:", exc)
        print("UNLOCKED:", store.unlocked)
    """, dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert "REFUSED:" in out.stdout and "UNLOCKED: False" in out.stdout
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
