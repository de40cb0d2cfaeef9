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
