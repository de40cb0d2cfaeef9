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
        # The GPU line is read while the run goes: a reading with a GPU, the reason without one.
        from workbench_plugins.monitor.gpu import GpuProbe

        probe = GpuProbe()
        expected = " util " if probe.available else probe.status
        probe.close()
        assert expected and expected in tab.gpu.text(), tab.gpu.text()
        qtbot.waitUntil(lambda: job.finished, timeout=120000)
        assert job.status == "done", job.result
        qtbot.waitUntil(lambda: set(tab.curves) == {"fgsm (original)", "pgd (original)"}, timeout=5000)
        xs, ys = tab.curves["pgd (original)"].getData()
        assert list(xs) == [0.0, 0.05, 0.1] and ys[0] > ys[-1]
        assert tab.table.rowCount() == 4
        assert tab.run_button.isEnabled() and not tab.cancel_button.isEnabled()
        assert tab.gpu.text().endswith("(last reading, run done)"), tab.gpu.text()
        row = next(i for i in range(4) if tab.table.item(i, 2).text() == "pgd" and tab.table.item(i, 3).text() == "0.1")
        tab.table.selectRow(row)
        assert tab.example_count == 6 and len(tab.example_views) == 18  # clean, adversarial, δ for each
        assert tab.message.text() == ""

        # A malicious model picked in the tab: the run fails with the reason shown, and never runs it.
        import pickle

        import numpy as np

        marker = tmp_path / "PWNED"

        class Evil:
            def __reduce__(self):
                return (exec, (f"open({str(marker)!r}, 'w').close()",))

        (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil()))
        np.savez(tmp_path / "d.npz", x=np.zeros((4, 1, 8, 8), dtype=np.float32), y=np.arange(4))
        tab.demo.setChecked(False)
        tab.model.setText(str(tmp_path / "evil.pt"))
        tab.arch.setText("digits_cnn")
        tab.data.setText(str(tmp_path / "d.npz"))
        bad = tab.start("robustness")
        qtbot.waitUntil(lambda: bad.finished, timeout=120000)
        assert bad.status == "failed"
        qtbot.waitUntil(lambda: "refused: the pickle inside imports builtins.exec" in tab.message.text(), timeout=5000)
        assert "Traceback" not in tab.message.text() and not marker.exists()
    finally:
        window.jobs.wait_all()
        window.close_project()
