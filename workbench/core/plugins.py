"""The plugin contract and the registry that finds plugins by entry point.

Built-in plugins register exactly like third-party ones, in the entry point
group ``workbench.plugins``. A plugin that fails to load is recorded with its
error; the rest of the application goes on.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

ENTRY_POINT_GROUP = "workbench.plugins"


@dataclass
class JobDef:
    ref: str  # "package.module:function"
    title: str


class Plugin:
    """Base class; a plugin module exposes an instance (or a factory) as ``plugin``."""

    id: str = ""
    title: str = ""
    version: str = "0"
    #: [(version, sql)] creating tables named with the plugin id as prefix.
    migrations: list[tuple[int, str]] = []
    #: {job name: JobDef}
    jobs: dict[str, JobDef] = {}
    #: dotted path "module:Class" of the Qt tab, imported lazily by the GUI.
    tab: str | None = None

    def add_cli(self, subparsers) -> None:
        """Add headless subcommands; each sets ``func(args) -> exit code``."""

    def report_sections(self, project, options: dict | None = None) -> list:
        return []

    def score(self, project) -> float | None:
        return None

    def demo_jobs(self, samples_dir) -> list:
        """JobSpecs to run on the demo samples (``workbench demo``)."""
        return []


@dataclass
class PluginStatus:
    name: str
    value: str
    distribution: str | None
    version: str | None
    loaded: bool
    error: str | None = None
    plugin: Any = None


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
        missing = [a for a in ("id", "title", "version") if not getattr(plugin, a, None)]
        if missing:
            raise TypeError(f"plugin object lacks {', '.join(missing)}")
        status.plugin = plugin
        status.version = plugin.version
        status.loaded = True
    except Exception as exc:  # a broken plugin never stops the app
        status.error = f"{type(exc).__name__}: {exc}"
        status.traceback = traceback.format_exc()  # type: ignore[attr-defined]
    return status


_cache: Registry | None = None


def load_plugins(refresh: bool = False, on_error: Callable[[PluginStatus], None] | None = None) -> Registry:
    """Load every plugin of the entry point group once per process."""
    global _cache
    if _cache is not None and not refresh:
        return _cache
    registry = Registry()
    seen: set[str] = set()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen:  # the same dist on sys.path twice (editable + site)
            continue
        seen.add(ep.name)
        status = _load_one(ep)
        registry.statuses.append(status)
        if not status.loaded and on_error:
            on_error(status)
    _cache = registry
    return registry
