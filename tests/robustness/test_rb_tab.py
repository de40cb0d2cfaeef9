"""The Robustness tab in the real main window: a job in a worker process, the live chart fills
with one curve per attack, and the table lists every point."""

from __future__ import annotations

import os


def test_tab_runs_the_demo_in_a_worker_and_draws_the_curves(robustness_registered, tmp_path, qtbot, monkeypatch):
    from workbench.gui.app import create_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    _, window = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(window)
    window.show()
    try:
        assert window.new_project(tmp_path / "gui.wbproj")
        tab = window.tab_for("robustness")
        assert type(tab).__name__ == "RobustnessTab"
        tab.attacks.setText("fgsm,pgd")
        tab.eps.setText("0.05,0.1")
        tab.device.setCurrentText("cpu")
        tab.extra_params = {"limit": 150, "demo_epochs": 6, "threads": 1}
        assert tab.params()["eps"] == ["0.05", "0.1"] and tab.params()["device"] == "cpu"
        job = tab.start("robustness")
        assert job is not None and job.pid != os.getpid()  # a worker process: torch stays out of the GUI
        qtbot.waitUntil(lambda: job.finished, timeout=120000)
        assert job.status == "done", job.result
        qtbot.waitUntil(lambda: set(tab.curves) == {"fgsm (original)", "pgd (original)"}, timeout=5000)
        xs, ys = tab.curves["pgd (original)"].getData()
        assert list(xs) == [0.0, 0.05, 0.1] and ys[0] > ys[-1]
        assert tab.table.rowCount() == 4
        assert tab.run_button.isEnabled() and not tab.cancel_button.isEnabled()
        row = next(i for i in range(4) if tab.table.item(i, 2).text() == "pgd" and tab.table.item(i, 3).text() == "0.1")
        tab.table.selectRow(row)
        assert tab.example_count == 6 and len(tab.gallery.ci.items) == 18  # clean, adversarial, |δ| for each
    finally:
        window.jobs.wait_all()
        window.close_project()
