"""Long lines: the minimal example plugin of docs/plugins.md.

It counts the lines of every text file under a folder, reports each file with
lines longer than a limit as a LOW finding, records the line lengths as a
metric, and scores the share of files within the limit. Small on purpose:
every part of the plugin contract appears once, in the skeleton every plugin
shares: ``params`` (the job's dataclass), ``engine`` (the work and the job),
``store`` (table, writes, reads), ``score``, ``report``, ``cli``, ``tab``.
"""

from __future__ import annotations

from types import MappingProxyType

from workbench.api import JobDef, Plugin

from .params import CountParams
from .store import MIGRATIONS


class ExamplePlugin(Plugin):
    id = "example"
    title = "Long lines"
    version = "1.0.0"
    tab = "wb_example.tab:ExampleTab"
    # what the report's Method section says this pillar did
    method = ("Every text file under the folder was read and its longest line compared with the limit; "
              "the score is the share of files within it.")
    migrations = MIGRATIONS
    jobs = MappingProxyType({"count": JobDef("wb_example.engine:run", CountParams, "count lines in")})
    # imported when first used, so that this module stays light
    commands = "wb_example.cli:add_cli"
    report = "wb_example.report:report_sections"
    scorer = "wb_example.score:score"


plugin = ExamplePlugin()
