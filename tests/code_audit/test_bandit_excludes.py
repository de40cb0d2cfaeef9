"""bandit's default excluded folders and -x semantics, compared with `bandit -r` on the same tree."""

from __future__ import annotations

import os

import pytest

from .test_bandit_runner import cli_set, open_set, ours

FOLDERS = [".svn", "CVS", ".bzr", ".hg", ".git", "__pycache__", ".tox", ".eggs", "pkg.egg", ".github",
           "src", "src/tests", "vendor", "node_modules"]


@pytest.fixture(scope="module")
def excluded_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("excludes") / "tree"
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "mod.py").write_text("import subprocess\n\nsubprocess.call('x', shell=True)\n")
    (root / "src" / "tests_util.py").write_text("import pickle\n")
    (root / "top.py").write_text("eval(input())\n")
    return str(root)


@pytest.mark.parametrize("x", [None, "vendor", "tests", "ABS:src", "*/vendor/*,.git"])
def test_excluded_paths_match_bandit(excluded_tree, tmp_path, monkeypatch, x):
    monkeypatch.chdir(tmp_path)  # relative -x entries are read against the current folder, as bandit does
    entries = [] if x is None else [os.path.join(excluded_tree, e[4:]) if e.startswith("ABS:") else e
                                    for e in x.split(",")]
    args = ["-x", ",".join(entries)] if entries else []
    theirs, _ = cli_set(excluded_tree, *args)
    cfg, results = ours(excluded_tree, exclude=entries)
    mine = open_set(cfg, results)
    assert mine == theirs
    paths = {p for _, p, _ in mine}
    if x is None:
        # bandit's defaults: VCS and tool folders, and anything containing ".git" (".github" too);
        # "*.egg" is a glob over the whole path, so it matches files named *.egg, not files under pkg.egg/
        assert paths == {"top.py", "src/mod.py", "src/tests/mod.py", "src/tests_util.py", "vendor/mod.py",
                         "node_modules/mod.py", "pkg.egg/mod.py"}
    else:
        assert ".git/mod.py" in paths or ".git" in x  # -x replaces bandit's default list
