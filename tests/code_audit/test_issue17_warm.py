"""A warm re-audit from the command line (issue 17): an unchanged tree is answered from the run
cache without importing bandit or detect-secrets; any change is audited again."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def audit(tree, project, summary, importtime=False):
    cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + [
        "-m", "workbench", "audit", str(tree), "-p", str(project), "--workers", "1", "--summary-json", str(summary)]
    # No secrets backend (the tests' in-memory keyring forgets the digest key between processes);
    # the run cache with a kept key is tested in-process in test_issue17_digests.
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return json.loads(summary.read_text()), modules


def fingerprints(project):
    from workbench.core.project import Project

    with Project.open(project, readonly=True) as p:
        runs = [r["id"] for r in p.runs()]
        return [sorted((f["rule"], f["path"], f["fingerprint"]) for f in p.findings(run_id=r)) for r in runs]


def test_unchanged_tree_is_answered_without_bandit_and_a_change_is_audited(tmp_path):
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    # Latin-1 with a declaration: a cached file's snippet is decoded as bandit decoded it.
    (tree / "pkg" / "app.py").write_bytes("# -*- coding: latin-1 -*-\nimport subprocess\n"
                                          "subprocess.call(input('café? '), shell=True)\n".encode("latin-1"))
    (tree / "pkg" / "util.py").write_text("def add(a, b):\n    return a + b\n")
    (tree / "deploy.yaml").write_text("aws_access_key_id: AKIAZQ3DEMOFAKE7EXAM\n")
    project, summary = tmp_path / "p.wbproj", tmp_path / "s.json"
    cold, cold_modules = audit(tree, project, summary, importtime=True)
    assert {"bandit", "detect_secrets"} <= cold_modules  # the measure sees imports at all
    warm, modules = audit(tree, project, summary, importtime=True)
    heavy = {m for m in modules if m.split(".")[0] in ("bandit", "detect_secrets", "yaml", "stevedore")}
    assert not heavy, sorted(heavy)
    assert warm["cached_files"] == warm["files"] == cold["files"] == 2
    assert warm["findings"] == cold["findings"] and warm["new"] == 0 and warm["fixed"] == 0
    first, second = fingerprints(project)
    assert first == second and any(rule == "SECRET-aws-access-key" for rule, _, _ in first)
    # A changed file is audited again (not the run cache), and only its result changes.
    os.utime(tree / "pkg" / "util.py")  # a touch alone changes nothing
    (tree / "pkg" / "util.py").write_text("def add(a, b):\n    return eval(a) + b\n")
    changed, modules = audit(tree, project, summary, importtime=True)
    assert "bandit" in modules and changed["cached_files"] == 1 and changed["new"] == 1
    runs = fingerprints(project)
    assert any(rule == "B307" and path == "pkg/util.py" for rule, path, _ in runs[-1])
    app = [{row for row in run if row[1] == "pkg/app.py"} for run in runs]
    assert app[0] and app[0] == app[-1]  # app.py from the per-file cache: the same identities


def test_bandit_defaults_written_out_equal_bandits_own():
    from bandit.core import config, constants, manager
    from workbench_plugins.code_audit import bandit_config

    assert bandit_config.DEFAULT_EXCLUDE == tuple(constants.EXCLUDE)
    assert bandit_config.DEFAULT_RAW == config.BanditConfig().config
    from importlib.metadata import version

    assert bandit_config.installed_version("bandit", "bandit") == version("bandit")
    assert bandit_config.installed_version("detect-secrets", "detect_secrets") == version("detect-secrets")
    excluded = [".git", "__pycache__", "*.egg", "build/*", "vendor"]
    for path in ("a/b.py", "a/.git/x.py", "a/.github/w.py", "pkg.egg/m.py", "build/x.py", "src/vendored/y.py",
                 "z.pyw", "notes.txt", "x/__pycache__/c.py"):
        for globs in (["*.py", "*.pyw"], ["*"]):
            assert bandit_config.is_included(path, globs, excluded) == manager._is_file_included(
                path, globs, excluded), (path, globs)
