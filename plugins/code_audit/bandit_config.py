"""Bandit configuration, found and merged the way the bandit CLI does it.

Sources, in the CLI's order of precedence:

1. an explicit config file (``-c``): YAML, or ``pyproject.toml`` whose
   ``[tool.bandit]`` table is used (bandit's own rule for ``.toml``);
2. without one, a ``pyproject.toml`` at the target root that has a
   ``[tool.bandit]`` table (the CLI needs ``-c pyproject.toml`` for that; we
   pick it up because users expect it);
3. a single ``.bandit`` INI file anywhere under the target (the CLI errors
   on several; so do we), whose ``[bandit]`` section gives ``skips``,
   ``tests``, ``exclude``, ``level`` and ``confidence``;
4. explicit parameters (``skips``, ``tests``, ``exclude``, ``severity``,
   ``confidence``), which win like command-line flags.

On top of bandit: ``path_skips`` maps a glob over the relative path to test
ids skipped there, e.g. ``{"tests/*": ["B101"]}``; it may also be given as a
``path_skips`` key in the YAML/TOML config.
"""

from __future__ import annotations

import configparser
import fnmatch
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field

RANKS = ("LOW", "MEDIUM", "HIGH")


class AuditConfigError(ValueError):
    """The bandit configuration cannot be used; the message names the file."""


@dataclass
class AuditConfig:
    config_file: str | None = None  # given to BanditConfig in every worker
    include_tests: set[str] = field(default_factory=set)
    skip_tests: set[str] = field(default_factory=set)
    exclude_paths: list[str] = field(default_factory=list)  # bandit semantics
    include_globs: list[str] = field(default_factory=lambda: ["*.py", "*.pyw"])
    severity: str = "LOW"
    confidence: str = "LOW"
    path_skips: dict[str, set[str]] = field(default_factory=dict)
    raw: dict = field(default_factory=dict)  # the bandit config dict itself

    def profile(self) -> dict:
        return {"include": set(self.include_tests), "exclude": set(self.skip_tests)}

    def cache_hash(self) -> str:
        """Everything that changes what bandit reports for one file.

        Thresholds and path_skips are applied after the cache, so they are
        not part of it; the bandit version and rule-pack version are.
        """
        memo = self.__dict__.get("_hash_memo")
        if memo:
            return memo
        import sys

        from .rules.catalog import PACK_VERSION

        payload = {
            "raw": self.raw,
            "include": sorted(self.include_tests),
            "skip": sorted(self.skip_tests),
            # from the package metadata: importing bandit loads every one of its plugins
            "bandit": installed_version("bandit", "bandit"),
            "pack": PACK_VERSION,
            "python": sys.version_info[:2],
        }
        text = json.dumps(payload, sort_keys=True, default=_json_default)
        self.__dict__["_hash_memo"] = hashlib.sha256(text.encode()).hexdigest()
        return self.__dict__["_hash_memo"]

    def skipped_here(self, relpath: str, test_id: str) -> bool:
        return any(test_id in ids and fnmatch.fnmatch(relpath, glob)
                   for glob, ids in self.path_skips.items())


def _json_default(obj):
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return str(obj)


def _rank(value, default: str) -> str:
    """Accept LOW/MEDIUM/HIGH, 'all', or the CLI's count of -l flags (1..3)."""
    if value in (None, ""):
        return default
    text = str(value).strip().upper()
    if text == "ALL":
        return "LOW"
    if text.isdigit():
        return RANKS[max(1, min(3, int(text))) - 1]
    if text not in RANKS:
        raise AuditConfigError(f"unknown level {value!r}; use LOW, MEDIUM or HIGH")
    return text


