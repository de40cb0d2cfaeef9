"""The Anonymise tab in the real main window: load adult, inspector, run results as charts."""

import os

import pytest

from .conftest import ADULT_QIS


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    from workbench.core.plugins import PluginStatus, Registry, load_plugins
    from workbench.gui.app import make_app
    from workbench.gui.main_window import MainWindow

    from workbench_plugins.anonymise import plugin

    make_app("light")
    registry = load_plugins()
    if registry.get("anonymise") is None:  # until the entry point is registered in pyproject
        registry = Registry(list(registry.statuses) + [PluginStatus(
            "anonymise", "workbench_plugins.anonymise:plugin", None, plugin.version, True, plugin=plugin)])
    win = MainWindow(registry)
    qtbot.addWidget(win)
    win.resize(1500, 900)
    win.show()
    yield win
    win.jobs.wait_all()
    win.close_project()


def test_tab_loads_adult_and_shows_run_results(window, adult_dir, tmp_path, qtbot):
    from workbench.core.jobs import run_in_process
    from workbench.core.project import Project

    registry = window.registry
    project_path = tmp_path / "adult.wbproj"
    Project.create(project_path, plugins=registry.plugins).close()
    window.open_project(project_path)
    tab = window.tab_for("anonymise")
    assert type(tab).__name__ == "AnonymiseTab"
    tab.input.setText(str(adult_dir / "adult.csv"))
    tab.output.setText(str(tmp_path / "adult-anon.csv"))
    assert tab.load(str(adult_dir / "adult.csv"))
    assert tab.model.rowCount() == 30162 and tab.model.columnCount() == 9
    assert tab.model.data(tab.model.index(0, 0)) == "Male"
    assert tab.inspector.rowCount() == 9
    for i in range(9):  # every column a quasi-identifier, with the ARX hierarchy found beside the data
        tab.inspector.cellWidget(i, 3).setCurrentText("quasi_identifier")
        assert tab.inspector.item(i, 5).text() == f"adult_hierarchy_{ADULT_QIS[i]}.csv"
        assert tab.inspector.item(i, 5).toolTip() == str(adult_dir / f"adult_hierarchy_{ADULT_QIS[i]}.csv")
    pol = tab.policy()
    assert set(pol["qi"]) == set(ADULT_QIS) and pol["k"] == 5 and pol["suppression"] == 0.04
    shots = os.environ.get("ANON_SCREENSHOTS")
    if shots:
        os.makedirs(shots, exist_ok=True)
        window.grab().save(os.path.join(shots, "1-adult-loaded-inspector.png"))
    # the job through the real runner (a worker process needs the registered entry point)
    spec = window.registry.get("anonymise").job_spec(
        "anonymise", target=tab.input.text(), output=tab.output.text(), policy=pol)
    _, status, summary = run_in_process(window.project, spec, registry=registry)
    assert status == "done", summary
    tab.refresh()
    tab.views.setCurrentIndex(1)
    text = tab.risk_text.text()
    assert "P(A|D)" in text and "age=3" in text and "sex=0" in text and "1178" in text
    for chart in (tab.chart_risk, tab.chart_classes):
        assert chart.pixmap() is not None and not chart.pixmap().isNull()
    from workbench_plugins.anonymise.tab import class_size_chart, risk_chart

    risk = risk_chart(summary["risk_before"], summary["risk_after"])
    assert risk.series["before"][0] == summary["risk_before"]["p_reidentification"]
    assert risk.series["after"][1] <= 0.2 < risk.series["before"][1]          # prosecutor highest, k = 5
    sizes = class_size_chart(summary["risk_before"], summary["risk_after"])
    assert sizes.series["after"][0] == 0 and sum(sizes.series["after"]) == 30162 - 1178
    if shots:
        qtbot.wait(200)
        window.grab().save(os.path.join(shots, "2-risk-before-after.png"))


def test_tab_runs_the_job_in_a_worker_process(window, adult_dir, tmp_path, qtbot):
    from importlib.metadata import entry_points

    from workbench.core.project import Project

    if not [e for e in entry_points(group="workbench.plugins") if e.name == "anonymise"]:
        pytest.skip("a worker process finds the plugin through its entry point (pyproject), not yet registered")
    project_path = tmp_path / "w.wbproj"
    Project.create(project_path, plugins=window.registry.plugins).close()
    window.open_project(project_path)
    tab = window.tab_for("anonymise")
    tab.input.setText(str(adult_dir / "adult.csv"))
    tab.output.setText(str(tmp_path / "out.csv"))
    assert tab.load(tab.input.text())
    for i in range(9):
        tab.inspector.cellWidget(i, 3).setCurrentText("quasi_identifier")
    job = tab.start()
    assert job is not None and not tab.run_button.isEnabled()
    qtbot.waitUntil(lambda: job.finished, timeout=180000)
    assert job.status == "done", job.result
    qtbot.waitUntil(lambda: tab.run_button.isEnabled(), timeout=10000)
    assert "0.2661" in tab.risk_text.text()
    assert (tmp_path / "out.csv").exists()


def test_inspector_proposes_transforms_for_pii(window, tmp_path):
    import csv

    from faker import Faker

    fake = Faker("en_GB")
    fake.seed_instance(5)
    src = tmp_path / "patients.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["patient", "email", "phone", "nhs_note", "iban", "postcode", "birth_date", "diagnosis"])
        for _ in range(300):
            w.writerow([fake.name(), fake.email(), fake.phone_number(),
                        f"Seen by GP; contact {fake.email()} if worse", fake.iban(), fake.postcode(),
                        fake.date_of_birth(minimum_age=18).isoformat(),
                        fake.random_element(["asthma", "flu", "diabetes"])])
    tab = window.tab_for("anonymise")
    assert tab.load(str(src))
    got = {tab.inspector.item(i, 0).text(): (tab.inspector.item(i, 1).text(),
                                             tab.inspector.cellWidget(i, 4).currentText())
           for i in range(tab.inspector.rowCount())}
    assert got["patient"] == ("person_name", "surrogate")
    assert got["email"] == ("email", "pseudonymise")
    assert got["phone"] == ("phone", "mask")
    assert got["nhs_note"] == ("free_text_pii", "scrub")
    assert got["iban"] == ("iban", "tokenise")
    assert got["postcode"][0] == "postcode" and got["birth_date"][0] == "date_of_birth"
    assert got["diagnosis"][0] == "health"
    shots = os.environ.get("ANON_SCREENSHOTS")
    if shots:
        os.makedirs(shots, exist_ok=True)
        window.grab().save(os.path.join(shots, "3-pii-column-inspector.png"))
