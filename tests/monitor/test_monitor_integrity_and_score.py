"""File integrity by SHA-256: single files and folders watched recursively through change notification,
the stat sweep and the periodic full re-hash."""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from workbench_plugins.monitor.integrity import FileWatcher, sha256_file


def _wait_for(watcher, ts, timeout=5.0, sweep=False):
    """Check until something is reported (notifications arrive on watchdog's thread)."""
    end = time.monotonic() + timeout
    while True:
        alerts = watcher.check(ts, sweep=sweep)
        if alerts or time.monotonic() > end:
            return alerts
        time.sleep(0.02)


def test_a_changed_watched_file_raises_an_alert(tmp_path):
    model = tmp_path / "model.safetensors"
    config = tmp_path / "config.json"
    model.write_bytes(os.urandom(3 << 20))
    config.write_text('{"layers": 4}')
    watcher = FileWatcher([model, config], notify=False)
    try:
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
    finally:
        watcher.close()


def _same_size_edit_with_old_mtime(f):
    st = os.stat(f)
    with open(f, "r+b") as fh:
        fh.write(b"B" * 4096)                          # same size, same inode ...
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))   # ... and the old mtime put back


def test_a_same_size_edit_with_the_mtime_restored_is_caught_by_the_change_notification(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"A" * 4096)
    watcher = FileWatcher([f], rehash_every_s=3600)
    try:
        assert "change notification" in watcher.mode
        _same_size_edit_with_old_mtime(f)
        alerts = _wait_for(watcher, 1.0)                # no sweep, no re-hash due: the event alone
        assert [(a.data["change"], a.data["path"]) for a in alerts] == [("modified", str(f))]
    finally:
        watcher.close()


def test_without_notifications_the_periodic_full_rehash_is_the_backstop(tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"A" * 4096)
    now = [0.0]
    watcher = FileWatcher([f], rehash_every_s=10.0, notify=False, clock=lambda: now[0])
    _same_size_edit_with_old_mtime(f)
    # size, mtime and inode unchanged: the stat sweep cannot tell ...
    assert watcher.check(1.0) == [] and watcher.check(2.0) == []
    now[0] = 10.0                                       # ... the full re-hash, due every 10 s, does
    assert [a.data["change"] for a in watcher.check(3.0)] == ["modified"]
    with pytest.raises(ValueError, match="re-hash interval"):
        FileWatcher([f], rehash_every_s=0)


def test_a_folder_is_watched_recursively(tmp_path):
    root = tmp_path / "models"
    (root / "v1").mkdir(parents=True)
    (root / "v1" / "a.bin").write_bytes(b"A" * 1024)
    (root / "v1" / "b.bin").write_bytes(b"B" * 1024)
    watcher = FileWatcher([root], rehash_every_s=3600)
    try:
        assert set(watcher.known) == {str(root / "v1" / "a.bin"), str(root / "v1" / "b.bin")}
        _same_size_edit_with_old_mtime(root / "v1" / "a.bin")
        assert [a.data["change"] for a in _wait_for(watcher, 1.0)] == ["modified"]
        (root / "v2" / "deep").mkdir(parents=True)      # a new folder, then a file in it
        (root / "v2" / "deep" / "c.bin").write_bytes(b"C")
        alerts = _wait_for(watcher, 2.0)
        new = str(root / "v2" / "deep" / "c.bin")
        assert [(a.data["change"], a.data["path"]) for a in alerts] == [("created", new)]
        (root / "v1" / "b.bin").unlink()
        assert [(a.data["change"], a.data["path"]) for a in _wait_for(watcher, 3.0)] == [
            ("deleted", str(root / "v1" / "b.bin"))]
        assert watcher.check(4.0) == []
    finally:
        watcher.close()
