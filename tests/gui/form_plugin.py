"""A plugin made for a test of the kit's JobPanel: one job whose params dataclass the test
declares, so the form built from it is known (tests/gui/test_job_panel.py, test_kit_tables.py).
The job points nowhere: these tests build forms and never run it."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from workbench.api import JobDef, Plugin


@dataclass
class TargetParams:
    """What every test form starts from: a target, and a depth the dataclass itself checks."""

    target: str
    depth: int = 3

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError("depth must be at least 1")


def form_plugin(plugin_id: str, name: str, job: str, params: type) -> Plugin:
    """A plugin *plugin_id* titled *name* with one job *job* that takes *params*."""

    class FormPlugin(Plugin):
        id = plugin_id
        title = name
        version = "0.1"
        jobs = MappingProxyType({job: JobDef("nowhere:run", params, job)})

    return FormPlugin()
