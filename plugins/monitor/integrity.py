"""File integrity: watch model and config files, and whole folders, by SHA-256; any change is an alert.

Three ways a change is seen, from fastest to surest:

1. **Change notification** (watchdog: inotify on Linux, FSEvents on macOS,
   ReadDirectoryChangesW on Windows). Folders are watched recursively; a
   single file through its folder. Every path the platform reports is
   re-hashed at the next check (each sample), whatever its size and mtime say,
   so a same-size edit whose mtime was put back is still caught at once.
2. **Stat sweep** every ``sweep`` check (the monitor's ``watch_every``):
   size, mtime and inode of every known file; a file whose stamp moved is
   re-hashed. This covers a platform without notifications, or a watch the
   kernel refused (inotify's watch limit).
3. **Full re-hash** every ``rehash_every_s`` seconds (300 by default) as a
   backstop: every file hashed again and the folders walked again, since a
   careful tamperer can restore the mtime and events can be dropped (an
   inotify queue overflow).

Hashing streams the file in 1 MiB blocks, so a multi-GB checkpoint is never
held in memory. A file found in a watched folder after the start is
``created``; one that vanished is ``deleted``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass

from .rules import Alert


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class _Known:
    sha256: str | None      # None: the file was missing
    stamp: tuple | None     # (size, mtime_ns, inode)


def _stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _walk(folder: str) -> list[str]:
    out = []
    for root, _dirs, files in os.walk(folder):
        out.extend(os.path.join(root, f) for f in files)
    return out


class FileWatcher:
    def __init__(self, paths, *, rehash_every_s: float = 300.0, severity: str = "HIGH", actions=None,
                 baseline: dict[str, str | None] | None = None, notify: bool = True, clock=time.monotonic):
        if rehash_every_s is not None and rehash_every_s <= 0:
            raise ValueError(f"file integrity: the full re-hash interval must be > 0 s, got {rehash_every_s}")
        self.rehash_every_s = rehash_every_s
        self.severity = severity
        self.actions = actions if actions is not None else [{"type": "notify"}]
        self.clock = clock
        self.known: dict[str, _Known] = {}
        self.folders: list[str] = []
        self.files: list[str] = []
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._observer = None
        self.mode = "stat sweep and periodic re-hash (notifications off)"
        for p in paths:
            path = os.path.abspath(os.fspath(p))
            if os.path.isdir(path):
                self.folders.append(path)
                found = _walk(path)
            else:
                self.files.append(path)
                found = [path]
            for f in found:
                if baseline and f in baseline:
                    self.known[f] = _Known(baseline[f], None)  # re-hashed at the first check
                else:
                    self.known[f] = _Known(self._hash(f), _stamp(f))
        self._last_full = clock()
        if notify:
            self._start_notifications()

    @staticmethod
    def _hash(path: str) -> str | None:
        try:
            return sha256_file(path)
        except (FileNotFoundError, IsADirectoryError):
            return None
        except OSError as exc:
            raise ValueError(f"{path}: cannot read the file to watch: {exc.strerror or exc}") from None

    def _start_notifications(self) -> None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            self.mode = "stat sweep and periodic re-hash (watchdog not installed)"
            return
        watcher = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.event_type in ("opened", "closed_no_write"):
                    return  # reads (our own hashing included) change nothing
                paths = [event.src_path, getattr(event, "dest_path", "") or ""]
                with watcher._dirty_lock:
                    watcher._dirty.update(os.fsdecode(p) for p in paths if p)

        handler = _Handler()
        observer = Observer()
        folders = set(self.folders)
        # a single file through its folder (not recursive), unless a watched folder covers it
        parents = {os.path.dirname(f) for f in self.files
                   if not any(f.startswith(d + os.sep) for d in folders)}
        try:
            for d in sorted(folders):
                observer.schedule(handler, d, recursive=True)
            for d in sorted(parents):
                if os.path.isdir(d):
                    observer.schedule(handler, d, recursive=False)
            observer.start()
        except OSError as exc:  # inotify watch or instance limit: the sweeps still run
            self.mode = f"stat sweep and periodic re-hash (notifications refused: {exc.strerror or exc})"
            try:
                observer.stop()
            except Exception:  # noqa: BLE001 - it may never have started
                pass
            return
        self._observer = observer
        self.mode = f"change notification ({type(observer).__name__}) + stat sweep + full re-hash"

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None

    def baseline(self) -> dict[str, str | None]:
        return {p: k.sha256 for p, k in self.known.items()}

    def _watched(self, path: str) -> bool:
        return path in self.known or any(path.startswith(d + os.sep) for d in self.folders)

    def check(self, ts: float, sweep: bool = True) -> list[Alert]:
        """Re-hash what changed: the paths the platform reported (always), every file whose stamp moved
        (``sweep``), everything (when the full re-hash is due). Returns one alert per change."""
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        full = self.rehash_every_s is not None and self.clock() - self._last_full >= self.rehash_every_s
        if full:
            self._last_full = self.clock()
            for d in self.folders:
                for f in _walk(d):
                    self.known.setdefault(f, _Known(None, None))
        for path in list(dirty):
            if os.path.isdir(path):
                dirty.discard(path)
                # a folder created or moved in brings files no event named: pick up the unknown ones
                # (the known ones have events of their own when they change)
                if any(path == d or path.startswith(d + os.sep) for d in self.folders):
                    for f in _walk(path):
                        if f not in self.known:
                            self.known[f] = _Known(None, None)
                            dirty.add(f)
            elif path not in self.known and self._watched(path):
                self.known[path] = _Known(None, None)
        alerts = []
        todo = self.known.items() if (full or sweep) else [(p, self.known[p]) for p in dirty if p in self.known]
        for path, known in list(todo):
            stamp = _stamp(path)
            if not (full or path in dirty or known.stamp is None or (sweep and stamp != known.stamp)):
                continue
            try:
                digest = sha256_file(path) if stamp is not None else None
            except (FileNotFoundError, IsADirectoryError):
                digest, stamp = None, None
            except OSError as exc:
                alerts.append(self._alert(ts, path, "unreadable", known.sha256, None, str(exc.strerror or exc)))
                continue
            if digest != known.sha256:
                change = "deleted" if digest is None else "created" if known.sha256 is None else "modified"
                alerts.append(self._alert(ts, path, change, known.sha256, digest))
            if digest is None and path not in self.files:
                del self.known[path]   # gone from a watched folder: a new file there is "created"
            else:
                self.known[path] = _Known(digest, stamp)
        return alerts

    def _alert(self, ts, path, change, old, new, detail="") -> Alert:
        msg = f"{path} {change}" + (f": {detail}" if detail else "")
        if change == "modified":
            msg += f" (sha256 {old[:12]}… → {new[:12]}…)"
        return Alert("file_integrity", "integrity", "firing", self.severity, ts, f"Watched file {change}", msg,
                     None, None, {"path": path, "change": change, "old_sha256": old, "new_sha256": new,
                                  "concern": "integrity"},
                     self.actions)
