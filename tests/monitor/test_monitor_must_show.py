"""The issue's must-show: a live recording with a staged CPU spike and memory spike, an sshd brute force
(lines appended to a log the recording follows), a web SQL injection and a same-size file edit with the
mtime put back. Each is an alert in the CLI output, in the summary JSON and in the Monitor tab, and the
health score M of that recording is lower than a quiet recording's by at least MARGIN points."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

MARGIN = 20.0          # points of M between the quiet and the staged recording
INTERVAL, WARMUP = 0.2, 8

# The staged process: idle until told to, then one core busy for 1.5 s, then 400 MiB touched and held for 1 s.
STAGE = r"""
import os, sys, time
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.05)
end = time.monotonic() + 1.5
while time.monotonic() < end:
    pass
block = b"\x01" * (400 << 20)
time.sleep(1.0)
del block
time.sleep(60)
"""

SSH = "Dec  7 06:10:{s:02d} bastion sshd[{pid}]: Failed password for {who} from 203.0.113.45 port {port} ssh2\n"
SQLI = ('203.0.113.80 - - [07/Dec/2026:06:10:00 +0000] "GET /products?id=1%27%20UNION%20SELECT%20username,'
        'password%20FROM%20users-- HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n')
BENIGN_WEB = '198.51.100.7 - - [07/Dec/2026:06:10:00 +0000] "GET /products?id=42 HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'


def _samples_flushed(db: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT MAX(samples) FROM monitor_flushes").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return 0
    return int(row[0] or 0)


def _record(tmp_path, name, staged: bool, duration: float, capsys):
    """One `workbench monitor` recording (in this process, as the command runs it) of a folder, two logs
    and a followed process; with ``staged`` the events are set off once the warm-up is over."""
    from workbench.cli import main
    from workbench.core.plugin_store import PluginStore
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench_plugins.monitor.store import save_rules
    from workbench_plugins.monitor.rules import DEFAULT_RULES

    base = tmp_path / name
    models = base / "models" / "v1"
    models.mkdir(parents=True)
    weights = models / "weights.bin"
    weights.write_bytes(b"A" * 65536)
    auth, access = base / "auth.log", base / "access.log"
    auth.write_text("Dec  7 06:00:00 bastion sshd[100]: Server listening on 0.0.0.0 port 22.\n")
    access.write_text(BENIGN_WEB)
    db = str(base / "mon.wbproj")
    with Project.create(db, plugins=load_plugins().plugins) as project:
        # the machine's own outbound traffic (a package download next door) is not this test's business
        save_rules(PluginStore(project, "monitor"), [r for r in DEFAULT_RULES if r["kind"] != "outbound"])
    go = base / "go"
    child = subprocess.Popen([sys.executable, "-c", STAGE, str(go)])

    def stage():
        end = time.monotonic() + duration + 30
        while _samples_flushed(db) < WARMUP + 3 and time.monotonic() < end:
            time.sleep(0.05)
        if staged:
            go.touch()
            with open(auth, "a") as fh:                  # a brute force: six guesses in a few seconds
                for i in range(6):
                    fh.write(SSH.format(s=10 + i, pid=4100 + i, who="root" if i % 2 else "invalid user admin",
                                        port=50000 + i))
            with open(access, "a") as fh:
                fh.write(SQLI)
            st = os.stat(weights)                        # same size, old mtime
            with open(weights, "r+b") as fh:
                fh.write(b"B" * 16)
            os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            with open(auth, "a") as fh:
                fh.write("Dec  7 06:10:10 bastion sshd[4300]: Accepted publickey for deploy from 198.51.100.7 "
                         "port 40022 ssh2\n")
            with open(access, "a") as fh:
                fh.write(BENIGN_WEB)

    stager = threading.Thread(target=stage)
    summary = base / "summary.json"
    capsys.readouterr()
    stager.start()
    try:
        rc = main(["monitor", "-p", db, "--duration", str(duration), "--interval", str(INTERVAL),
                   "--warmup", str(WARMUP), "--flush", "0.5", "--log", str(auth), "--log", str(access),
                   "--watch", str(base / "models"), "--pid", str(child.pid), "--no-gpu",
                   "--summary-json", str(summary)])
    finally:
        stager.join()
        child.kill()
        child.wait()
    out = capsys.readouterr().out
    assert rc == 0, out
    return db, out, json.loads(summary.read_text()), child.pid


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, monitor_registered):
    # module scope: the GUI test below reads the same recording back; capsys is function-scoped, so
    # stdout is captured by hand here
    import contextlib
    import io

    class _Cap:
        def __init__(self):
            self.buf = io.StringIO()

        def readouterr(self):
            class R:
                pass
            r = R()
            r.out = self.buf.getvalue()
            self.buf.seek(0)
            self.buf.truncate()
            return r

    cap = _Cap()
    tmp = tmp_path_factory.mktemp("mustshow")
    with contextlib.redirect_stdout(cap.buf):
        staged = _record(tmp, "staged", True, 7.0, cap)
        quiet = _record(tmp, "quiet", False, 4.0, cap)
    return staged, quiet


def test_staged_events_are_alerts_in_the_cli_and_the_summary_and_lower_m(recordings):
    (db, out, summary, pid), (_, quiet_out, quiet, _) = recordings
    print(out)
    rules = {(a["rule"], a["series"]) for a in summary["alert_list"]}
    expected = {("anomaly", f"proc.{pid}.cpu_pct"), ("anomaly", f"proc.{pid}.rss"), ("ssh_brute_force", None),
                ("web_sql_injection", None), ("file_integrity", None)}
    assert expected <= rules, summary["alert_list"]
    # ... and each was printed as it fired
    lines = [ln for ln in out.splitlines() if ln.startswith("ALERT ")]
    assert any(f"proc.{pid}.cpu_pct" in ln for ln in lines)
    assert any(f"proc.{pid}.rss" in ln for ln in lines)
    assert any("SSH brute force" in ln and "203.0.113.45" in ln for ln in lines)
    assert any("SQL injection" in ln for ln in lines)
    assert any("weights.bin modified" in ln for ln in lines)
    assert "warm-up: the first 8 samples" in out and "warm-up done" in out
    # M and its terms are in the output and the summary
    assert "M terms" in out and summary["health_terms"]["integrity"]["u"] >= 0.9
    assert summary["health_terms"]["intrusion"]["u"] >= 0.9
    assert summary["warmup_samples"] == WARMUP
    # the quiet recording saw none of it, and its M is higher by the margin
    quiet_rules = {a["rule"] for a in quiet["alert_list"]}
    assert not quiet_rules & {"ssh_brute_force", "web_sql_injection", "file_integrity"}
    assert quiet["health_terms"]["integrity"]["u"] == 0 and quiet["health_terms"]["intrusion"]["u"] == 0
    print(f"M staged {summary['health_score']:.1f}, quiet {quiet['health_score']:.1f}")
    assert summary["health_score"] <= quiet["health_score"] - MARGIN
    # the report's score reads the same alerts back from the project
    from workbench.core.plugin_store import PluginStore
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench_plugins.monitor import plugin

    with Project.open(db, plugins=load_plugins().plugins) as project:
        store = PluginStore(project, "monitor")
        assert plugin.score(store) == pytest.approx(summary["health_score"], abs=0.06)
        blocks = plugin.report_sections(store, {})[0].blocks
        tables = {getattr(b, "caption", None): b for b in blocks}
        assert "Health score terms" in tables
        alert_rows = tables["Alerts"].rows
        assert any("SQL injection" in r[2] for r in alert_rows) and any(f"proc.{pid}.rss" in r[3] for r in alert_rows)


def test_the_tab_shows_the_staged_alerts_and_the_terms_of_m(recordings, qtbot, tmp_path, monkeypatch):
    from workbench.gui.app import create_window

    (db, _, summary, pid), _ = recordings
    monkeypatch.setenv("WORKBENCH_SETTINGS_DIR", str(tmp_path / "settings"))
    _, win = create_window(None, theme="light", reopen_last=False)
    qtbot.addWidget(win)
    win.resize(1500, 900)
    win.show()
    try:
        assert win.open_project(db)
        tab = win.tab_for("monitor")
        win.tabs.setCurrentWidget(tab)
        tab.refresh()
        qtbot.waitUntil(lambda: tab.alerts.rowCount() >= 5, timeout=10000)
        texts = [tab.alerts.item(i, 3).text() for i in range(tab.alerts.rowCount())]
        for needle in (f"proc.{pid}.cpu_pct", f"proc.{pid}.rss", "SSH brute force", "SQL injection",
                       "weights.bin modified"):
            assert any(needle in t for t in texts), (needle, texts)
        assert tab.score_label.text().startswith("M = ")
        assert float(tab.score_label.text()[4:]) == pytest.approx(summary["health_score"], abs=0.06)
        for concern in ("availability", "resources", "integrity", "intrusion", "model_service"):
            assert concern in tab.terms_label.text()
        assert tab.warmup_label.text().startswith("detector armed (warm-up: first 8 samples")
        qtbot.wait(300)
        assert any(r.isVisible() for r in tab.warm_regions)
        if os.environ.get("MONITOR_SHOTS"):
            tab.grab().save(os.path.join(os.environ["MONITOR_SHOTS"], "monitor_tab_staged.png"))
    finally:
        win.close_project()
