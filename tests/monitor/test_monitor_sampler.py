"""Real sampling: system series, followed processes, no GPU, and an outbound connection noticed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from workbench_plugins.monitor.engine import Monitor
from workbench_plugins.monitor.gpu import GpuProbe
from workbench_plugins.monitor.sampler import SystemProbe, check_interval


def test_a_sample_has_the_system_series():
    probe = SystemProbe(pids=[os.getpid()], gpu=False)
    first = probe.sample()
    assert "net.connections" in first and "net.outbound" in first   # the socket scan runs at the start
    time.sleep(0.2)
    s = probe.sample()
    ncores = os.cpu_count()
    assert 0.0 <= s["cpu.total"] <= 100.0
    assert sum(1 for k in s if k.startswith("cpu.core")) == ncores
    assert 0.0 < s["mem.used_pct"] < 100.0 and s["mem.available"] > 0
    assert any(k.endswith(".rx_Bps") for k in s) and "load.1" in s
    assert s[f"proc.{os.getpid()}.rss"] > 1 << 20 and s[f"proc.{os.getpid()}.threads"] >= 1


def test_a_followed_process_that_exits_is_reported_once():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        probe = SystemProbe(pids=[child.pid], gpu=False, connections=False)
        assert f"proc.{child.pid}.rss" in probe.sample()
    finally:
        child.kill()
        child.wait()
    s = probe.sample()
    assert f"proc.{child.pid}.rss" not in s and probe.gone == [child.pid]
    with pytest.raises(ValueError, match="no process with pid"):
        probe.follow(child.pid)


def test_no_gpu_is_a_status_not_a_failure(monkeypatch):
    probe = GpuProbe()
    if not probe.available:                     # this machine: no driver or no device
        assert probe.status.startswith("no GPU:")
        assert probe.sample() == {} and probe.processes() == []
    monkeypatch.setitem(sys.modules, "pynvml", None)   # nvidia-ml-py not installed at all
    missing = GpuProbe()
    assert not missing.available and missing.status == "no GPU: nvidia-ml-py is not installed"
    assert missing.sample() == {}
    s = SystemProbe(gpu=True)
    assert s.gpu_status == "no GPU: nvidia-ml-py is not installed"
    assert not any(k.startswith("gpu") for k in s.sample())


def test_interval_bounds():
    assert check_interval(0.1) == 0.1 and check_interval("60") == 60.0
    for bad in (0.05, 61, "fast", None):
        with pytest.raises(ValueError, match="interval"):
            check_interval(bad)


@pytest.mark.enable_socket
def test_an_outbound_connection_is_noticed(tmp_path):
    # Only loopback may be used here, so the rule is told to treat 127.0.0.0/8 as "outside".
    alerts = []
    mon = Monitor(lambda batch: None, rules=[{"id": "outbound", "kind": "outbound", "severity": "HIGH",
                                              "ignore_networks": ["::1/128"]}],
                  on_alert=alerts.append, gpu=False, detect=False)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    # The rule watches the whole machine: other loopback connections (a Ray instance of another
    # test, a CI service) may fire too, so only this test's own port is judged.
    def ours():
        return [a for a in alerts if a.data.get("remote") == f"127.0.0.1:{port}"]
    mon.tick(1.0)
    assert not any(f":{port}" in str(a.data) for a in alerts)  # a listening socket is not a connection
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    mon.probe.connections_every = 0.0            # scan at every tick (lo traffic does not trigger it)
    mon.tick(2.0)
    firing = [a for a in ours() if a.state == "firing"]
    assert len(firing) == 1                      # the client side; the accepted side is inbound
    assert firing[0].data["remote"] == f"127.0.0.1:{port}"
    assert firing[0].data["local"] == f"127.0.0.1:{client.getsockname()[1]}"
    mon.tick(3.0)
    assert len([a for a in ours() if a.state == "firing"]) == 1   # once per connection
    client.close()
    accepted.close()
    server.close()
    mon.tick(4.0)
    assert [a.state for a in ours()][-1] == "resolved"
    mon.stop()
