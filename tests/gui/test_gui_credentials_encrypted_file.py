"""The Credentials dialog with the encrypted-file backend (no OS keyring on this box)."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from test_main_window import make_project
from workbench.core import secrets


def test_credentials_dialog_with_encrypted_file(window, tmp_path, monkeypatch, settings_dir):
    from workbench.gui.dialogs import CredentialsDialog

    previous = keyring.get_keyring()  # resolve it before PYTHON_KEYRING_BACKEND goes, to restore it after
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.delenv(secrets.PASSPHRASE_ENV, raising=False)
    keyring.set_keyring(fail.Keyring())
    try:
        window.open_project(make_project(tmp_path / "f.wbproj"))
        dialog = CredentialsDialog(window.project, window)
        assert not dialog.available and "No OS keyring" in dialog.status.text()
        assert dialog.unlock_button.isHidden() and dialog.backend_box.currentData() == "os"
        dialog.choose_backend("encrypted-file")
        assert dialog.backend_box.currentData() == "encrypted-file" and not dialog.unlock_button.isHidden()
        assert not dialog.available and not dialog.add_button.isEnabled()
        assert dialog.unlock_button.isEnabled() and "has not been created yet" in dialog.status.text()
        dialog.unlock("a long enough passphrase")
        assert dialog.available and dialog.add_button.isEnabled() and not dialog.unlock_button.isEnabled()
        assert "encrypted file" in dialog.status.text() and "(unlocked)" in dialog.status.text()
        dialog.add_secret("hf_token", "hf_value_in_file_123")
        secrets.lock()
        again = CredentialsDialog(window.project, window)
        assert not again.available and again.unlock_button.isEnabled()
        with pytest.raises(secrets.WrongPassphraseError):
            again.unlock("not the passphrase")
        again.unlock("a long enough passphrase")
        again.list.setCurrentRow(0)
        again.reveal_selected()
        assert again.revealed.text() == "hf_value_in_file_123"
        assert b"hf_value_in_file_123" not in secrets.encrypted_file_path().read_bytes()
        assert str(settings_dir) in str(secrets.encrypted_file_path())
    finally:
        keyring.set_keyring(previous)
        secrets.lock()
        secrets._stores.clear()


def test_unlock_in_the_window_reaches_running_and_later_jobs(window, tmp_path, monkeypatch, settings_dir, qtbot):
    """Credentials → Unlock hands the derived key to a job already waiting for a secret and to
    jobs started afterwards, without the passphrase in any environment."""
    import hashlib

    from workbench.core.jobs import JobSpec
    from workbench.gui.dialogs import CredentialsDialog

    previous = keyring.get_keyring()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.delenv(secrets.PASSPHRASE_ENV, raising=False)
    keyring.set_keyring(fail.Keyring())
    passphrase, value = "passphrase for the jobs", "sk-test-value-for-the-worker"
    try:
        window.open_project(make_project(tmp_path / "unlock.wbproj"))
        dialog = CredentialsDialog(window.project, window)
        dialog.choose_backend("encrypted-file")
        dialog.unlock(passphrase)
        dialog.add_secret("api_key", value)
        secrets.lock()  # as after a restart of the window: locked, no passphrase anywhere
        assert secrets.needs_passphrase()

        waiting = window.start_job(JobSpec("testplugin", "read_secret", {"name": "api_key", "wait": 90.0}))
        qtbot.waitUntil(lambda: waiting.status == "running" and waiting.message == "waiting for the secret",
                        timeout=60000)
        assert not waiting.finished  # it cannot read the secret yet
        CredentialsDialog(window.project, window).unlock(passphrase)
        qtbot.waitUntil(lambda: waiting.finished, timeout=60000)
        expected = hashlib.sha256(value.encode()).hexdigest()
        assert waiting.status == "done", waiting.result
        assert waiting.result["sha256"] == expected

        later = window.start_job(JobSpec("testplugin", "read_secret", {"name": "api_key", "wait": 0.0}))
        qtbot.waitUntil(lambda: later.finished, timeout=60000)
        assert later.status == "done", later.result
        assert later.result["sha256"] == expected
    finally:
        keyring.set_keyring(previous)
        secrets.lock()
        secrets._stores.clear()
