"""Rate and ETA stay sensible when the first report jumps (cached results)."""

from __future__ import annotations

import io
import time

from workbench.core.progress import ProgressTracker, TerminalProgress, format_duration


def test_a_jump_at_the_start_gives_no_absurd_rate():
    t = ProgressTracker()
    t.start()
    t.update(900, 1000)  # 900 files came from the cache at once
    assert t.rate is None and t.eta is None
    time.sleep(ProgressTracker.MIN_WINDOW + 0.1)
    t.update(910, 1000)
    assert t.rate is not None and t.rate < 100  # 10 files in about half a second, not 900
    assert t.eta is not None and t.eta > 1


def test_terminal_bar_line_and_durations():
    stream = io.StringIO()
    bar = TerminalProgress("audit", stream=stream, unit="files")
    bar(5, 10, "bandit")
    bar(10, 10, "done")
    text = stream.getvalue()
    assert "10/10 files" in text and "done" in text
    assert format_duration(3725) == "1:02:05" and format_duration(None) == "--:--"
