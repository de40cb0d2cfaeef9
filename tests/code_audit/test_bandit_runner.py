"""Bandit in worker processes: same findings as `bandit -r`, config, skips, cache."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from .conftest import bandit_exe, copy_tree

STDLIB_SAMPLE = ["subprocess.py", "tarfile.py", "pickle.py", "tempfile.py", "shutil.py", "ssl.py", "json"]


def walk(target, cfg):
    from workbench_plugins.code_audit import engine

    return engine.walk_tree(target, cfg, secrets=False, models=False).python


def ours(target, workers=2, cache_conn=None, **config):
    from workbench_plugins.code_audit import bandit_config, bandit_runner

    cfg = bandit_config.load_config(target, **config)
    results = bandit_runner.audit_files(walk(target, cfg), cfg, workers=workers, cache_conn=cache_conn)
    return cfg, results


def open_set(cfg, results, *, pack=False):
    from workbench_plugins.code_audit import bandit_runner

    return {(i["test_id"], r.relpath, i["line"]) for r in results
            for i in bandit_runner.selected_issues(r, cfg)
            if not i["suppressed"] and (pack or not i["test_id"].startswith("B9"))}


def cli_set(target, *args):
    proc = subprocess.run([bandit_exe(), "-r", "-f", "json", "-q", *args, target],
                          capture_output=True, text=True, timeout=300)
    data = json.loads(proc.stdout)
    found = {(r["test_id"], os.path.relpath(r["filename"], target).replace(os.sep, "/"), r["line_number"])
             for r in data["results"]}
    # Entry points of the installed rule pack make plain bandit run it too.
    return {f for f in found if not f[0].startswith("B9")}, data


@pytest.fixture(scope="module")
def mixed_tree(tmp_path_factory, demo_tree):
    root = tmp_path_factory.mktemp("mixed")
    target = copy_tree(demo_tree, root / "tree")
    stdlib = sysconfig.get_paths()["stdlib"]
    for name in STDLIB_SAMPLE:
        src = os.path.join(stdlib, name)
        if os.path.isdir(src):
            copy_tree(src, Path(target) / "lib" / name)
        else:
            os.makedirs(os.path.join(target, "lib"), exist_ok=True)
            Path(target, "lib", name).write_bytes(Path(src).read_bytes())
    Path(target, "broken.py").write_text("def broken(:\n    pass\n")
    Path(target, "nosec_demo.py").write_text(
        "import subprocess\n"
        "subprocess.call('ls', shell=True)  # nosec\n"
        "subprocess.call('ls', shell=True)  # nosec B602\n"
        "subprocess.call('ls', shell=True)  # nosec B101\n"
        "assert subprocess  # nosec: B101, B602\n"
    )
    return target


@pytest.mark.slow
def test_same_findings_as_bandit_cli(mixed_tree):
    cfg, results = ours(mixed_tree)
    cli, data = cli_set(mixed_tree)
    assert open_set(cfg, results) == cli
    assert len(cli) > 20
    cli_errors = {os.path.relpath(e["filename"], mixed_tree) for e in data["errors"]}
    assert {r.relpath for r in results if r.skipped} == cli_errors == {"broken.py"}


@pytest.mark.slow
def test_same_findings_with_thresholds_and_skips(mixed_tree):
    cfg, results = ours(mixed_tree, severity="MEDIUM", confidence="HIGH", skips=("B404", "B603"))
    cli, _ = cli_set(mixed_tree, "-ll", "-iii", "-s", "B404,B603")
    assert open_set(cfg, results) == cli


def test_nosec_kept_as_suppressed(mixed_tree):
    cfg, results = ours(mixed_tree, workers=1)
    by_line = {}
    for r in results:
        if r.relpath == "nosec_demo.py":
            for i in r.issues:
                by_line.setdefault(i["line"], []).append((i["test_id"], i["suppressed"]))
    assert ("B602", True) in by_line[2]
    assert ("B602", True) in by_line[3]
    assert ("B602", False) in by_line[4]  # nosec names another test
    assert ("B101", True) in by_line[5]


def test_serial_and_parallel_agree(mixed_tree):
    cfg1, serial = ours(mixed_tree, workers=1)
    cfg2, parallel = ours(mixed_tree, workers=2)
    assert open_set(cfg1, serial, pack=True) == open_set(cfg2, parallel, pack=True)


def test_pyproject_tool_bandit_is_honoured(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bandit]\nskips = ["B101"]\nexclude_dirs = ["vendor"]\n')
    (tmp_path / "a.py").write_text("assert True\nimport pickle\n")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "b.py").write_text("import pickle\n")
    cfg, results = ours(str(tmp_path))
    assert [r.relpath for r in results] == ["a.py"]
    assert {i[0] for i in open_set(cfg, results)} == {"B403"}


def test_dot_bandit_ini_and_path_skips(tmp_path):
    (tmp_path / ".bandit").write_text("[bandit]\nskips = B403\n")
    (tmp_path / "app.py").write_text("import pickle\nassert pickle\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text("import pickle\nassert pickle\n")
    cfg, results = ours(str(tmp_path), path_skips={"tests/*": ["B101"]})
    assert open_set(cfg, results) == {("B101", "app.py", 2)}


def test_yaml_config_tests_selection(tmp_path):
    conf = tmp_path / "bandit.yaml"
    conf.write_text("tests: [B602]\n")
    tree = tmp_path / "src"
    tree.mkdir()
    (tree / "a.py").write_text("import subprocess\nsubprocess.call('x', shell=True)\nassert 1\n")
    cfg, results = ours(str(tree), config_file=str(conf))
    assert {i[0] for i in open_set(cfg, results, pack=True)} == {"B602"}


def test_unauditable_files_are_recorded(tmp_path):
    from workbench_plugins.code_audit import bandit_runner

    (tmp_path / "ok.py").write_text("import pickle\n")
    (tmp_path / "syntax.py").write_text("def (:\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02import os\n")
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: utf-8 -*-\nname = '\xe9\xff'\n")
    (tmp_path / "bogus_codec.py").write_bytes(b"# -*- coding: no-such-codec -*-\nx = 1\n")
    os.symlink("loop.py", tmp_path / "loop.py")
    os.symlink("missing-target.py", tmp_path / "dangling.py")
    cfg, results = ours(str(tmp_path))
    reasons = {r.relpath: r.skipped for r in results}
    assert reasons["ok.py"] is None
    assert "syntax" in reasons["syntax.py"]
    assert reasons["binary.py"].startswith("binary")
    assert reasons["latin.py"].startswith("undecodable")
    assert reasons["bogus_codec.py"].startswith("undecodable")
    assert reasons["loop.py"].startswith("unreadable")
    assert reasons["dangling.py"].startswith("unreadable")
    old = bandit_runner.MAX_BYTES
    bandit_runner.MAX_BYTES = 10
    try:
        assert bandit_runner.audit_file(str(tmp_path / "ok.py"), "ok.py", cfg).skipped.startswith("too large")
    finally:
        bandit_runner.MAX_BYTES = old


def test_cache_reuses_unchanged_files_only(tmp_path, mixed_tree, store):
    conn = store
    cfg, cold = ours(mixed_tree, cache_conn=conn)
    assert not any(r.cached for r in cold)
    _, warm = ours(mixed_tree, cache_conn=conn)
    assert all(r.cached for r in warm)
    assert open_set(cfg, cold, pack=True) == open_set(cfg, warm, pack=True)
    # Another configuration is another cache key: nothing reused.
    _, other = ours(mixed_tree, cache_conn=conn, skips=("B101",))
    assert not any(r.cached for r in other)


def test_cancel_between_chunks(mixed_tree):
    from workbench.core.jobs import Cancelled, JobContext
    from workbench_plugins.code_audit import bandit_config, bandit_runner

    cfg = bandit_config.load_config(mixed_tree)
    calls = []
    ctx = JobContext(None, 0, on_progress=lambda d, t, m: calls.append(d), cancel_check=lambda: bool(calls))
    with pytest.raises(Cancelled):
        bandit_runner.audit_files(walk(mixed_tree, cfg), cfg, workers=1, ctx=ctx)


@pytest.mark.slow
def test_tuned_bandit_reports_every_issue_field_as_bandit_cli(mixed_tree):
    """The in-process speed-ups (``_tune_bandit``: nodes without tests skipped, no-op nosec
    look-ups) change nothing bandit reports: same test, line, column, severity and confidence
    for every issue, the rule pack's included (B900 is ours, outside bandit)."""
    from workbench_plugins.code_audit import bandit_runner

    cfg, results = ours(mixed_tree, workers=1)  # in this process, so that the check below means something
    assert bandit_runner._TUNED
    mine = sorted((r.relpath, i["line"], i["col"], i["test_id"], i["severity"], i["confidence"])
                  for r in results for i in r.issues if i["test_id"] != bandit_runner.NOSEC_UNKNOWN_ID)
    _, data = cli_set(mixed_tree)
    theirs = sorted((os.path.relpath(r["filename"], mixed_tree).replace(os.sep, "/"), r["line_number"],
                     r["col_offset"], r["test_id"], r["issue_severity"], r["issue_confidence"])
                    for r in data["results"])
    # bandit -r honours "# nosec" (we keep those issues as suppressed): compare the rest.
    suppressed = {(r.relpath, i["line"], i["test_id"]) for r in results for i in r.issues if i["suppressed"]}
    mine = [m for m in mine if (m[0], m[1], m[3]) not in suppressed]
    assert len(theirs) > 30 and any(t[3].startswith("B9") for t in theirs)
    assert mine == theirs


def test_deep_nesting_handled_as_bandit_cli(tmp_path):
    """The tuned walk keeps bandit's recursion depth: a long attribute chain or sum (every
    level a node without tests, which the walk passes straight through) is audited or
    reported unscannable exactly as ``bandit -r`` does."""
    tree = tmp_path / "deep"
    tree.mkdir()
    for n in (700, 1300):
        (tree / f"attr_{n}.py").write_text("import subprocess\nx = a" + ".b" * n + "\nsubprocess.call(x, shell=True)\n")
        (tree / f"sum_{n}.py").write_text("import subprocess\nx = " + "+".join(["a"] * n)
                                          + "\nsubprocess.call(x, shell=True)\n")
    target = str(tree)
    for workers in (1, 2):
        cfg, results = ours(target, workers=workers)
        cli, data = cli_set(target)
        assert open_set(cfg, results) == cli
        cli_errors = {os.path.relpath(e["filename"], target) for e in data["errors"]}
        assert {r.relpath for r in results if r.skipped} == cli_errors == {"attr_1300.py", "sum_1300.py"}
    assert {f[1] for f in cli} == {"attr_700.py", "sum_700.py"}
