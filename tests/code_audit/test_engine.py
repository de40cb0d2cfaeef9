"""The audit job on real trees: demo coverage, fingerprints, run-to-run changes."""

from __future__ import annotations

import random
import sys



def test_demo_exercises_every_rule_of_the_pack(demo_tree, project, run_audit):
    from workbench_plugins.code_audit.rules.catalog import RULES_BY_ID

    run_id, summary = run_audit({"target": demo_tree})
    rules = {f["rule"] for f in project.findings(run_id=run_id)}
    assert set(RULES_BY_ID) - {"AUDIT001"} <= rules  # B900..B911 (AUDIT001: a file not audited)
    assert {"B614", "B615", "MS001"} <= rules  # bandit's own torch/HF rules stay on
    assert any(r.startswith("SECRET-") for r in rules)
    assert summary["files"] >= 7 and summary["lines"] > 100
    assert summary["findings"]["HIGH"] > 5 and summary["suppressed_in_source"] >= 1
    assert summary["new"] == sum(summary["findings"].values()) + summary["suppressed_in_source"]


def _many_findings_file(n: int) -> list[str]:
    """A module with n functions, each with distinct flagged code."""
    lines = ["import subprocess", "import pickle", ""]
    for i in range(n):
        lines += [f"def f{i}(data):",
                  f"    subprocess.call('job{i} ' + data, shell=True)",
                  f"    return pickle.loads(data + b'{i}')", ""]
    # Twins: identical flagged code twice, told apart by the occurrence count.
    lines += ["def twin_a(d):", "    return pickle.loads(d)", "", "def twin_b(d):", "    return pickle.loads(d)", ""]
    return lines


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks, cur = [], []
    for line in lines[3:]:
        cur.append(line)
        if line == "":
            blocks.append(cur)
            cur = []
    return blocks


def test_fingerprints_survive_inserted_and_moved_lines(tmp_path, project, run_audit):
    tree = tmp_path / "tree"
    tree.mkdir()
    lines = _many_findings_file(150)
    (tree / "jobs.py").write_text("\n".join(lines))
    first, s1 = run_audit({"target": str(tree), "include_secrets": False})
    before = {f["fingerprint"]: (f["rule"], f["line"]) for f in project.findings(run_id=first)}
    assert len(before) >= 300

    # Insert lines at the top, re-indent nothing, and shuffle the functions
    # (the twins stay in order): every finding moves to another line.
    blocks = _blocks(lines)
    head, twins = blocks[:-2], blocks[-2:]
    random.Random(7).shuffle(head)
    edited = ['"""Docstring added above."""', "# a comment", "", *lines[:3]]
    edited += [line for block in head + twins for line in block]
    (tree / "jobs.py").write_text("\n".join(edited))
    second, s2 = run_audit({"target": str(tree), "include_secrets": False})
    after = {f["fingerprint"]: (f["rule"], f["line"]) for f in project.findings(run_id=second)}
    assert set(after) == set(before)
    moved = sum(1 for fp in before if before[fp][1] != after[fp][1])
    assert moved > 0.9 * len(before)
    assert (s2["new"], s2["fixed"], s2["unchanged"]) == (0, 0, len(before))


def test_new_unchanged_fixed_between_runs(tmp_path, project, run_audit):
    from workbench_plugins.code_audit import engine

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("import pickle\n\ndef f(d):\n    return pickle.loads(d)\n")
    (tree / "b.py").write_text("import subprocess\nsubprocess.call('x', shell=True)\n")
    first, _ = run_audit({"target": str(tree)})
    (tree / "b.py").write_text("import subprocess\nsubprocess.call(['x'])\n")
    (tree / "c.py").write_text("assert True\n")
    second, summary = run_audit({"target": str(tree)})
    diff = engine.diff_runs(project.store("code_audit"), second)
    rules = {f["fingerprint"]: f["rule"] for rid in (first, second) for f in project.findings(run_id=rid)}
    assert {rules[fp] for fp in diff["new"]} == {"B101", "B603", "B607"}
    # B607 flags a changed line: the old one is fixed, the new one is new.
    assert {rules[fp] for fp in diff["fixed"]} == {"B602", "B607"}
    assert {rules[fp] for fp in diff["unchanged"]} == {"B403", "B301", "B404"}
    assert summary["new"] == len(diff["new"]) and summary["fixed"] == len(diff["fixed"])
    # A run of another target does not count as "previous".
    other = tmp_path / "other"
    other.mkdir()
    third, s3 = run_audit({"target": str(other)})
    assert (s3["new"], s3["fixed"]) == (0, 0)


def test_skipped_files_are_stored_and_run_goes_on(tmp_path, project, run_audit):
    from workbench_plugins.code_audit import store

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "bad.py").write_text("def x(:\n")
    (tree / "good.py").write_text("import pickle\n")
    (tree / "weights.pkl").write_bytes(b"\x80\x04\x95garbage")
    run_id, summary = run_audit({"target": str(tree)})
    skipped = {s["path"]: (s["scanner"], s["reason"]) for s in store.skipped_files(project.store("code_audit"), run_id)}
    assert skipped["bad.py"][0] == "bandit" and "syntax" in skipped["bad.py"][1]
    assert skipped["weights.pkl"][0] == "models"
    assert summary["skipped"] == 2
    assert [f["rule"] for f in project.findings(run_id=run_id) if f["path"] == "good.py"] == ["B403"]


def test_warm_rerun_reuses_cache_and_gives_same_findings(demo_tree, project, run_audit):
    first, s1 = run_audit({"target": demo_tree})
    second, s2 = run_audit({"target": demo_tree})
    assert s2["cached_files"] == s2["files"] and s1["cached_files"] == 0
    key = lambda rid: sorted((f["fingerprint"], f["source_status"]) for f in project.findings(run_id=rid))
    assert key(first) == key(second)


def test_exclude_param(demo_tree, project, run_audit):
    run_id, _ = run_audit({"target": demo_tree, "exclude": ["models", "*.yaml"]})
    paths = {f["path"] for f in project.findings(run_id=run_id)}
    assert not any(p.startswith("models/") or p.endswith(".yaml") for p in paths)


def test_engine_modules_import_no_qt_and_no_heavy_libraries():
    import subprocess

    code = ("import sys\n"
            "import workbench_plugins.code_audit.engine, workbench_plugins.code_audit.sarif\n"
            "import workbench_plugins.code_audit.score, workbench_plugins.code_audit.report\n"
            "import workbench_plugins.code_audit.model_scan\n"
            "import workbench_plugins.code_audit.secrets_scan, workbench_plugins.code_audit.bandit_runner\n"
            "import workbench_plugins.code_audit.rules\n"
            "bad = [m for m in ('PySide6', 'bandit', 'detect_secrets', 'torch', 'picklescan') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
