"""bandit and the secrets scan in one pool give what each scanner gives on its own."""

from __future__ import annotations

import glob
import shutil
import sysconfig

STDLIB = sysconfig.get_paths()["stdlib"]


def test_shared_pool_equals_each_scanner_alone(tmp_path, demo_tree, monkeypatch):
    from workbench_plugins.code_audit import bandit_runner, engine, secrets_scan
    from workbench_plugins.code_audit.bandit_config import load_config

    tree_dir = tmp_path / "tree"
    shutil.copytree(demo_tree, tree_dir / "demo")
    (tree_dir / "lib").mkdir()
    for path in sorted(glob.glob(f"{STDLIB}/*.py"))[:30]:
        shutil.copy(path, tree_dir / "lib")
    (tree_dir / "deploy.env").write_text('API_TOKEN="ghp_abcdefghijklmnopqrstuvwxyz0123456789"\n')
    (tree_dir / "broken.py").write_text("def f(:\n    password = 'Zq8#rT42xLm2!vB9'\n")
    target = str(tree_dir)
    cfg = load_config(target, None)
    tree = engine.walk_tree(target, cfg)

    used = []
    real_run_tasks = bandit_runner.run_tasks

    def spy(tasks, *args, **kwargs):
        used.append(sorted({label for *_, label in tasks}))
        return real_run_tasks(tasks, *args, **kwargs)

    monkeypatch.setattr(bandit_runner, "run_tasks", spy)
    shared_bandit, shared_secrets = engine._scan_sources(tree, cfg, 2, None, None, True)
    assert used == [["bandit", "secrets"]]  # one pool ran both

    alone_bandit = bandit_runner.audit_files(tree.python, cfg, workers=1)
    alone_secrets = secrets_scan.scan_files(tree.text, workers=1)

    def rows(results):
        return [(r.relpath, r.sha256, r.lines, r.issues, r.skipped) for r in results]

    assert rows(shared_bandit) == rows(alone_bandit)
    assert shared_secrets == alone_secrets
    assert sum(len(r.issues) for r in alone_bandit) > 20 and any(r.skipped for r in alone_bandit)
    assert sum(len(found) for found, _ in alone_secrets.values()) >= 2
