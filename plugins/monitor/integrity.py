"""File integrity: watch chosen model and config files by SHA-256; any change is an alert.

A check first compares size, mtime and inode (cheap); the file is re-hashed
when one of them moved, and also every ``rehash_every`` checks, since a
careful tamperer can restore the mtime. Hashing streams the file in 1 MiB
blocks, so a multi-GB checkpoint is never held in memory.
"""

from __future__ import annotations

import hashlib
import os
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
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class FileWatcher:
    def __init__(self, paths, *, rehash_every: int = 60, severity: str = "HIGH", actions=None,
                 baseline: dict[str, str | None] | None = None):
        self.rehash_every = rehash_every
        self.severity = severity
        self.actions = actions if actions is not None else [{"type": "notify"}]
        self._checks = 0
        self.known: dict[str, _Known] = {}
        for p in paths:
            path = os.path.abspath(os.fspath(p))
            if baseline and path in baseline:
                self.known[path] = _Known(baseline[path], None)  # re-hashed at the first check
            else:
                self.known[path] = _Known(self._hash(path), _stamp(path))

    @staticmethod
    def _hash(path: str) -> str | None:
        try:
            return sha256_file(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(f"{path}: cannot read the file to watch: {exc.strerror or exc}") from None

    def baseline(self) -> dict[str, str | None]:
        return {p: k.sha256 for p, k in self.known.items()}

    def check(self, ts: float) -> list[Alert]:
        self._checks += 1
        full = self.rehash_every and self._checks % self.rehash_every == 0
        alerts = []
        for path, known in self.known.items():
            stamp = _stamp(path)
            if stamp == known.stamp and not full and stamp is not None:
                continue
            try:
                digest = sha256_file(path) if stamp is not None else None
            except FileNotFoundError:
                digest, stamp = None, None
            except OSError as exc:
                alerts.append(self._alert(ts, path, "unreadable", known.sha256, None, str(exc.strerror or exc)))
                continue
            if digest != known.sha256:
                change = "deleted" if digest is None else "created" if known.sha256 is None else "modified"
                alerts.append(self._alert(ts, path, change, known.sha256, digest))
            self.known[path] = _Known(digest, stamp)
        return alerts

    def _alert(self, ts, path, change, old, new, detail="") -> Alert:
        msg = f"{path} {change}" + (f": {detail}" if detail else "")
        if change == "modified":
            msg += f" (sha256 {old[:12]}… → {new[:12]}…)"
        return Alert("file_integrity", "integrity", "firing", self.severity, ts, f"Watched file {change}", msg,
                     None, None, {"path": path, "change": change, "old_sha256": old, "new_sha256": new},
                     self.actions)
