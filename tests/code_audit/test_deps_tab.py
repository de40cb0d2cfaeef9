"""The Code audit tab shows a dependency run's findings with their fix (real window, real project)."""

from __future__ import annotations

import os

import pytest

from . import test_deps_data as fx


@pytest.fixture(autouse=True)
def _packaging_library():
    # at run time, not at collection: loading it while tests/packaging is still to be collected would
    # take that package's name away from it
    fx.load_packaging_library()


def test_tab_shows_dependency_findings_with_fix(window, qtbot, tmp_path, monkeypatch):
    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench_plugins.code_audit import plugin
    from workbench_plugins.code_audit.deps import osvdb

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    osvdb.import_zip(fx.write_zip(tmp_path / "carried"))
    tree = fx.make_tree(tmp_path / "svc")
    path = tmp_path / "deps.wbproj"
    with Project.create(path, plugins=load_plugins().plugins) as project:
        run_id, status, summary = run_in_process(project, plugin.job_spec("deps", target=str(tree)))
        assert status == "done", summary
    assert window.open_project(path)
    index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Code audit")
    window.tabs.setCurrentIndex(index)
    tab = window.tabs.widget(index)
    assert tab.current_run_id() == run_id
    assert f"{summary['packages']} packages" in tab.run_combo.currentText()
    rows = [tab.view.model.record(r) for r in range(tab.view.model.rowCount())]
    assert len(rows) == sum(summary["findings"].values())
    row = next(i for i, r in enumerate(rows) if r["rule"] == "PYSEC-2025-41" and r["path"] == "requirements.txt")
    assert "fix: raise to ≥ 2.6.0" in rows[row]["title"]  # the table's Title column carries the fix
    tab.view.table.selectRow(row)
    qtbot.waitUntil(lambda: "Fix:" in tab.view.details.toPlainText(), timeout=3000)
    text = tab.view.details.toPlainText()
    assert "Fix: raise torch to ≥ 2.6.0" in text and "CVE-2025-32434" in text
    assert "torch==2.5.1" in tab.view.code.toPlainText()  # the pinning file, at its line
    shots = os.environ.get("WB_SHOTS")
    if shots:
        window.resize(1500, 800)
        qtbot.wait(50)
        window.grab().save(os.path.join(shots, "deps_tab.png"))
