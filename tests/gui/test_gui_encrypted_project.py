"""The window on an encrypted project: created, marked, a missing key explained, its key imported and exported."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QMessageBox

from workbench.core import project_crypto
from workbench.core.findings import Finding

pytestmark = pytest.mark.skipif(not project_crypto.available(), reason="no SQLCipher driver on this platform")


def test_new_encrypted_project_missing_key_import_and_export(window, tmp_path, qtbot):
    path = tmp_path / "secret-audit.wbproj"
    assert window.new_project(path, encrypted=True)
    project = window.project
    assert project.encrypted and window.status_encrypted.isVisibleTo(window)
    assert window.export_key_action.isEnabled()
    run_id = project.create_run("core", "planted")
    project.add_findings(run_id, [Finding(plugin="core", rule="R1", severity="HIGH", confidence="HIGH",
                                          title="planted", message="planted-in-the-window 7781")])
    project.finish_run(run_id, "done")
    key_file = tmp_path / "secret-audit.wbkey"
    assert window.export_project_key(key_file, "a reviewer passphrase")
    assert window.project.events(limit=1)[0]["message"] == "project key exported to secret-audit.wbkey"
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        window.grab().save(os.path.join(os.environ["WORKBENCH_SCREENSHOTS"], "encrypted-window.png"))
    key_id = project.key_id
    assert window.close_project()
    assert b"planted-in-the-window" not in path.read_bytes()

    # Another machine: the key is not there. The window says which key, and offers to import it.
    project_crypto.forget_key(key_id, from_backend=True)
    assert not window.open_project(path)
    box = window.key_box
    assert isinstance(box, QMessageBox) and key_id in box.text() and "workbench key import" in box.text()
    assert any(b.text() == "Import Key File…" for b in box.buttons())
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        box.grab().save(os.path.join(os.environ["WORKBENCH_SCREENSHOTS"], "encrypted-key-missing.png"))
    box.close()
    assert window.project is None
    assert window.import_project_key(key_file, "not the passphrase") is None
    assert "wrong passphrase" in window.statusBar().currentMessage()
    assert window.import_project_key(key_file, "a reviewer passphrase") == key_id
    assert window.open_project(path)
    assert window.project.findings(run_id)[0]["message"] == "planted-in-the-window 7781"
    assert "ENCRYPTED" == window.status_encrypted.text() and window.status_encrypted.isVisibleTo(window)
