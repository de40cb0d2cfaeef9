"""FIFOs, devices and file names that are not UTF-8, anywhere in the tree: audited or skipped, never a hang."""

from __future__ import annotations

import os

import pytest


@pytest.mark.timeout(120)
def test_fifos_and_odd_names(tmp_path, project, run_audit):
    tree = tmp_path / "tree"
    tree.mkdir()
    root = os.fsencode(tree)
    with open(os.path.join(root, b"bad\xff.py"), "w") as fh:
        fh.write("x = eval(input())\n")
    os.mkdir(os.path.join(root, b"dir\xfe"))
    with open(os.path.join(root, b"dir\xfe", b"ok.py"), "w") as fh:
        fh.write("import pickle\n")
    for name in ("pipe.py", "notes.txt", "weights.pkl"):
        os.mkfifo(tree / name)
    os.symlink("/dev/zero", tree / "zero.py")
    run_id, summary = run_audit({"target": str(tree)})
    store = project.store("code_audit")
    found = {(f["rule"], f["path"]) for f in store.findings(run_id=run_id)}
    assert ("B307", "bad\\xff.py") in found and ("B403", "dir\\xfe/ok.py") in found
    from workbench_plugins.code_audit import store as tables

    skipped = {s["path"]: s["reason"] for s in tables.skipped_files(store, run_id)}
    assert skipped["pipe.py"] == skipped["notes.txt"] == "not a regular file (a FIFO): not opened"
    assert skipped["zero.py"] == "not a regular file (a character device): not opened"
    # a model file a loader would open is never skipped silently: a finding says it was not checked
    assert ("MS003", "weights.pkl") in found
