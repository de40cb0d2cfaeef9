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
        tab.panel.set_values(attacks=["fgsm", "pgd"], eps=["0.05", "0.1"], device="cpu")
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
        tab.panel.set_values(target=str(tmp_path / "evil.pt"), arch="digits_cnn", data=str(tmp_path / "d.npz"))
        bad = tab.start("robustness")
        qtbot.waitUntil(lambda: bad.finished, timeout=120000)
        assert bad.status == "failed"
        qtbot.waitUntil(lambda: "refused: the pickle inside imports builtins.exec" in tab.message.text(), timeout=5000)
        assert "Traceback" not in tab.message.text() and not marker.exists()
    finally:
        window.jobs.wait_all()
        window.close_project()


def test_plot_at_1280x800_is_tall_labelled_and_shows_the_new_sweep_only(robustness_registered, tmp_path, qtbot,
                                                                         monkeypatch):
    """Issue 22: the accuracy-vs-ε plot at 1280×800 is at least 200 px tall, its legend below the
    curves, its axis label whole, and its x range that of the run shown (not the previous sweep's)."""
    import numpy as np

    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench.gui.api import open_window
    from workbench_plugins.robustness import store as S
    from workbench_plugins.robustness.evaluate import PointResult

    def point(attack, eps, accuracy):
        samples = {k: np.zeros(2, dtype=int) for k in ("index", "clean_pred", "adv_pred")}
        samples["index"] = np.arange(2)
        samples["norm"] = np.zeros(2)
        return PointResult(attack, "attack", eps, str(eps), "linf", accuracy, 1 - accuracy, 0.1, eps, {}, samples,
                           0.1, 2)

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    path = tmp_path / "r.wbproj"
    registry = load_plugins()
    with Project.create(path, plugins=registry.plugins) as project:
        from workbench.core.plugin_store import PluginStore

        store = PluginStore(project, "robustness")
        for sweep in ((0.5, 1.0, 2.0), (0.01, 0.03)):  # the earlier sweep spans a far wider ε range
            run = project.create_run("robustness", "robustness", {"target": "demo"}, target="demo")
            project.start_run(run)
            for i, eps in enumerate(sweep):
                S.save_point(store, run, "original", point("pgd", eps, 0.9 - 0.2 * i), np.zeros(2, dtype=int))
            project.finish_run(run, "done", summary={})
    window = open_window(path, size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    try:
        tab = window.show_plugin_tab("robustness")
        qtbot.waitUntil(lambda: tab.plot.view.height() > 0, timeout=5000)
        qtbot.wait(100)
        assert tab.plot.view.height() >= 200, tab.plot.view.height()
        assert tab.plot.legend.geometry().top() >= tab.plot.view.geometry().bottom()  # off the curves
        assert tab.plot.legend_names() == ["pgd (original)"]
        axis = tab.plot.plot_item.getAxis("left")
        assert axis.labelText == "robust accuracy"  # the whole word, not "robust accurac"
        assert axis.label.boundingRect().width() <= tab.plot.view.height()  # the rotated label is not cut
        low, high = tab.plot.plot_item.viewRange()[0]
        assert low <= 0.01 and 0.03 <= high < 0.5, (low, high)  # this sweep's ε only
        # robust accuracy in percent, on a fixed 0-100 axis that says so
        xs, ys = tab.curves["pgd (original)"].getData()
        assert list(xs) == [0.01, 0.03] and [round(y, 6) for y in ys] == [90.0, 70.0]
        assert axis.labelUnits == "%" and tab.plot.y_range == (0, 100)
        # the form's labels come from the params' field metadata; the demo hides the model's rows by name
        from PySide6.QtWidgets import QLabel

        labels = {w.buddy(): w.text() for w in tab.panel.findChildren(QLabel) if w.buddy() is not None}
        assert labels[tab.panel.fields["eps"]] == "ε (as written):"
        assert labels[tab.panel.fields["arch"]] == "Architecture:"
        assert tab.demo.isChecked() and tab.panel.fields["arch"].isHidden()
        tab.demo.setChecked(False)
        assert not tab.panel.fields["arch"].isHidden() and not tab.panel.fields["data"].isHidden()
        tab.demo.setChecked(True)
        assert tab.panel.fields["data"].isHidden() and not tab.panel.fields["eps"].isHidden()
    finally:
        window.close_project()


def test_examples_panel_follows_the_theme(robustness_registered, tmp_path, qtbot, monkeypatch):
    """The adversarial-examples panel (a graphics scene, not a styled widget) takes the palette's
    base colour when the theme changes: it stayed white in the dark theme."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from workbench.gui.api import open_window
    from workbench.gui.theme import apply_theme

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    window = open_window(tmp_path / "t.wbproj", size=(1280, 800), theme="light")
    qtbot.addWidget(window)
    app = QApplication.instance()
    try:
        tab = window.show_plugin_tab("robustness")
        qtbot.wait(50)

        def gallery_lightness():
            image = tab.gallery.grab().toImage()
            return image.pixelColor(5, 5).lightness()  # a corner: background, away from the hint text

        assert gallery_lightness() > 200
        for theme, dark in (("dark", True), ("light", False)):
            apply_theme(app, theme)
            qtbot.wait(50)
            base = tab.palette().color(QPalette.Base)
            assert tab.gallery.backgroundBrush().color() == base
            assert (gallery_lightness() < 100) if dark else (gallery_lightness() > 200), theme
    finally:
        apply_theme(app, "light")
        window.close_project()
