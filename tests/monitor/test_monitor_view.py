"""The Monitor tab's logic without Qt (``workbench_plugins.monitor.view``): groups, texts, the form's
parameters and the reads of a run, on a real project and a real short recording."""

from __future__ import annotations

import pytest


@pytest.fixture
def store(project):
    from workbench.core.plugin_store import PluginStore

    return PluginStore(project, "monitor")


def test_groups_and_the_per_machine_share_of_a_process():
    from workbench_plugins.monitor import view

    names = [g[0] for g in view.GROUPS]
    for series, title in (("cpu.total", "CPU"), ("cpu.core3", "CPU"), ("proc.42.cpu_pct", "CPU"),
                          ("mem.used_pct", "Memory"), ("disk.write_Bps", "Disk"), ("net.eth0.rx_Bps", "Network"),
                          ("gpu0.temp_c", "GPU"), ("job.robustness#3.accuracy", "Jobs")):
        assert names[view.group_of(series)] == title, series
    assert view.group_of("proc.42.rss") is None and view.group_of("weird") is None
    assert names[view.GPU] == "GPU" and names[view.JOBS] == "Jobs"
    assert view.is_process_cpu("proc.42.cpu_pct") and not view.is_process_cpu("cpu.total")


def test_the_forms_parameters_make_a_valid_job(project):
    from workbench.core.plugins import load_plugins
    from workbench_plugins.monitor import view

    params = view.recording_params(interval=0.5, duration=0, warmup=10, raw_keep_hours=0,
                                   logs=" /var/log/a.log ; ;/b.log", watch="", pids=[7])
    assert params["duration"] is None and params["raw_retention"] is None      # until stopped, all kept
    assert params["logs"] == ["/var/log/a.log", "/b.log"] and params["watch"] == [] and params["pids"] == [7]
    spec = load_plugins().get("monitor").job_spec("monitor", **params)
    assert spec is not None
    params = view.recording_params(interval=1, duration=60, warmup=5, raw_keep_hours=2, logs="", watch="", pids=())
    assert params["duration"] == 60.0 and params["raw_retention"] == 7200.0


def test_alert_texts_colours_and_log_html():
    from workbench_plugins.monitor import view

    alert = {"ts": 0.0, "severity": "HIGH", "state": "firing", "title": "SSH brute force", "message": "9 failures"}
    when, severity, state, text = view.alert_cells(alert)
    assert len(when) == 8 and when.count(":") == 2
    assert (severity, state, text) == ("HIGH", "firing", "SSH brute force: 9 failures")
    light, dark = view.alert_colour(alert, False), view.alert_colour(alert, True)
    assert light and dark and light != dark
    assert view.alert_colour({**alert, "state": "resolved"}, False) is None
    assert view.alert_colour({**alert, "severity": "LOW"}, True) is None
    hits = [{"rule": "sqli", "line": "GET /?q=<script>"}, {"rule": "oom", "line": "CUDA out of memory"}]
    page = view.log_html(hits, dark=False)
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert page.index("oom") < page.index("sqli")                       # the newest hit (first) comes last
    assert view.log_html(hits, dark=True) != page


def test_rules_and_weights_text_are_checked_and_weights_saved(store):
    from workbench_plugins.monitor import view
    from workbench_plugins.monitor.score import _weights

    assert view.parse_rules('[{"id": "x"}]') == [{"id": "x"}]
    for bad in ('{"id": "x"}', "[", ""):
        with pytest.raises(ValueError):
            view.parse_rules(bad)
    with pytest.raises(ValueError):
        view.parse_weights("[1, 2]")
    with pytest.raises((ValueError, TypeError)):
        view.parse_weights('{"resources": -1}')
    weights = view.parse_weights('{"resources": 3, "integrity": 0.5}')
    view.save_weights(store, weights)
    assert weights["resources"] == 3.0 and weights["integrity"] == 0.5 and "availability" in weights  # defaults
    assert _weights(store) == weights


def test_reads_of_a_run_marks_alerts_log_hits_and_tiers(store):
    from workbench_plugins.monitor import view

    t0 = 1_700_000_000.0
    tiers = [(1, "1s", "cpu.total", t0, 1, 50.0, 50.0, 50.0, 1), (1, "1s", "proc.9.cpu_pct", t0 + 1, 1, 400.0,
             400.0, 400.0, 2), (1, "1s", "proc.9.rss", t0 + 2, 1, 5.0, 5.0, 5.0, 1),
             (1, "1s", "mem.used_pct", t0 + 3, 1, 20.0, 20.0, 20.0, 0)]
    tiers += [(1, "1m", "mem.used_pct", t0 + 60 * i, 2, 10.0 * i, 0, 0, 0) for i in range(5)]
    with store.transaction():
        store.executemany("INSERT INTO monitor_tiers (run_id, tier, series, start, count, sum, min, max, anomalies) "
                          "VALUES (?,?,?,?,?,?,?,?,?)", tiers)
        store.executemany("INSERT INTO monitor_alerts (id, run_id, ts, rule, kind, state, severity, title, message, "
                          "data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                          [(f"a{i}", 1, t0 + i, "r", "threshold", "firing", "HIGH", f"alert {i}", "m", "{}")
                           for i in range(3)])
        store.execute("INSERT INTO monitor_log_hits (run_id, ts, path, offset, rule, key, line) "
                      "VALUES (1, ?, 'svc.log', 0, 'oom', 'k', 'CUDA out of memory')", (t0,))
    marks, since = view.new_marks(store, 1, 0.0)
    assert marks == [(0, t0, 50.0), (0, t0 + 1, 400.0 / view.CORES)]   # rss is in no plot: not marked
    assert since == t0 + 3                                   # past the last anomaly read, shown or not
    assert view.new_marks(store, 1, since) == ([], since)
    assert [a["title"] for a in view.alerts(store, 1)] == ["alert 2", "alert 1", "alert 0"]
    assert [h["rule"] for h in view.log_hits(store, 1)] == ["oom"]
    assert view.alerts(store, 2) == []
    # the 1 min tier: its end and series, then whole buckets before the oldest raw time only
    end, series = view.tier_series(store, 1, 600)
    assert end == t0 + 4 * 60 + 60 and series == ["mem.used_pct"]
    times, means = view.tier_means(store, 1, "mem.used_pct", 600, newest=t0 + 300, oldest=t0 + 180)
    assert list(times) == [t0, t0 + 60, t0 + 120] and list(means) == [0.0, 5.0, 10.0]
    assert view.tier_for(3600) == ("1m", 60) and view.tier_for(7 * 86400) == ("1h", 3600)
    assert view.tier_series(store, 1, 7 * 86400) == (None, [])


def test_warm_up_of_a_real_recording(project, store):
    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import load_plugins
    from workbench_plugins.monitor import view

    spec = load_plugins().get("monitor").job_spec("monitor", **view.recording_params(
        interval=0.2, duration=2.0, warmup=4, raw_keep_hours=0, logs="", watch="", pids=()), gpu=False)
    run_id, status, summary = run_in_process(project, spec)
    assert status == "done", summary
    done, n, interval, t0 = view.warmup_state(store, run_id)
    assert (n, interval) == (4, 0.2) and done >= n and t0 is not None
    text, learning = view.warmup_text(done, n, interval)
    assert not learning and "armed" in text and "0.8 s" in text
    text, learning = view.warmup_text(1, n, interval)
    assert learning and "1/4" in text