def _split(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _find_ini(target: str) -> str | None:
    found = []
    for root, dirs, files in os.walk(target):
        dirs[:] = [d for d in dirs if d not in (".git", ".hg", ".svn")]
        if ".bandit" in files:
            found.append(os.path.join(root, ".bandit"))
    if len(found) > 1:
        raise AuditConfigError("several .bandit files found; pass a config file: "
                               + ", ".join(sorted(found)))
    return found[0] if found else None


def _read_ini(path: str) -> dict:
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
        return dict(parser.items("bandit"))
    except (configparser.Error, KeyError) as exc:
        raise AuditConfigError(f"{path}: cannot read [bandit] section: {exc}") from exc


def _pyproject_with_bandit(target: str) -> str | None:
    import tomllib

    path = os.path.join(target, "pyproject.toml")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return None  # a broken pyproject is not ours to report here
    return path if "bandit" in data.get("tool", {}) else None


#: bandit's own defaults (``bandit.core.constants.EXCLUDE``; ``BanditConfig()`` without a file),
#: written out so that a warm re-run does not import bandit; a test keeps them equal to bandit's.
DEFAULT_EXCLUDE = (".svn", "CVS", ".bzr", ".hg", ".git", "__pycache__", ".tox", ".eggs", "*.egg")
DEFAULT_RAW = {"plugin_name_pattern": "*.py", "include": ["*.py", "*.pyw"]}


def is_included(path: str, globs, excluded) -> bool:
    """bandit's ``manager._is_file_included(path, globs, excluded)``: the path matches one of
    the globs, and none of the excluded entries as a glob or as a substring."""
    return (_any_glob(tuple(globs)).match(os.path.normcase(path)) is not None
            and (not excluded or _any_glob(tuple(excluded)).match(os.path.normcase(path)) is None)
            and not any(e in path for e in excluded))


@functools.lru_cache(maxsize=64)
def _any_glob(globs: tuple):
    """One expression for ``fnmatch.fnmatch`` against any of ``globs`` (one pass per path)."""
    import re

    return re.compile("|".join(f"(?:{fnmatch.translate(os.path.normcase(g))})" for g in globs) or "(?!)")


@functools.lru_cache(maxsize=None)
def installed_version(dist: str, module: str) -> str:
    """The installed version of distribution ``dist`` (import name ``module``), read from the
    ``.dist-info`` folder next to the package: ``importlib.metadata.version`` searches every
    path entry, a noticeable part of a warm re-run. Falls back to it when not laid out so."""
    import importlib.util
    from importlib import metadata

    try:
        spec = importlib.util.find_spec(module)
        folders = list(spec.submodule_search_locations or []) if spec else []
        if folders:
            site = os.path.dirname(folders[0])
            prefix = dist.replace("-", "_").lower() + "-"
            for name in os.listdir(site):
                if name.lower().startswith(prefix) and name.endswith(".dist-info"):
                    return name[len(prefix):-len(".dist-info")]
    except (ImportError, ValueError, OSError):
        pass
    return metadata.version(dist)


def _load_bandit_config(config_file: str | None):
    if config_file is None:  # bandit's defaults, without importing bandit (and all its plugins)
        import types

        return types.SimpleNamespace(config={k: list(v) if isinstance(v, list) else v
                                             for k, v in DEFAULT_RAW.items()})
    from bandit.core import config as b_config
    from bandit.core import utils as b_utils

    try:
        return b_config.BanditConfig(config_file=config_file)
    except b_utils.ConfigError as exc:
        raise AuditConfigError(str(exc)) from exc


def load_config(target: str, config_file: str | None = None, *, skips=(), tests=(),
                exclude=(), severity=None, confidence=None, path_skips=None) -> AuditConfig:
    """Build the AuditConfig for auditing ``target`` (a directory)."""
    if config_file is None and os.path.isdir(target):
        config_file = _pyproject_with_bandit(target)
    ini = {}
    if os.path.isdir(target):
        ini_path = _find_ini(target)
        if ini_path:
            ini = _read_ini(ini_path)
    b_conf = _load_bandit_config(config_file)
    raw = b_conf.config or {}
    cfg = AuditConfig(config_file=config_file, raw=raw)
    cfg.include_tests = set(_split(raw.get("tests"))) | set(_split(ini.get("tests"))) | set(tests)
    cfg.skip_tests = set(_split(raw.get("skips"))) | set(_split(ini.get("skips"))) | set(skips)
    cfg.include_globs = list(raw.get("include") or ["*.py"])
    cfg.exclude_paths = _exclude_paths(target, raw, ini, exclude)
    cfg.severity = _rank(severity if severity is not None else ini.get("level"), "LOW")
    cfg.confidence = _rank(confidence if confidence is not None else ini.get("confidence"), "LOW")
    merged = dict(raw.get("path_skips") or {})
    merged.update(path_skips or {})
    cfg.path_skips = {glob: set(_split(ids)) for glob, ids in merged.items()}
    _validate_tests(cfg)
    return cfg


def _exclude_paths(target: str, raw: dict, ini: dict, exclude) -> list[str]:
    """bandit's excluded paths, exactly as ``bandit -r`` builds them.

    ``exclude_dirs`` from a YAML/TOML config are globs/substrings as written. Then the
    command line's ``-x`` entries, or without them the ``.bandit`` file's ``exclude``, or
    without that bandit's default list (``.svn, CVS, .bzr, .hg, .git, __pycache__, .tox,
    .eggs, *.egg``). An entry that is a folder (relative to the current directory, as bandit
    reads it) becomes ``folder/*``; any other entry excludes a path that matches it as a glob
    or contains it as a substring (so the default ``.git`` also excludes ``.github/``).
    """
    out = list(raw.get("exclude_dirs") or [])
    entries = list(exclude) or _split(ini.get("exclude")) or list(DEFAULT_EXCLUDE)
    for path in entries:
        out.append(os.path.join(path, "*") if os.path.isdir(path) else path)
    return out


def _validate_tests(cfg: AuditConfig) -> None:
    both = cfg.include_tests & cfg.skip_tests
    if both:
        raise AuditConfigError(f"tests both included and skipped: {sorted(both)}")
