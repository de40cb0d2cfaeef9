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
import sys
import traceback
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

ENTRY_POINT_GROUP = "workbench.plugins"
#: Bumped when the contract changes in a way an existing plugin would notice.
API_VERSION = 1
_ID = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
#: Ids the core uses itself (tables, events, commands).
RESERVED_IDS = frozenset({"core", "meta", "runs", "findings", "triage", "artifacts", "metrics", "events",
                          "migrations", "secret", "workbench"})


class _ParamsRef:
    """``JobDef.params``: the dataclass, or its ``"package.module:Class"`` path imported on first
    read. A plugin's module is imported at start-up; a dozen parameter dataclasses built there
    cost ~10 ms of the window's first paint, and nothing reads them before a job or its tab."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError("params")  # no class-level default: the field stays required
        value = obj.__dict__[self.slot]
        if isinstance(value, str):
            value = resolve(value)
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj, value) -> None:
        if isinstance(value, str) and ":" not in value:
            raise TypeError("JobDef params must be a dataclass or a 'package.module:Class' path, "
                            f"got {value!r}")
        obj.__dict__[self.slot] = value


@dataclass(frozen=True)
class JobDef:
    """One job of a plugin.

    ``function`` is a dotted ``"package.module:function"`` path, imported only in
    the process that runs the job (so torch never enters the GUI process).
    ``params`` is the dataclass of its parameters, or its ``"package.module:Class"``
    path, imported when first read (a job, its form). ``target`` names the field
    that says what the job works on (a folder, a dataset): runs are grouped by
    it, and "the latest run" is the latest per target.
    """

    function: str
    params: type = _ParamsRef()  # type: ignore[assignment]
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
    #: What the plugin did to assess its pillar, in a sentence or two for the report's Method
    #: section (e.g. "Source code was read by static analysis; nothing was run."); empty: a
    #: generic line is printed instead.
    method: str = ""
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
    if not isinstance(getattr(plugin, "method", ""), str):  # the report's Method section prints it
        raise TypeError(f"plugin {plugin.id!r}: method must be a str (what the pillar did, in words), "
                        f"got {type(plugin.method).__name__}")
    versions = [v for v, _ in plugin.migrations]
    if versions != sorted(set(versions)):
        raise TypeError(f"plugin {plugin.id!r}: migration versions must increase: {versions}")


@dataclass
class PluginStatus:
    """How one entry point of the group loaded: its plugin, or the error that stopped it. (A
    docstring of its own also spares dataclass the signature it would make one from.)"""

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
    """Every entry point of the group with how it loaded (:func:`load_plugins`)."""

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


class _Dist:
    """The two facts of a distribution the registry reports (``metadata["Name"]``, ``version``),
    read from the head of its METADATA file when first asked."""

    def __init__(self, path: str):
        self._path = path
        self._headers: dict[str, str] | None = None

    @property
    def metadata(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {}
            name = "PKG-INFO" if self._path.endswith(".egg-info") else "METADATA"
            try:
                with open(os.path.join(self._path, name), encoding="utf-8", errors="replace") as f:
                    for line in f:
                        if not line.strip():  # the headers end at the first empty line
                            break
                        key, sep, value = line.partition(":")
                        if sep and not key.startswith((" ", "\t")):
                            self._headers.setdefault(key.strip(), value.strip())
            except OSError:
                pass
        return self._headers

    @property
    def version(self) -> str | None:
        return self.metadata.get("Version")


class _EntryPoint:
    """What the registry uses of ``importlib.metadata.EntryPoint``. A plain class, not a dataclass:
    making one costs ~0.3 ms of start-up, for methods the registry never calls."""

    __slots__ = ("name", "value", "group", "dist")

    def __init__(self, name: str, value: str, group: str, dist: Any = None):
        self.name, self.value, self.group, self.dist = name, value, group, dist

    def __repr__(self) -> str:
        return f"_EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r}, dist={self.dist!r})"

    def load(self):
        import importlib

        module, _, attrs = self.value.partition(":")
        obj = importlib.import_module(module.strip())
        for attr in filter(None, attrs.split("[")[0].strip().split(".")):
            obj = getattr(obj, attr)
        return obj


def _parse_entry_points(text: str, group: str) -> list[tuple[str, str]]:
    found, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append((name.strip(), value.strip()))
    return found


def _scan_entry_points(group: str) -> list | None:
    """The group's entry points read straight from ``*.dist-info``/``*.egg-info`` folders on
    ``sys.path``, in its order, the first distribution of a name winning (as importlib.metadata
    does). Importing importlib.metadata costs ~15 ms of start-up (it pulls in email, zipfile,
    csv...) for what is a folder listing and a few small text files here. None when the path
    holds something only importlib.metadata can read (a zip file, a custom finder)."""
    import importlib.machinery

    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder or not hasattr(finder, "find_distributions"):
            continue
        # the importlib_metadata backport (imported by some libraries) reads sys.path as we do
        if (type(finder).__module__, type(finder).__name__) != ("importlib_metadata", "MetadataPathFinder"):
            return None
    found, seen = [], set()
    needle = group.encode()
    for entry in sys.path:
        folder = entry or "."
        try:
            with os.scandir(folder) as listing:  # its entries know whether they are folders: no stat each
                infos = [e for e in listing if e.name.endswith((".dist-info", ".egg-info"))]
        except NotADirectoryError:
            return None  # a zip file on the path
        except OSError:
            continue  # a folder that does not exist
        for info in infos:
            name, path = info.name, info.path
            dist = re.sub(r"[-_.]+", "_", name.rpartition(".")[0].split("-")[0]).lower()
            if dist in seen:
                continue
            try:
                with open(os.path.join(path, "entry_points.txt"), "rb") as f:
                    data = f.read()
            except OSError:
                if info.is_dir():
                    seen.add(dist)  # a distribution without entry points still shadows later ones
                continue
            seen.add(dist)
            if needle not in data:  # most declare only console scripts: not decoded nor parsed
                continue
            owner = _Dist(path)
            found += [_EntryPoint(n, v, group, owner) for n, v in _parse_entry_points(data.decode("utf-8"), group)]
    return found


def entry_points(group: str) -> list:
    """The installed entry points of *group* (objects with ``name``, ``value``, ``dist``, ``load()``)."""
    eps = _scan_entry_points(group)
    if eps is None:
        from importlib import metadata

        eps = list(metadata.entry_points(group=group))
    return eps


_cache: Registry | None = None


def load_plugins(refresh: bool = False, on_error: Callable[[PluginStatus], None] | None = None) -> Registry:
    """Load every plugin of the entry point group once per process."""
    global _cache
    if _cache is not None and not refresh:
        return _cache
    registry = Registry()
    seen: set[str] = set()
    ids: dict[str, str] = {}
    for ep in sorted(entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
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
