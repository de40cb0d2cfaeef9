"""Long lines: the minimal example plugin of docs/plugins.md.

It counts the lines of every text file under a folder, reports each file with
lines longer than a limit as a LOW finding, records the line lengths as a
metric, and scores the share of files within the limit. Small on purpose:
every part of the plugin contract appears once.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from workbench.api import JobDef, Plugin


@dataclass
class CountParams:
    target: str             # the folder to read
    max_line: int = 100     # longer lines are reported

    def __post_init__(self) -> None:
        if self.max_line < 1:
            raise ValueError("max_line must be at least 1")


class ExamplePlugin(Plugin):
    id = "example"
    title = "Long lines"
    version = "1.0.0"
    tab = "wb_example.tab:ExampleTab"
    migrations = (
        (1, "CREATE TABLE example_files (run_id INTEGER NOT NULL, path TEXT NOT NULL, "
            "lines INTEGER NOT NULL, longest INTEGER NOT NULL)"),
    )
    jobs = MappingProxyType({"count": JobDef("wb_example.engine:run", CountParams, "count lines in")})
    # imported when first used, so that this module stays light
    commands = "wb_example.engine:add_cli"
    report = "wb_example.engine:report_sections"
    scorer = "wb_example.engine:score"


plugin = ExamplePlugin()
