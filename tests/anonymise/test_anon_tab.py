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


DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "resources", "demo", "people.csv")


def _classes(path, qis):
    """Equivalence-class sizes of a written CSV, recomputed with the csv module."""
    import csv
    from collections import Counter

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows, Counter(tuple(r[q] for q in qis) for r in rows)


def test_tab_runs_what_it_shows_on_the_demo_and_the_cli_builds_the_same(window, tmp_path, qtbot, monkeypatch):
    """A user: load people.csv, keep the detected quasi-identifiers, k = 5 on screen, Run. The output
    is 5-anonymous on exactly those columns, the Risk view shows before/after, and the CLI builds
    the identical policy from the same input (and refuses what the tab refuses)."""
    import argparse
    import json
    import shutil

    from workbench.core.cli_kit import Commands
    from workbench.core.project import Project

    from workbench_plugins.anonymise import plugin

    src = tmp_path / "people.csv"
    shutil.copy(DEMO, src)
    project_path = tmp_path / "demo.wbproj"
    Project.create(project_path, plugins=window.registry.plugins).close()
    window.open_project(project_path)
    tab = window.tab_for("anonymise")
    tab.input.setText(str(src))
    tab.load_button.click()
    assert tab.model.rowCount() == 400
    shown = {tab.inspector.item(i, 0).text(): (tab.inspector.cellWidget(i, 3).currentText(),
                                               tab.inspector.item(i, 5).text())
             for i in range(tab.inspector.rowCount())}
    qis = [c for c, (role, _) in shown.items() if role == "quasi_identifier"]
    assert {"date_of_birth", "zip", "city", "gender"} <= set(qis)
    assert all(shown[c][1] == "auto" for c in qis)      # no file beside the data: built from it
    assert tab.k.value() == 5
    # the hierarchy the run will use is on screen for review
    row = [tab.inspector.item(i, 0).text() for i in range(tab.inspector.rowCount())].index("date_of_birth")
    tab.inspector.setCurrentCell(row, 0)
    assert tab.hier_table.columnCount() == 5 and tab.hier_table.rowCount() > 300
    first = [tab.hier_table.item(0, c).text() for c in range(5)]
    assert first[1] == first[0][:7] and first[2] == first[0][:4] and first[-1] == "*"
    tab.output.setText(str(tmp_path / "people-anon.csv"))
    tab.run_button.click()
    job = tab.job
    assert job is not None
    qtbot.waitUntil(lambda: job.finished, timeout=120000)
    assert job.status == "done", job.result
    qtbot.waitUntil(lambda: tab.run_button.isEnabled(), timeout=10000)
    run = tab.store.latest_run(job="anonymise")
    s = run["summary"]
    stored = json.loads(tab.store.query("SELECT policy FROM anonymise_outputs")[-1]["policy"])
    assert stored["k"] == 5 and set(stored["qi"]) == set(qis)     # what was on screen, not k 1 / no QI
    rows, classes = _classes(tmp_path / "people-anon.csv", qis)
    assert len(rows) == 400 - s["suppressed_rows"] and min(classes.values()) >= 5
    assert s["risk_before"]["prosecutor"]["highest"] == 1.0        # 400 unique people before
    assert s["risk_after"]["prosecutor"]["highest"] <= 0.2
    text = tab.risk_text.text()
    assert "P(A|D) 1.0000 →" in text and f"{s['p_reidentification']:.4f}" in text
    # the automatic hierarchies were saved as ARX CSVs for review, and read back as such
    from workbench_plugins.anonymise.hierarchy import read_arx_hierarchy

    for c in qis:
        h = read_arx_hierarchy(s["hierarchies"][c]["file"])
        assert h.height == s["hierarchies"][c]["levels"]
    shots = os.environ.get("ANON_SCREENSHOTS")
    if shots:
        tab.inspector.setCurrentCell(row, 0)
        tab.views.setCurrentIndex(1)
        qtbot.wait(100)
        window.grab().save(os.path.join(shots, "5-demo-risk.png"))
        tab.views.setCurrentIndex(2)
        qtbot.wait(100)
        window.grab().save(os.path.join(shots, "4-auto-hierarchy.png"))
    # the CLI from the same input and the same settings builds the identical policy
    ap = argparse.ArgumentParser(prog="workbench")
    plugin.add_cli(Commands(ap.add_subparsers(dest="command")).for_plugin(plugin))
    args = ap.parse_args(["anonymise", str(src), "-o", str(tmp_path / "cli.csv"), "--k", "5",
                          "--suppression", str(tab.suppression.value()), "--metric", tab.metric.currentText()])
    from workbench_plugins.anonymise.cli import build_policy

    assert build_policy(args).to_dict() == tab.policy()
    monkeypatch.setenv("WORKBENCH_ANON_KEY_PSEUDONYM", "11" * 32)
    monkeypatch.setenv("WORKBENCH_ANON_KEY_TOKEN", "22" * 32)
    sj = tmp_path / "cli.json"
    args = ap.parse_args(["anonymise", str(src), "-o", str(tmp_path / "cli.csv"), "--k", "5",
                          "--suppression", str(tab.suppression.value()), "--summary-json", str(sj)])
    assert args.func(args) == 0
    cli = json.loads(sj.read_text())
    assert cli["levels"] == s["levels"] and cli["suppressed_rows"] == s["suppressed_rows"]
    assert cli["information_loss"] == s["information_loss"]
    # both refuse a privacy model without quasi-identifiers, with the same words
    for i in range(tab.inspector.rowCount()):
        if tab.inspector.cellWidget(i, 3).currentText() == "quasi_identifier":
            tab.inspector.cellWidget(i, 3).setCurrentText("other")
    tab.job = None
    tab.run_button.click()
    assert tab.job is None and tab.run_button.isEnabled()
    assert "k = 5 need quasi-identifiers" in tab.panel.error.text()      # in place, under the form
    (tmp_path / "none.json").write_text(json.dumps({"columns": {c: {"role": "other"} for c in qis}}))
    from workbench.api import CliError

    args = ap.parse_args(["anonymise", str(src), "-o", str(tmp_path / "x.csv"), "--k", "5",
                          "--policy", str(tmp_path / "none.json")])
    with pytest.raises(CliError, match="k = 5 need quasi-identifiers"):
        args.func(args)
