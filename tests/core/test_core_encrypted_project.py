"""Encrypted project files (SQLCipher): real files, real keys in the secrets backend, real worker processes."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from test_core_secrets_backend import bare_env
from test_core_secrets_backend_cli import wb
from workbench.core import project_crypto
from workbench.core.convert import decrypt_project, encrypt_project
from workbench.core.errors import DamagedProjectError, ProjectError, WorkbenchError
from workbench.core.findings import Finding
from workbench.core.jobs import WorkerJob
from workbench.core.project import Project

pytestmark = pytest.mark.skipif(not project_crypto.available(), reason="no SQLCipher driver on this platform")

NAME = "Planted-Project-Name-5521"
MESSAGE = "planted finding message 9931 about the payroll model"
PLANTED = (NAME.encode(), MESSAGE.encode(), b"payroll model")


def _fill(project: Project, n: int = 400) -> int:
    run_id = project.create_run("core", "planted", title="planted run")
    project.add_findings(run_id, [
        Finding(plugin="core", rule=f"R{i % 7}", severity="HIGH", confidence="MEDIUM", title=f"planted {i}",
                message=f"{MESSAGE} #{i}", path=f"src/m{i}.py", line=i + 1) for i in range(n)])
    project.finish_run(run_id, "done", summary={"findings": n})
    return run_id


def _holds_a_lock(path: Path) -> bool:
    """Does this process hold a POSIX lock on *path* (as SQLite does while a connection is open)?"""
    if not Path("/proc/locks").exists():
        return True  # nothing to ask on this system
    ino = path.stat().st_ino
    return any(f" {os.getpid()} " in line and f":{ino} " in line for line in Path("/proc/locks").read_text().splitlines())


def _forget(key_id: str) -> None:
    project_crypto.forget_key(key_id, from_backend=True)


def _files_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leaks(blobs: dict[str, bytes]) -> list[str]:
    return sorted(name for name, data in blobs.items() if any(word in data for word in PLANTED))


def test_no_plain_text_in_the_file_its_wal_or_temporary_files(tmp_path, monkeypatch):
    """The planted name and finding are searched in the raw bytes; a plain project is the control."""
    temp = tmp_path / "temp"
    temp.mkdir()
    for var in ("SQLITE_TMPDIR", "TMPDIR"):  # where SQLite would put temporary files
        monkeypatch.setenv(var, str(temp))
    seen = {}
    for label, encrypted in (("plain", False), ("encrypted", True)):
        folder = tmp_path / label
        folder.mkdir()
        project = Project.create(folder / "p.wbproj", name=NAME, encrypted=encrypted)
        _fill(project)
        # Work that makes SQLite spill to temporary storage: a big sort without an index, and a VACUUM.
        project.conn.execute("SELECT message FROM findings ORDER BY message || title DESC").fetchall()
        assert (folder / "p.wbproj-wal").stat().st_size > 0  # the rows are in the WAL now, not yet in the file
        seen[label] = {**_files_bytes(folder), **{f"temp/{k}": v for k, v in _files_bytes(temp).items()}}
        project.close()
        vacuum = Project.open(folder / "p.wbproj")
        vacuum.conn.execute("VACUUM")
        seen[label].update({f"after-vacuum/{k}": v for k, v in _files_bytes(folder).items()})
        vacuum.close()
        seen[label].update({f"closed/{k}": v for k, v in _files_bytes(folder).items()})
    assert "p.wbproj-wal" in _leaks(seen["plain"]) and "closed/p.wbproj" in _leaks(seen["plain"])
    assert "p.wbproj-wal" in seen["encrypted"] and "closed/p.wbproj" in seen["encrypted"]
    assert _leaks(seen["encrypted"]) == []
    # Nothing that SQLite reads sees a database in it without the key.
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(tmp_path / "encrypted" / "p.wbproj").execute("SELECT * FROM sqlite_master").fetchall()


def test_opens_with_its_key_everywhere_and_the_id_names_the_key(tmp_path):
    path = tmp_path / "enc.wbproj"
    with Project.create(path, name=NAME, encrypted=True) as project:
        run_id = _fill(project, 20)
        state = project.state_sha256()
        key_id = project.key_id
        assert project.encrypted and key_id != project.project_id  # every key has an id of its own
    assert project_crypto.key_id_of(path) == key_id  # the salt is the id: the key is found without it
    with Project.open(path) as again:
        assert again.state_sha256() == state and again.run(run_id)["summary"] == {"findings": 20}
    before = set(os.listdir(tmp_path))
    with Project.open(path, readonly=True) as view:
        assert view.state_sha256() == state and view.readonly and view.encrypted
    assert set(os.listdir(tmp_path)) == before  # a read-only look leaves nothing behind
    # A new process finds the key in the backend (here: the tests' in-memory one, so clear the cache only).
    project_crypto._keys.clear()
    with Project.open(path) as fresh:
        assert fresh.state_sha256() == state


def test_without_its_key_the_message_names_the_key_and_how_to_import(tmp_path):
    path = tmp_path / "enc.wbproj"
    with Project.create(path, name=NAME, encrypted=True) as project:
        key_id = project.key_id
    key = project_crypto.key_for(path)
    _forget(key_id)
    for readonly in (False, True):
        with pytest.raises(project_crypto.ProjectKeyMissingError) as err:
            Project.open(path, readonly=readonly)
        text = str(err.value)
        assert key_id in text and "workbench key import" in text and str(path) in text
        assert "not a database" not in text and "sqlite" not in text.lower()
    # Another key under its id: told apart from a missing one, still no raw SQLite error.
    project_crypto.store_key(key_id, "ab" * 32)
    with pytest.raises(project_crypto.WrongProjectKeyError, match=f"key stored for its key id {key_id} does not"):
        Project.open(path)
    _forget(key_id)
    project_crypto.store_key(key_id, key)
    with Project.open(path) as back:
        assert back.name == NAME


def test_a_damaged_encrypted_file_is_reported_and_not_written(tmp_path):
    path = tmp_path / "enc.wbproj"
    with Project.create(path, encrypted=True) as project:
        _fill(project, 50)
    data = bytearray(path.read_bytes())
    data[4096 + 100] ^= 0xFF  # a byte of page 2: its HMAC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises((DamagedProjectError, project_crypto.WrongProjectKeyError)) as err:
        Project.open(path)
    assert "sqlite3" not in str(err.value) and str(path) in str(err.value)
    assert path.read_bytes() == bytes(data)


def test_encrypt_then_decrypt_keeps_the_state_hash(tmp_path):
    plain = tmp_path / "plain.wbproj"
    with Project.create(plain, name=NAME) as project:
        _fill(project, 100)
        project.set_triage(project.conn.execute("SELECT fingerprint FROM findings LIMIT 1").fetchone()[0],
                           "accepted_risk", "the model is internal", who="tester")
        state, project_id = project.state_sha256(), project.project_id
    assert _leaks({"plain": plain.read_bytes()}) == ["plain"]
    key_id = encrypt_project(plain)
    assert project_crypto.is_encrypted_file(plain) and project_crypto.key_id_of(plain) == key_id
    assert _leaks({"file": plain.read_bytes()}) == []
    assert sorted(os.listdir(tmp_path)) == ["plain.wbproj"]  # no temporary copy, no plain -wal left
    with Project.open(plain) as encrypted:
        assert encrypted.state_sha256() == state and encrypted.project_id == project_id
        assert encrypted.encrypted
        assert encrypted.events(limit=1)[0]["message"].startswith("project file encrypted with SQLCipher")
    out = tmp_path / "copy.wbproj"
    decrypt_project(plain, out)
    with Project.open(out) as copy:
        assert not copy.encrypted and copy.state_sha256() == state and copy.project_id == project_id
    assert _leaks({"copy": out.read_bytes()}) == ["copy"]
    # Encrypting the plain copy again gives it a key of its own; the first file's key stays.
    assert encrypt_project(out) != key_id
    project_crypto._keys.clear()
    for p in (plain, out):
        with Project.open(p) as again:
            assert again.state_sha256() == state
    with pytest.raises(ProjectError, match="already encrypted"):
        encrypt_project(plain)
    with pytest.raises(ProjectError, match="already exists"):
        decrypt_project(plain, out)


def test_conversion_refused_while_open_elsewhere_changes_nothing(tmp_path):
    path = tmp_path / "p.wbproj"
    holder = Project.create(path)
    before = path.read_bytes()
    try:
        with pytest.raises(ProjectError, match="already open for writing"):
            encrypt_project(path)
    finally:
        holder.close()
    assert not project_crypto.is_encrypted_file(path) and path.read_bytes()[:16] == before[:16]
    assert sorted(os.listdir(tmp_path)) == ["p.wbproj"]


def test_encrypting_a_copied_file_gives_the_copy_its_own_project_id(tmp_path):
    """Secrets are named by the project id: a copy must not keep the original's, encrypted or not."""
    import shutil

    original = tmp_path / "a.wbproj"
    with Project.create(original) as project:
        first_id = project.project_id
    copy = tmp_path / "b.wbproj"
    shutil.copyfile(original, copy)
    encrypt_project(copy)
    with Project.open(copy) as encrypted, Project.open(original) as plain:
        assert encrypted.project_id != first_id == plain.project_id


