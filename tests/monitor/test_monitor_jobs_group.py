"""Other plugins' job metrics live in the Monitor tab's Jobs group, the job workers are followed
automatically, and long windows fall back to the 1 min tier where raw samples were not kept."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def curves_registered(monitor_registered, tmp_path_factory):
    """``curvesjob = wb_monitor_testjobs:plugin`` through a dist-info on PYTHONPATH (with this folder)."""
    from workbench.core.plugins import load_plugins

    site = tmp_path_factory.mktemp("curves_ep")
    info = site / "wb_monitor_testjobs-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-monitor-testjobs\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[workbench.plugins]\ncurvesjob = wb_monitor_testjobs:plugin\n")
    old_path, old_env = list(sys.path), os.environ.get("PYTHONPATH", "")
    sys.path[:0] = [str(site), str(HERE)]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), str(HERE), old_env) if p)
    importlib.invalidate_caches()
    load_plugins(refresh=True)
    yield
    sys.path[:] = old_path
    os.environ["PYTHONPATH"] = old_env
    importlib.invalidate_caches()
    load_plugins(refresh=True)


@pytest.fixture
def window(tmp_path, qtbot, monkeypatch, curves_registered):
    from workbench.gui.app import create_window

    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    _, win = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(win)
    win.show()
    assert win.new_project(tmp_path / "jobs.wbproj")
    yield win
    win.jobs.wait_all()
    win.close_project()


def test_job_metrics_show_live_and_the_worker_is_followed(window, qtbot):
    from workbench.core.plugins import load_plugins

    tab = window.tab_for("monitor")
    curves = load_plugins().get("curvesjob")
    job = window.start_job(curves.job_spec("curves", epochs=8, pause=0.6))
    assert job is not None
    qtbot.waitUntil(lambda: job.run_id is not None and job.pid is not None, timeout=30000)
    tab.interval.setValue(0.5)
    tab.duration.setValue(5)
    mon = tab.start()
    assert mon is not None
    loss = f"job.curvesjob#{job.run_id}.train/loss"
    # live: some epochs are on screen while the job still runs
    qtbot.waitUntil(lambda: len(tab.buffers.get(loss, ())) >= 2, timeout=60000)
    seen_live = len(tab.buffers[loss])
    assert not job.finished or seen_live < 8
    qtbot.waitUntil(lambda: job.finished and mon.finished, timeout=90000)
    assert job.status == "done" and mon.status == "done", (job.result, mon.result)
    tab.poll_jobs()
    qtbot.wait(100)
    # every epoch exactly once: the reads were incremental, never a re-read of what was shown
    t, v = tab.buffers[loss].view()
    assert list(t) == list(range(8)) and v[0] == pytest.approx(2.0) and v[-1] == pytest.approx(0.25)
    tab.poll_jobs()
    assert len(tab.buffers[loss]) == 8
    assert loss in tab.step_series and list(tab.curves[loss].xData) == list(range(8))
    throughput = f"job.curvesjob#{job.run_id}.throughput"
    assert throughput not in tab.step_series and len(tab.buffers[throughput]) == 8
    assert tab.curves[loss] in tab.step_plots["epoch"].listDataItems()
    assert tab.curves[throughput] in tab.plots[-1].listDataItems()
    # the run ended: after one last read its series are no longer polled
    qtbot.waitUntil(lambda: {k for k in tab._job_since if k[0] == "curvesjob"} <= tab._job_done, timeout=10000)
    assert len(tab.buffers[loss]) == 8
    # the monitor job followed the curves worker without being told its pid
    recorded = tab.store.metric_series(mon.run_id)
    assert f"proc.{job.pid}.cpu_pct" in recorded, [s for s in recorded if s.startswith("proc.")]
    cpu = tab.store.metrics(f"proc.{job.pid}.cpu_pct", run_id=mon.run_id)
    assert max(value for _, value in cpu) > 0

    # a 24 h window over a run whose raw samples start late: the older part comes from the 1 min tier
    tab._show_run(None)
    tab._run_picked(0)
    run_id = tab.run_id
    assert run_id == mon.run_id
    raw = tab.store.metrics("cpu.total", run_id=run_id)
    oldest = raw[0][0]
    older = [(run_id, "1m", "cpu.total", oldest - 60 * (i + 1), 60, 60 * 42.0, 40.0, 44.0, 0) for i in range(120)]
    tab.store.executemany("INSERT OR REPLACE INTO monitor_tiers (run_id, tier, series, start, count, sum, min, max, "
                          "anomalies) VALUES (?,?,?,?,?,?,?,?,?)", older)
    tab.window_box.setCurrentIndex(3)   # 24 h
    tab.draw()
    xs = tab.curves["cpu.total"].xData
    assert len(xs) == len(raw) + 120
    assert list(tab.curves["cpu.total"].yData[:120]) == [42.0] * 120
    tab.window_box.setCurrentIndex(0)   # 1 min: raw only
    tab.draw()
    assert len(tab.curves["cpu.total"].xData) == len([p for p in raw if p[0] >= raw[-1][0] - 60])
    # retention removed every raw sample of that run: picked again, it is drawn from the tiers alone
    tab.window_box.setCurrentIndex(3)
    with tab.store.transaction():
        tab.store.execute("DELETE FROM metrics WHERE plugin='monitor' AND run_id=?", (run_id,))
    tab._show_run(None)
    tab._run_picked(0)
    tab.draw()
    ys = list(tab.curves["cpu.total"].yData)
    assert len(ys) >= 120 and ys[:120] == [42.0] * 120
