"""File integrity by SHA-256, and the health score."""

from __future__ import annotations

import hashlib
import os

import pytest

from workbench_plugins.monitor.integrity import FileWatcher, sha256_file
from workbench_plugins.monitor.score import health_score, rates_from_tiers


def test_a_changed_watched_file_raises_an_alert(tmp_path):
    model = tmp_path / "model.safetensors"
    config = tmp_path / "config.json"
    model.write_bytes(os.urandom(3 << 20))
    config.write_text('{"layers": 4}')
    watcher = FileWatcher([model, config], rehash_every=0)
    assert watcher.check(1.0) == []
    before = sha256_file(str(model))
    with open(model, "r+b") as fh:                 # one flipped byte in the middle
        fh.seek(1 << 20)
        b = fh.read(1)
        fh.seek(1 << 20)
        fh.write(bytes([b[0] ^ 1]))
    alerts = watcher.check(2.0)
    assert [(a.kind, a.data["change"], a.data["path"]) for a in alerts] == [("integrity", "modified", str(model))]
    assert alerts[0].data["old_sha256"] == before
    assert alerts[0].data["new_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert watcher.check(3.0) == []                # one alert per change
    config.unlink()
    assert [a.data["change"] for a in watcher.check(4.0)] == ["deleted"]
    config.write_text('{"layers": 5}')
    assert [a.data["change"] for a in watcher.check(5.0)] == ["created"]


def test_a_change_with_the_old_mtime_is_caught_by_the_periodic_rehash(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"A" * 4096)
    st = os.stat(f)
    watcher = FileWatcher([f], rehash_every=3)
    f.write_bytes(b"B" * 4096)                     # same size ...
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and the old mtime
    # size, mtime and inode unchanged: the cheap checks cannot tell; every third check re-hashes
    assert watcher.check(1.0) == [] and watcher.check(2.0) == []
    assert [a.data["change"] for a in watcher.check(3.0)] == ["modified"]


def test_health_score_formula():
    assert health_score({}) is None
    assert health_score({"cpu.total": 0.0, "mem.used": 0.0}) == 100.0
    assert health_score({"a": 0.1, "b": 0.3}) == pytest.approx(100 * (0.9 + 0.7) / 2)
    assert health_score({"a": 0.1, "b": 0.3}, {"a": 3, "b": 1}) == pytest.approx(100 * (3 * 0.9 + 0.7) / 4)
    assert health_score({"a": 0.5}, {"a": 0}) is None
    with pytest.raises(ValueError):
        health_score({"a": 1.5})
    rows = [("1m", "a", 0, 60, 0, 0, 0, 6), ("1m", "a", 60, 60, 0, 0, 0, 0), ("1s", "a", 0, 1, 0, 0, 0, 1),
            ("1m", "b", 0, 60, 0, 0, 0, 30)]
    assert rates_from_tiers(rows) == {"a": 0.05, "b": 0.5}
