"""The plugin contract and the registry that finds plugins by entry point.

Built-in plugins register exactly like third-party ones, in the entry point
group ``workbench.plugins``. A plugin that fails to load, declares a wrong
API version or an id already taken is recorded with its error; the rest of
the application goes on. Plugin authors import these names from
:mod:`workbench.api`, not from here.
"""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

ENTRY_POINT_GROUP = "workbench.plugins"
#: Bumped when the contract changes in a way an existing plugin would notice.
API_VERSION = 1
_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
#: Ids the core uses itself (tables, events, commands).
RESERVED_IDS = frozenset({"core", "meta", "runs", "findings", "triage", "artifacts", "metrics", "events",
                          "migrations", "secret", "workbench"})


@dataclass(frozen=True)
class JobDef:
    """One job of a plugin.

    ``function`` is a dotted ``"package.module:function"`` path, imported only in
    the process that runs the job (so torch never enters the GUI process).
    ``params`` is the dataclass of its parameters. ``target`` names the field
    that says what the job works on (a folder, a dataset): runs are grouped by
    it, and "the latest run" is the latest per target.
    """

    function: str
    params: type
    title: str
    target: str | None = "target"


@dataclass
class JobSpec:
    """A job ready to run: which plugin and job, with checked parameters (as stored on the run)."""

    plugin: str
    job: str
    params: dict = field(default_factory=dict)
    title: str | None = None
    target: str | None = None


class Plugin:
    """Base class; a plugin module exposes an instance (or a zero-argument factory) as ``plugin``."""

    api_version: int = API_VERSION
    id: str = ""
    title: str = ""
    version: str = "0"
    #: ((version, sql), ...) creating tables named with the plugin id as prefix.
    migrations: Sequence[tuple[int, str]] = ()
    #: {job name: JobDef}
    jobs: Mapping[str, JobDef] = MappingProxyType({})
    #: dotted path "module:Class" of the Qt tab, imported lazily by the GUI.
    tab: str | None = None
    # The three hooks below, as dotted "module:function" paths imported on first use, so the
    # plugin's own module stays light. Override the methods instead when that reads better.
    #: ``function(plugin, cli)`` adding the plugin's commands
    commands: str | None = None
    #: ``function(store, options) -> [Section]``
    report: str | None = None
    #: ``function(store) -> float | None``
    scorer: str | None = None

    def add_cli(self, cli) -> None:
        """Add headless commands through ``cli.command(...)`` (see :class:`workbench.api.Commands`)."""
        if self.commands:
            resolve(self.commands)(self, cli)

    def report_sections(self, store, options: dict) -> list:
        """Report sections (data, never Qt) about this plugin's latest runs."""
        return resolve(self.report)(store, options or {}) if self.report else []

    def score(self, store) -> float | None:
        """The pillar score, 0-100, or None while nothing was assessed."""
        return resolve(self.scorer)(store) if self.scorer else None

    def demo_jobs(self, samples_dir) -> list[JobSpec]:
        """Jobs to run on the demo samples (``workbench demo``)."""
        return []

    # -- provided by the host, not overridden --------------------------------
    def job_spec(self, job: str, **params) -> JobSpec:
        """Check *params* against the job's dataclass and build the spec the host runs."""
        from workbench.core.params import build_params, params_dict

        jobdef = self.jobs.get(job)
        if jobdef is None:
            raise KeyError(f"plugin {self.id!r} has no job {job!r}; it has {', '.join(self.jobs) or 'none'}")
        checked = params_dict(build_params(jobdef.params, params, job=f"{self.id}.{job}"))
        target = checked.get(jobdef.target) if jobdef.target else None
        label = os.path.basename(str(target).rstrip("/\\")) or str(target) if target else ""
        title = f"{jobdef.title} {label}".strip()
        return JobSpec(self.id, job, checked, title=title, target=None if target is None else str(target))


def resolve(ref: str) -> Callable:
    """The object a ``"package.module:name"`` path names, imported now."""
    import importlib

    module, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"a reference must look like 'package.module:name', got {ref!r}")
    return getattr(importlib.import_module(module), attr)


