"""The numpy ring buffer behind the live plots (the plot kit's)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.gui.plots import RingBuffer


def test_wraps_keeps_order_and_slices_by_time():
    ring = RingBuffer(5)
    assert len(ring) == 0 and ring.last_time is None
    ring.extend([0, 1, 2], [10, 11, 12])
    ring.extend([3, 4, 5, 6], [13, 14, 15, 16])       # wraps: 0 and 1 fall out
    t, v = ring.view()
    assert t.tolist() == [2, 3, 4, 5, 6] and v.tolist() == [12, 13, 14, 15, 16]
    assert ring.view(since=4.5)[0].tolist() == [5, 6]
    ring.extend(np.arange(100, 120), np.arange(20))    # a batch larger than the ring
    assert ring.view()[0].tolist() == [115, 116, 117, 118, 119] and ring.last_time == 119
    with pytest.raises(ValueError):
        ring.extend([1, 2], [1])
    with pytest.raises(ValueError):
        RingBuffer(0)
