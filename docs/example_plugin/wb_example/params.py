"""The example job's parameters: the JobPanel builds its form from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CountParams:
    target: str             # the folder to read
    max_line: int = 100     # longer lines are reported

    def __post_init__(self) -> None:
        if self.max_line < 1:
            raise ValueError("max_line must be at least 1")
