"""Follow a log file like ``tail -F``, across rotations, with bounded memory, resuming where it stopped.

Rotation is detected two ways:

* *rename* (``mv app.log app.log.1``; new ``app.log`` created): the path now
  names another inode. The old file is still open here; it is read to its end,
  and kept open for ``rotation_grace_s`` more in case the writer had not yet
  reopened, so a line written late to the old file is not lost. Then reading
  moves to the new file from its first byte.
* *copytruncate* (``cp app.log app.log.1; truncate app.log``): the same inode
  became shorter than what was read, or its first bytes changed. The lines
  written between the last read and the copy are only in the copy, so the
  copy is found (a file next to the log whose first bytes are the log's old
  first bytes) and read from the old offset before the truncated file is read
  from its start. (Lines written between the copy and the truncation are lost
  by copytruncate itself; logrotate documents that.)

``state()`` is a small dict (device, inode, offset of the first unread line,
the file's first bytes); give it back as ``state=`` to resume, also after a
rotation that happened while nothing was following.

Hostile input: a line longer than ``max_line`` bytes is handed out cut to
``max_line`` bytes with ``truncated=True`` and the rest is skipped as it is
read, never held; invalid UTF-8 is decoded with U+FFFD and marked; one poll
reads at most ``max_bytes_per_poll`` bytes, so a huge burst (or a 1 GB line)
is worked through over several polls instead of stalling the caller.
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass

HEAD_BYTES = 256
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip")


@dataclass
class LogLine:
    path: str
    text: str
    offset: int            # byte offset of the line's start in the file it was read from
    truncated: bool = False
    invalid_utf8: bool = False


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), True


class _Reader:
    """One open file: read position, partial line and skip state."""

    def __init__(self, path: str, fd: int, offset: int = 0, skipping: bool = False):
        self.path = path
        self.fd = fd
        st = os.fstat(fd)
        self.dev, self.ino = st.st_dev, st.st_ino
        self.pos = offset
        self.buf = bytearray()
        self.skipping = skipping
        self.head = b""
        os.lseek(fd, offset, os.SEEK_SET)
        self.refresh_head()

    @property
    def offset(self) -> int:
        """Where the first line not yet handed out starts."""
        return self.pos - len(self.buf)

    def refresh_head(self) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head = os.pread(self.fd, HEAD_BYTES, 0)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class LogFollower:
    def __init__(self, path, *, max_line: int = 64 * 1024, max_bytes_per_poll: int = 16 << 20,
                 chunk: int = 64 * 1024, rotation_grace_s: float = 2.0, state: dict | None = None,
                 start_at_end: bool = False, clock=time.monotonic):
        if max_line < 16:
            raise ValueError("max_line must be at least 16 bytes")
        self.path = os.fspath(path)
        self.max_line = max_line
        self.max_bytes_per_poll = max_bytes_per_poll
        self.chunk = chunk
        self.rotation_grace_s = rotation_grace_s
        self.clock = clock
        self._cur: _Reader | None = None
        self._old: list[tuple[_Reader, float]] = []  # rotated-away files still being drained, with deadline
        self._saved = state
        self._start_at_end = start_at_end
        self.rotations = 0
        self.errors: list[str] = []

    # ------------------------------------------------------------------ public
    def poll(self) -> list[LogLine]:
        out: list[LogLine] = []
        budget = [self.max_bytes_per_poll]
        now = self.clock()
        for reader, deadline in list(self._old):
            try:
                rewritten = os.fstat(reader.fd).st_size < reader.pos
            except OSError:
                rewritten = True
            if rewritten:  # the rotated file was overwritten in place: nothing more of ours in it
                self._finish(reader, out)
                self._old.remove((reader, deadline))
                continue
            self._drain(reader, out, budget)
            if budget[0] > 0 and now >= deadline:
                self._finish(reader, out)
                self._old.remove((reader, deadline))
        if self._cur is None:
            self._open_first(out, budget)
            if self._cur is None:
                return out
        # Truncation first: after a copytruncate the old offset points into new, unrelated bytes.
        self._check_truncation(out, budget)
        self._drain(self._cur, out, budget)
        if budget[0] <= 0:
            return out  # more to read: carry on at the next poll before looking for a rename
        self._check_rename(out, budget)
        return out

    def state(self) -> dict:
        r = self._cur
        if r is None:
            return dict(self._saved) if self._saved else {"path": self.path}
        return {"path": self.path, "dev": r.dev, "ino": r.ino, "offset": r.offset, "skipping": r.skipping,
                "head": r.head[:HEAD_BYTES].hex()}

    def close(self) -> None:
        for reader, _ in self._old:
            reader.close()
        self._old.clear()
        if self._cur is not None:
            self._cur.close()
            self._cur = None

    # ----------------------------------------------------------------- opening
    def _open(self, path: str, offset: int = 0, skipping: bool = False) -> _Reader | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._error(f"{path}: cannot open: {exc.strerror or exc}")
            return None
        return _Reader(path, fd, offset, skipping)

    def _open_first(self, out: list, budget: list) -> None:
        saved, self._saved = self._saved, None
        try:
            st = os.stat(self.path)
        except OSError:
            st = None
        if saved and saved.get("ino") is not None:
            head = bytes.fromhex(saved.get("head", ""))
            offset = int(saved.get("offset", 0))
            skipping = bool(saved.get("skipping"))
            if st is not None and (st.st_dev, st.st_ino) == (saved["dev"], saved["ino"]):
                reader = self._open(self.path)
                if reader is not None and reader.head[:len(head)] == head and os.fstat(reader.fd).st_size >= offset:
                    os.lseek(reader.fd, offset, os.SEEK_SET)
                    reader.pos, reader.skipping = offset, skipping
                    self._cur = reader
                    return
                if reader is not None:  # truncated while we were away: the rest is in the copy
                    self._recover_from_copy(head, offset, skipping, out, budget, exclude=(reader.dev, reader.ino))
                    self._cur = reader
                    return
            else:
                old = self._find_rotated(saved["dev"], saved["ino"], head)
                if old is not None:
                    reader = self._open(old)
                    if reader is not None:
                        os.lseek(reader.fd, offset, os.SEEK_SET)
                        reader.pos, reader.skipping = offset, skipping
                        self._old.append((reader, self.clock()))
                        self._drain(reader, out, budget)
                        self.rotations += 1
        self._cur = self._open(self.path)
        if self._cur is not None and self._start_at_end and not saved:
            end = os.fstat(self._cur.fd).st_size
            os.lseek(self._cur.fd, end, os.SEEK_SET)
            self._cur.pos = end

    def _find_rotated(self, dev: int, ino: int, head: bytes) -> str | None:
        """The file next to the log that is the old log: same inode (renamed) or same first bytes (copied)."""
        cands = [p for p in glob.glob(glob.escape(self.path) + ".*") + glob.glob(glob.escape(self.path) + "-*")
                 if not p.endswith(_COMPRESSED)]
        best = None
        for p in cands:
            try:
                st = os.stat(p)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (dev, ino):
                return p
            if head and best is None:
                try:
                    with open(p, "rb") as fh:
                        if fh.read(len(head)) == head:
                            best = p
                except OSError:
                    continue
        return best

    # ---------------------------------------------------------------- rotation
    def _check_rename(self, out: list, budget: list) -> None:
        r = self._cur
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # renamed away, new file not there yet: keep reading the old one
        except OSError as exc:
            self._error(f"{self.path}: {exc.strerror or exc}")
            return
        if (st.st_dev, st.st_ino) != (r.dev, r.ino):
            new = self._open(self.path)
            if new is None:
                return
            self.rotations += 1
            self._old.append((r, self.clock() + self.rotation_grace_s))
            self._cur = new
            self._drain(new, out, budget)
        elif len(r.head) < HEAD_BYTES:
            r.refresh_head()

    def _check_truncation(self, out: list, budget: list) -> None:
        r = self._cur
        try:
            size = os.fstat(r.fd).st_size
            head_now = os.pread(r.fd, len(r.head), 0) if r.head else b""
        except OSError as exc:
            self._error(f"{r.path}: {exc.strerror or exc}")
            return
        if size < r.pos or head_now != r.head:
            old_head, old_offset, old_skip = r.head, r.offset, r.skipping
            self.rotations += 1
            self._recover_from_copy(old_head, old_offset, old_skip, out, budget, exclude=(r.dev, r.ino))
            r.buf.clear()
            r.pos, r.skipping, r.head = 0, False, b""
            os.lseek(r.fd, 0, os.SEEK_SET)
            r.refresh_head()

    def _recover_from_copy(self, head: bytes, offset: int, skipping: bool, out: list, budget: list,
                           exclude) -> None:
        if not head:
            return
        copy = self._find_rotated(-1, -1, head)
        if copy is None:
            self._error(f"{self.path}: truncated (copytruncate?) and no copy found next to it; "
                        "lines written just before the truncation may be missing")
            return
        reader = self._open(copy)
        if reader is None or (reader.dev, reader.ino) == tuple(exclude):
            return
        if os.fstat(reader.fd).st_size < offset:
            reader.close()
            return
        os.lseek(reader.fd, offset, os.SEEK_SET)
        reader.pos, reader.skipping = offset, skipping
        # the copy is complete already: read it to the end now, however long, then let it go
        unlimited = [1 << 62]
        self._drain(reader, out, unlimited)
        self._finish(reader, out)

    def _finish(self, reader: _Reader, out: list) -> None:
        """A file we leave: its unterminated last line is still a line."""
        if reader.buf and not reader.skipping:
            self._emit(reader, bytes(reader.buf), out, truncated=False)
        reader.buf.clear()
        reader.close()

    # ----------------------------------------------------------------- reading
    def _drain(self, r: _Reader, out: list, budget: list) -> None:
        while budget[0] > 0:
            if r.skipping:
                self._skip_hole(r)
            size = self.chunk if not r.skipping else max(self.chunk, 1 << 20)
            try:
                data = os.read(r.fd, min(size, budget[0]))
            except OSError as exc:
                self._error(f"{r.path}: read failed: {exc.strerror or exc}")
                return
            if not data:
                return
            budget[0] -= len(data)
            self._feed(r, data, out)

    @staticmethod
    def _skip_hole(r: _Reader) -> None:
        """While skipping an overlong line, jump over a sparse hole: it is all zero bytes, so no newline."""
        seek_data = getattr(os, "SEEK_DATA", None)
        if seek_data is None:
            return
        try:
            nxt = os.lseek(r.fd, r.pos, seek_data)
        except OSError:
            # ENXIO: nothing but a hole up to the end of the file (or no SEEK_DATA support here)
            try:
                end = os.fstat(r.fd).st_size
                nxt = end if end > r.pos and os.lseek(r.fd, 0, os.SEEK_CUR) == r.pos else r.pos
            except OSError:
                nxt = r.pos
        if nxt > r.pos:
            r.pos = nxt
        os.lseek(r.fd, r.pos, os.SEEK_SET)

    def _feed(self, r: _Reader, data: bytes, out: list) -> None:
        i, n = 0, len(data)
        while i < n:
            nl = data.find(b"\n", i)
            if r.skipping:
                if nl < 0:
                    r.pos += n - i
                    return
                r.pos += nl + 1 - i
                r.skipping = False
                i = nl + 1
                continue
            end = n if nl < 0 else nl
            room = self.max_line - len(r.buf)
            if end - i > room:
                r.buf += data[i:i + room]
                r.pos += room
                self._emit(r, bytes(r.buf), out, truncated=True)
                r.buf.clear()
                i += room
                r.skipping = True
                continue
            r.buf += data[i:end]
            r.pos += end - i
            if nl < 0:
                return
            r.pos += 1
            line = bytes(r.buf)
            r.buf.clear()
            self._emit(r, line, out, truncated=False, start=r.pos - len(line) - 1)
            i = nl + 1

    def _emit(self, r: _Reader, raw: bytes, out: list, *, truncated: bool, start: int | None = None) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        text, bad = _decode(raw)
        if start is None:
            start = r.pos - len(raw)
        out.append(LogLine(r.path, text, start, truncated, bad))

    def _error(self, message: str) -> None:
        if not self.errors or self.errors[-1] != message:
            self.errors.append(message)
