"""Several targets in one ``workbench audit`` (no cluster): each its own run, and ``--summary-json``
gets the per-target summaries and the totals (written by the kit's job_command)."""

from __future__ import annotations

import json


def test_several_targets_write_one_summary(tmp_path):
    from workbench.cli import main
    from workbench.core.project import Project

    for name, lines in (("one", 2), ("two", 3)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.py").write_text("import pickle\n" + "pickle.loads(b'x')\n" * (lines - 1))
    out, proj = tmp_path / "s.json", tmp_path / "p.wbproj"
    assert main(["audit", str(tmp_path / "one"), str(tmp_path / "two"), "-p", str(proj),
                 "--summary-json", str(out)]) == 0
    summary = json.loads(out.read_text())
    with Project.open(proj, readonly=True) as project:
        runs = {r.target: r.summary for r in project.store("code_audit").runs()}
    assert summary["targets"] == {str(tmp_path / "one"): runs[str(tmp_path / "one")],
                                  str(tmp_path / "two"): runs[str(tmp_path / "two")]}
    assert (summary["files"], summary["lines"]) == (2, 5)