def test_conversion_errors_name_the_copy_not_a_damaged_project(tmp_path):
    encrypted = tmp_path / "e.wbproj"
    Project.create(encrypted, encrypted=True).close()
    with pytest.raises(WorkbenchError, match="does not exist"):
        decrypt_project(encrypted, tmp_path / "missing" / "plain.wbproj")
    blocked = tmp_path / "p.wbproj"
    Project.create(blocked).close()
    (tmp_path / ".p.wbproj.encrypting").mkdir()  # something in the way of the temporary copy
    with pytest.raises(ProjectError, match="cannot write the converted copy") as err:
        encrypt_project(blocked)
    assert "damaged" not in str(err.value)
    assert not project_crypto.is_encrypted_file(blocked)
    # A random file of whole pages is not taken for an encrypted project (its first bytes are no key id).
    photo = tmp_path / "photo.wbproj"
    photo.write_bytes(bytes(range(256)) * 32)
    with pytest.raises(ProjectError, match="not a SQLite database"):
        Project.open(photo)


def test_an_encrypted_project_under_another_name_is_never_overwritten_by_an_output(tmp_path):
    from workbench.core.files import atomic_write

    source = tmp_path / "e.wbproj"
    Project.create(source, encrypted=True).close()
    backup = tmp_path / "e-backup.db"
    backup.write_bytes(source.read_bytes())
    with pytest.raises(Exception, match="looks like an encrypted project"):
        atomic_write(backup, "report")
    assert backup.read_bytes() == source.read_bytes()


