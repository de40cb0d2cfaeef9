"""Turning a scanner off, skipping or deleting a file is "not checked in this run", never "fixed"."""

from __future__ import annotations


def _tree(root):
    root.mkdir()
    (root / "app.py").write_text("import pickle\n\n\ndef load(b):\n    return pickle.loads(b)\n")
    (root / "settings.py").write_text('GITHUB_TOKEN = "ghp_' + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8" + '"\n')
    (root / "gone.py").write_text("import subprocess\n\nsubprocess.call('ls', shell=True)\n")
    return str(root)


def test_scanner_off_and_files_gone_are_not_fixed(tmp_path, project, run_audit):
    tree = _tree(tmp_path / "tree")
    first, s1 = run_audit({"target": tree})
    assert any(f["rule"].startswith("SECRET") for f in project.store("code_audit").findings(run_id=first))
    (tmp_path / "tree" / "app.py").write_text("def load(b):\n    return b\n")  # the pickle findings are fixed
    (tmp_path / "tree" / "gone.py").unlink()
    second, s2 = run_audit({"target": tree, "include_secrets": False})
    from workbench_plugins.code_audit.engine import diff_runs

    store = project.store("code_audit")
    diff = diff_runs(store, second)
    rules = {f["fingerprint"]: (f["rule"], f["path"]) for f in store.findings(run_id=first)}
    fixed = {rules[fp] for fp in diff["fixed"]}
    unchecked = {rules[fp] for fp in diff["not_checked"]}
    assert {("B403", "app.py"), ("B301", "app.py")} <= fixed
    assert all(path != "settings.py" for _, path in fixed)  # the secret scan was off: not fixed
    assert any(rule.startswith("SECRET") and path == "settings.py" for rule, path in unchecked)
    assert {r for r, p in unchecked if p == "gone.py"} >= {"B602"}  # the file is gone: not checked
    assert s2["fixed"] == len(diff["fixed"]) and s2["not_checked"] == len(diff["not_checked"]) > 0
