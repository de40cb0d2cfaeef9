"""A fixed-size ring buffer of (time, value) samples in numpy arrays, for live plots.

Appending is O(1) per sample (O(n) per batch); :meth:`view` returns the
samples in time order as two contiguous arrays (one copy), which is what a
curve's ``setData`` takes. The tab appends as samples arrive and redraws from
a timer, never per sample.
"""

from __future__ import annotations


class RingBuffer:
    def __init__(self, capacity: int):
        import numpy as np

        if capacity < 1:
            raise ValueError("ring buffer capacity must be >= 1")
        self.capacity = capacity
        self._t = np.empty(capacity, dtype=np.float64)
        self._v = np.empty(capacity, dtype=np.float64)
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, times, values) -> None:
        import numpy as np

        t = np.asarray(times, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if t.shape != v.shape:
            raise ValueError("times and values differ in length")
        if len(t) >= self.capacity:        # only the newest capacity samples survive
            t, v = t[-self.capacity:], v[-self.capacity:]
        n = len(t)
        first = min(n, self.capacity - self._next)
        self._t[self._next:self._next + first] = t[:first]
        self._v[self._next:self._next + first] = v[:first]
        rest = n - first
        if rest:
            self._t[:rest] = t[first:]
            self._v[:rest] = v[first:]
        self._next = (self._next + n) % self.capacity
        self._size = min(self.capacity, self._size + n)

    def view(self, since: float | None = None):
        """(times, values) in time order, optionally only samples at or after ``since``."""
        import numpy as np

        if self._size < self.capacity:
            t, v = self._t[:self._size].copy(), self._v[:self._size].copy()
        else:
            t = np.concatenate((self._t[self._next:], self._t[:self._next]))
            v = np.concatenate((self._v[self._next:], self._v[:self._next]))
        if since is not None and len(t):
            i = int(np.searchsorted(t, since, side="left"))
            t, v = t[i:], v[i:]
        return t, v

    @property
    def last_time(self) -> float | None:
        return None if self._size == 0 else float(self._t[(self._next - 1) % self.capacity])