def test_key_file_round_trip_wrong_passphrase_and_tampering(tmp_path):
    path = tmp_path / "enc.wbproj"
    with Project.create(path, name=NAME, encrypted=True) as project:
        key_id = project.key_id
    key = project_crypto.key_for(path)
    key_file = tmp_path / "enc.wbkey"
    with pytest.raises(project_crypto.KeyFileError, match="at least 8"):
        project_crypto.write_key_file(key_file, key_id=key_id, key=key, project_name=NAME, passphrase="short")
    project_crypto.write_key_file(key_file, key_id=key_id, key=key, project_name=NAME, passphrase="correct horse")
    assert key.encode() not in key_file.read_bytes() and bytes.fromhex(key) not in key_file.read_bytes()
    with pytest.raises(project_crypto.KeyFileError, match="wrong passphrase"):
        project_crypto.read_key_file(key_file, "wrong horse")
    tampered = tmp_path / "tampered.wbkey"
    tampered.write_text(key_file.read_text().replace(key_id, str(__import__("uuid").uuid4())))
    with pytest.raises(project_crypto.KeyFileError, match="altered"):
        project_crypto.read_key_file(tampered, "correct horse")
    garbage = tmp_path / "garbage.wbkey"
    garbage.write_bytes(b"\x00\xff not json")
    with pytest.raises(project_crypto.KeyFileError, match="garbage.wbkey: not a readable project key file"):
        project_crypto.read_key_file(garbage, "correct horse")
    assert project_crypto.read_key_file(key_file, "correct horse") == (key_id, key, NAME)


def test_worker_job_on_an_encrypted_project_gets_the_key_through_the_pipe(tmp_path):
    """The worker is a fresh (spawned) process: the tests' in-memory keyring there is empty, so the
    only way it can open the file is the key its parent hands over."""
    from wb_core_testjobs import plugin

    with Project.create(tmp_path / "enc.wbproj", encrypted=True) as project:
        job = WorkerJob(project, plugin.job_spec("write_batches", batches=3, size=7, pause=0))
        run_id = job.start()
        assert job.wait(timeout=120) == "done", job.result
        assert project.conn.execute("SELECT COUNT(*) FROM findings WHERE run_id=?", (run_id,)).fetchone()[0] == 21
    assert _leaks({"f": (tmp_path / "enc.wbproj").read_bytes()}) == []


def test_concurrent_reader_and_writer_threads_on_one_encrypted_file(tmp_path):
    """The GUI reads while a job writes: WAL works the same with SQLCipher."""
    path = tmp_path / "enc.wbproj"
    writer = Project.create(path, encrypted=True)
    errors = []

    def read_loop():
        try:
            with Project.open(path, readonly=True) as view:
                for _ in range(30):
                    view.conn.execute("SELECT COUNT(*) FROM findings").fetchone()
        except Exception as exc:  # reported below
            errors.append(exc)

    reader = threading.Thread(target=read_loop)
    reader.start()
    for _ in range(5):
        _fill(writer, 20)
    reader.join(60)
    writer.close()
    assert errors == []


