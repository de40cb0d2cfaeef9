"""workbench.core.cluster on a real local Ray instance (two CPUs, loopback)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra"),
              pytest.mark.enable_socket]


def test_parse_address_and_auto(monkeypatch, tmp_path):
    from workbench.core import cluster

    assert cluster.parse_address("10.0.0.5:6379")[:2] == ("10.0.0.5", 6379)
    assert cluster.parse_address("ray://head.lab:10001")[:2] == ("head.lab", 10001)
    assert cluster.parse_address("[fd00::1]:6379")[:2] == ("fd00::1", 6379)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6380")
    assert cluster.parse_address("auto")[:2] == ("127.0.0.1", 6380)
    monkeypatch.delenv("RAY_ADDRESS")
    monkeypatch.setattr(cluster, "CURRENT_CLUSTER_FILE", str(tmp_path / "none"))
    with pytest.raises(cluster.ClusterError, match="no running cluster"):
        cluster.parse_address("auto")
    with pytest.raises(cluster.ClusterError, match="not a port"):
        cluster.parse_address("head:abc")


def test_guard_allows_exactly_the_cluster_host():
    from workbench.core import cluster, netguard

    before = set(netguard.allowed_hosts())
    try:
        assert cluster.allow("ray://head.example.lab:10001") == ("head.example.lab", "ray://head.example.lab:10001")
        assert set(netguard.allowed_hosts()) - before == {"head.example.lab"}
    finally:
        netguard._allowed.discard("head.example.lab")  # the rest of the session stays as it was


def test_unreachable_address_fails_at_once():
    from workbench.core import cluster

    start = time.monotonic()
    with pytest.raises(cluster.ClusterError, match="cannot reach 127.0.0.1:1"):
        cluster.connect("127.0.0.1:1")  # nothing listens on loopback port 1
    assert time.monotonic() - start < 30


def test_without_ray_flag_ray_is_never_imported(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("import pickle\npickle.loads(b'')\n")
    code = ("import sys; from workbench.cli import main; "
            f"rc = main(['audit', {str(tree)!r}, '-p', {str(tmp_path / 'p.wbproj')!r}]); "
            "assert 'ray' not in sys.modules, 'ray imported'; print('RC', rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "RC 0" in out.stdout


def test_nodes_tasks_retry_failure_and_cancel(ray_cluster, tmp_path):
    import cluster_tasks

    from workbench.core import cluster
    from workbench.core.jobs import Cancelled

    nodes = ray_cluster.nodes()
    assert len(nodes) == 1 and nodes[0]["cpus"] == 2 and nodes[0]["gpus"] == 0
    assert nodes[0]["address"] == "127.0.0.1"  # loopback only
    assert "2 CPU" in ray_cluster.describe()

    got = dict(ray_cluster.run_tasks(cluster_tasks.square, [(i, (i,)) for i in range(10)]))
    assert got == {i: i * i for i in range(10)}

    # a worker process that dies mid-task: Ray reruns the task (bounded retries), same result
    marker = str(tmp_path / "died")
    alive = tmp_path / "alive"
    alive.write_text("")
    got = dict(ray_cluster.run_tasks(cluster_tasks.die_once, [(i, (i, marker if i == 3 else str(alive)))
                                                               for i in range(4)]))
    assert os.path.exists(marker)
    assert got == {i: i * i for i in range(4)}

    # a task that raises: stops the run with that task's error, what finished before is kept
    kept = []
    with pytest.raises(cluster.TaskFailed, match="bad item 1") as info:
        for key, value in ray_cluster.run_tasks(cluster_tasks.fail, [(1, (1,))]):
            kept.append(key)
    assert info.value.key == 1 and kept == []

    # Cancel: the tasks that are running are cancelled (ray.cancel), none finishes
    folder = tmp_path / "slow"
    folder.mkdir()

    class Ctx:  # the user presses Cancel once both tasks are running
        def cancelled(self):
            return len(list(folder.glob("started-*"))) == 2

    start = time.monotonic()
    with pytest.raises(Cancelled):
        list(ray_cluster.run_tasks(cluster_tasks.slow, [(i, (i, str(folder))) for i in range(2)], ctx=Ctx()))
    time.sleep(1)
    assert not list(folder.glob("finished-*"))
    assert time.monotonic() - start < 30


def test_batched_groups():
    from workbench.core.cluster import batched

    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
