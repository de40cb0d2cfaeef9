"""A copied project gets its own id before any secret is written: the copy never touches the original's."""

from __future__ import annotations

import shutil

from workbench.core import secrets
from workbench.core.project import Project


def test_copy_gets_its_own_id_and_secrets(tmp_path):
    original = tmp_path / "a.wbproj"
    with Project.create(original) as p:
        first_id = p.project_id
        secrets.set_secret(p, "api_key", "original-value")
    copy = tmp_path / "b.wbproj"
    shutil.copy(original, copy)
    with Project.open(copy) as c:
        assert c.project_id != first_id
        assert any("is a copy" in e["message"] for e in c.events(limit=3))
        assert c.verify_events().ok
        assert secrets.get_secret(c, "api_key") is None  # the original's value is not the copy's
        secrets.set_secret(c, "api_key", "copy-value")
        secrets.delete_secret(c, "api_key")
    renamed = tmp_path / "renamed.wbproj"
    original.rename(renamed)  # a rename is the same file: same id, same secrets
    with Project.open(renamed) as p:
        assert p.project_id == first_id
        assert secrets.get_secret(p, "api_key") == "original-value"
    with Project.open(copy) as c:  # reopening the copy keeps its new id
        assert c.project_id not in (first_id, None)