def check_plugin(plugin: Any) -> None:
    """Raise TypeError when *plugin* does not honour the contract this host speaks."""
    missing = [a for a in ("id", "title", "version") if not getattr(plugin, a, None)]
    if missing:
        raise TypeError(f"plugin object lacks {', '.join(missing)}")
    api = getattr(plugin, "api_version", None)
    if api != API_VERSION:
        raise TypeError(f"plugin {plugin.id!r} speaks plugin API {api}; this workbench speaks {API_VERSION}")
    if not _ID.match(plugin.id) or plugin.id in RESERVED_IDS:
        raise TypeError(f"plugin id {plugin.id!r} must be 2-32 lowercase letters, digits or _, "
                        "and not a name the core uses")
    for name, jobdef in dict(plugin.jobs).items():
        if not isinstance(jobdef, JobDef):
            raise TypeError(f"plugin {plugin.id!r}: job {name!r} is not a JobDef")
    for hook in ("commands", "report", "scorer", "tab"):
        ref = getattr(plugin, hook, None)
        if ref is not None and (not isinstance(ref, str) or ":" not in ref):
            raise TypeError(f"plugin {plugin.id!r}: {hook} must be a 'package.module:name' path, got {ref!r}")
    versions = [v for v, _ in plugin.migrations]
    if versions != sorted(set(versions)):
        raise TypeError(f"plugin {plugin.id!r}: migration versions must increase: {versions}")


@dataclass
class PluginStatus:
    name: str
    value: str
    distribution: str | None
    version: str | None
    loaded: bool
    error: str | None = None
    plugin: Any = None
    traceback: str | None = None


@dataclass
class Registry:
    statuses: list[PluginStatus] = field(default_factory=list)

    @property
    def plugins(self) -> list[Plugin]:
        return [s.plugin for s in self.statuses if s.loaded]

    @property
    def failed(self) -> list[PluginStatus]:
        return [s for s in self.statuses if not s.loaded]

    def get(self, plugin_id: str) -> Plugin | None:
        for p in self.plugins:
            if p.id == plugin_id:
                return p
        return None

    def jobdef(self, plugin_id: str, job: str) -> JobDef:
        plugin = self.get(plugin_id)
        if plugin is None:
            raise LookupError(f"no loaded plugin {plugin_id!r}")
        try:
            return plugin.jobs[job]
        except KeyError:
            raise LookupError(f"plugin {plugin_id!r} has no job {job!r}") from None


def _load_one(ep) -> PluginStatus:
    dist = getattr(ep, "dist", None)
    status = PluginStatus(
        name=ep.name,
        value=ep.value,
        distribution=dist.metadata["Name"] if dist is not None else None,
        version=dist.version if dist is not None else None,
        loaded=False,
    )
    try:
        obj = ep.load()
        plugin = obj() if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Plugin)) else obj
        check_plugin(plugin)
        status.plugin = plugin
        status.version = plugin.version
        status.loaded = True
    except Exception as exc:  # a broken plugin never stops the app
        status.error = f"{type(exc).__name__}: {exc}"
        status.traceback = traceback.format_exc()
    return status


_cache: Registry | None = None


def load_plugins(refresh: bool = False, on_error: Callable[[PluginStatus], None] | None = None) -> Registry:
    """Load every plugin of the entry point group once per process."""
    global _cache
    if _cache is not None and not refresh:
        return _cache
    registry = Registry()
    seen: set[str] = set()
    ids: dict[str, str] = {}
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen:  # the same dist on sys.path twice (editable + site)
            continue
        seen.add(ep.name)
        status = _load_one(ep)
        if status.loaded:
            owner = ids.get(status.plugin.id)
            if owner is not None:
                status.loaded, status.plugin = False, None
                status.error = f"plugin id already taken by entry point {owner!r}"
            else:
                ids[status.plugin.id] = ep.name
        registry.statuses.append(status)
        if not status.loaded and on_error:
            on_error(status)
    _cache = registry
    return registry
