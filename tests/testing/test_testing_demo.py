"""`workbench demo` for the testing plugin: the shipped demo tree with a suite written at run time."""

from __future__ import annotations

from workbench.core.demo import copy_samples
from workbench.core.jobs import run_in_process
from workbench.core.project import Project
from workbench_plugins.testing import plugin
from workbench_plugins.testing import store as tables
from workbench_plugins.testing.demo import demo_specs

from .test_testing_plugin import REGISTRY


def test_demo_runs_the_suite_under_coverage_and_the_stdlib_fallback_imports_it(tmp_path):
    samples = copy_samples(tmp_path)
    specs = plugin.demo_jobs(samples)
    assert [s.job for s in specs] == ["test"]  # pytest is here: the real runner
    with Project.create(tmp_path / "demo.wbproj", plugins=[plugin]) as project:
        store = project.store("testing")
        run_id, status, summary = run_in_process(project, specs[0], registry=REGISTRY)
        assert status == "done", summary
        assert (summary["tests"], summary["passed"], summary["failed"]) == (3, 2, 1)
        failing = tables.cases(store, run_id, failing_only=True)
        assert [c["id"] for c in failing] == ["tests/test_security_settings.py::test_no_provider_key_in_the_source"]
        # The demo's fake key is masked in what is stored.
        assert "sk-proj-DEMO" not in (failing[0]["message"] or "") and "api_key=" in failing[0]["message"]
        files = {f["path"]: f["percent"] for f in tables.coverage_files(store, run_id)}
        assert files["src/creditml/settings.py"] == 100.0 and files["src/creditml/agent.py"] == 0.0
        assert 0 < summary["coverage_percent"] < 100
        # Without pytest: the same suite through the standard-library runner, imported as JUnit XML.
        (fallback,) = demo_specs(plugin, samples, have_pytest=False)
        assert fallback.job == "import"
        _, status, imported = run_in_process(project, fallback, registry=REGISTRY)
        assert status == "done", imported
        assert (imported["tests"], imported["passed"], imported["failed"]) == (3, 2, 1)
