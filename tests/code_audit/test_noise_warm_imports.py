"""A warm re-run (nothing changed) does not import detect-secrets: its results come from the cache."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
from workbench.core.project import Project
from workbench_plugins.code_audit import engine, plugin
db, target, create = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
project = Project.create(db, plugins=[plugin]) if create else Project.open(db, plugins=[plugin])
result = engine.audit_tree({"target": target, "workers": 1}, cache=project.store("code_audit"))
project.close()
print(json.dumps({"imported": "detect_secrets" in sys.modules, "cached": result.cached_files,
                  "rules": sorted(f.rule for f in result.findings)}))
"""


def test_warm_run_skips_the_detect_secrets_import(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "app.py").write_text('password = "Zq8#rT001xLm2!vB9"\nimport pickle\n')
    (tree / "deploy.yaml").write_text("aws_access_key_id: AKIAZDEMOFAKE7EXAMPL\n")
    db = str(tmp_path / "p.wbproj")

    def run(create: bool) -> dict:
        out = subprocess.run([sys.executable, "-c", SCRIPT, db, str(tree), "1" if create else "0"],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold, warm = run(True), run(False)
    assert cold["imported"] and "SECRET-aws-access-key" in cold["rules"]
    assert warm["cached"] == 1 and warm["rules"] == cold["rules"]
    assert not warm["imported"]