# ------------------------------------------------------------------ the CLI, as a user runs it
def _env(tmp_path) -> dict:
    # A machine with no OS keyring that chose the encrypted secrets file: keys survive between commands.
    return bare_env(tmp_path, WORKBENCH_KEYRING_PASSPHRASE="a long passphrase")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="isolates the user folders through XDG_*")
def test_cli_new_encrypted_audit_report_key_export_import(tmp_path):
    env = _env(tmp_path)
    assert wb("secret", "backend", "encrypted-file", env=env).returncode == 0
    project = tmp_path / "enc.wbproj"
    made = wb("new", project, "--encrypted", "--name", NAME, env=env)
    assert made.returncode == 0, made.stderr
    assert "encrypted with SQLCipher" in made.stdout and "encrypted file" in made.stdout
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("import pickle\n\ndef load(b):\n    return pickle.loads(b)\n")
    audit = wb("audit", src, "-p", project, "--summary-json", tmp_path / "s.json", env=env)
    assert audit.returncode == 0, audit.stderr
    info = wb("info", project, env=env)
    assert info.returncode == 0 and "file      encrypted (SQLCipher, key id" in info.stdout
    pdf = tmp_path / "r.pdf"
    report = wb("report", project, "-o", pdf, env=env)
    assert report.returncode == 0, report.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    assert b"pickle" not in project.read_bytes()
    key_file = tmp_path / "enc.wbkey"
    exported = wb("key", "export", project, "-o", key_file, "--passphrase-stdin", stdin="reviewer pass 42\n", env=env)
    assert exported.returncode == 0, exported.stderr
    # The reviewer's machine: its own (empty) secrets file.
    (tmp_path / "reviewer-home").mkdir()
    reviewer = bare_env(tmp_path / "reviewer-home", WORKBENCH_KEYRING_PASSPHRASE="reviewer's own")
    assert wb("secret", "backend", "encrypted-file", env=reviewer).returncode == 0
    refused = wb("info", project, env=reviewer)
    assert refused.returncode == 1 and "workbench key import" in refused.stderr
    assert "Traceback" not in refused.stderr and "not a database" not in refused.stderr
    wrong = wb("key", "import", key_file, "--passphrase-stdin", stdin="guess\n", env=reviewer)
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    imported = wb("key", "import", key_file, "--passphrase-stdin", stdin="reviewer pass 42\n", env=reviewer)
    assert imported.returncode == 0, imported.stderr
    assert wb("info", project, env=reviewer).returncode == 0
    # Decrypt for the archive, then the state hashes agree.
    plain = tmp_path / "plain.wbproj"
    assert wb("decrypt", project, "-o", plain, env=reviewer).returncode == 0
    states = [line for p in (project, plain) for line in wb("info", p, env=reviewer).stdout.splitlines()
              if line.startswith("state")]
    assert len(states) == 2 and states[0] == states[1]
    assert b"pickle" in plain.read_bytes()
    # A report never overwrites a project, encrypted ones included.
    clobber = wb("report", plain, "-o", project, env=reviewer)
    assert clobber.returncode != 0 and project_crypto.is_encrypted_file(project)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_looking_at_an_open_file_never_drops_sqlites_locks(tmp_path, encrypted):
    """Closing any descriptor of a file drops this process's POSIX locks on it, SQLite's too; a worker that
    then closes takes itself for the last user and deletes the WAL the parent still writes to. So the
    checks that read a file's first bytes must not read an open one: job after job, each run is seen."""
    from wb_core_testjobs import plugin

    path = tmp_path / "p.wbproj"
    Project.create(path, encrypted=encrypted).close()
    with Project.open(path) as project:  # opened, not just created: every way in registers the file
        assert _holds_a_lock(path)
        for n in range(3):
            # What the window does around a job: ask about the file while it is open.
            assert project_crypto.is_encrypted_file(path) is encrypted
            assert project_crypto.keys_for_worker(project) == ({project.key_id: project_crypto.key_for(path)}
                                                              if encrypted else {})
            Project.open(path, readonly=True).close()
            job = WorkerJob(project, plugin.job_spec("write_batches", batches=2, size=3, pause=0))
            run_id = job.start()
            assert job.wait(timeout=120) == "done", job.result
            assert (path.with_name("p.wbproj-wal")).exists()
            _fill(project, 5)  # the parent's own writes after the worker closed
            assert project.run(run_id)["status"] == "done"
        total = project.conn.execute("SELECT COUNT(*) FROM findings").fetchone()[0]
    with Project.open(path) as again:
        assert again.conn.execute("SELECT COUNT(*) FROM findings").fetchone()[0] == total == 3 * (6 + 5)
