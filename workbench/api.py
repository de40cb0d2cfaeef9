"""The plugin SDK: the only module of ``workbench`` a plugin's Qt-free code imports.

Its Qt tab imports :mod:`workbench.gui.api` as well. Everything here is
documented for plugin authors in ``docs/plugins.md``; names not listed in
``__all__`` are not part of the contract.

Each name is imported from its core module the first time it is asked for
(PEP 562): every plugin's ``from workbench.api import JobDef, Plugin`` runs at
start-up, and loading the whole SDK there (argparse, the job runner, the report
model) cost the window's first paint about 10 ms it did not need. The imports
in the ``TYPE_CHECKING`` block below are the same names, for type checkers and
for import-linter, whose contracts read them as this module's imports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.cli_kit import (
        EXIT_FAILURE,
        EXIT_GATE,
        EXIT_INTERRUPTED,
        EXIT_OK,
        EXIT_USAGE,
        CliError,
        Commands,
        error,
        job_command,
        note,
        open_project,
        project_argument,
        run_job,
        warn,
        write_summary_json,
    )
    from workbench.core.errors import WorkbenchError, is_no_room
    from workbench.core.files import atomic_path, atomic_write, check_writable_target
    from workbench.core.findings import (
        CONFIDENCES,
        SEVERITIES,
        SEVERITY_RANK,
        TRIAGE_STATUSES,
        Finding,
        FindingError,
        assign_fingerprints,
        fingerprint,
        is_open,
        normalise_code,
    )
    from workbench.core.jobs import Cancelled, JobContext, NullContext, die_with_parent
    from workbench.core.netguard import NetworkRefused
    from workbench.core.netguard import allow_host as allow_network_host
    from workbench.core.netguard import child_env as network_guarded_env
    from workbench.core.params import ParamsError, build_params
    from workbench.core.plugin_store import PluginStore
    from workbench.core.plugins import API_VERSION, JobDef, JobSpec, Plugin
    from workbench.core.project_crypto import ERROR as DATABASE_ERRORS
    from workbench.core.report import (
        SEVERITY_COLORS,
        BarChart,
        KeyValues,
        LineChart,
        Paragraph,
        Section,
        Table,
        severity_chart,
    )
    from workbench.core.secrets import available as secrets_available
    from workbench.core.stored import RunRecord, StoredFinding
    from workbench.core.worker import run_in_process, run_in_worker

#: public name -> (core module, its name there); the same as the TYPE_CHECKING block above
#: (tests/sdk/test_api_lazy.py checks that the two agree)
_SOURCES: dict[str, tuple[str, str]] = {}


def _add(module: str, *names: str) -> None:
    for name in names:
        public, _, own = name.partition("=")
        _SOURCES[public] = (f"workbench.core.{module}", own or public)


_add("cli_kit", "EXIT_FAILURE", "EXIT_GATE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CliError",
     "Commands", "error", "job_command", "note", "open_project", "project_argument", "run_job", "warn",
     "write_summary_json")
_add("errors", "WorkbenchError", "is_no_room")
_add("files", "atomic_path", "atomic_write", "check_writable_target")
_add("findings", "CONFIDENCES", "SEVERITIES", "SEVERITY_RANK", "TRIAGE_STATUSES", "Finding", "FindingError",
     "assign_fingerprints", "fingerprint", "is_open", "normalise_code")
# Cancelled lives in core.cancel; core.jobs re-exports the same class
_add("jobs", "Cancelled", "JobContext", "NullContext", "die_with_parent")
_add("netguard", "NetworkRefused", "allow_network_host=allow_host", "network_guarded_env=child_env")
_add("params", "ParamsError", "build_params")
_add("plugin_store", "PluginStore")
_add("plugins", "API_VERSION", "JobDef", "JobSpec", "Plugin")
_add("project_crypto", "DATABASE_ERRORS=ERROR")
_add("report", "SEVERITY_COLORS", "BarChart", "KeyValues", "LineChart", "Paragraph", "Section", "Table",
     "severity_chart")
_add("secrets", "secrets_available=available")
_add("stored", "RunRecord", "StoredFinding")
_add("worker", "run_in_process", "run_in_worker")


def __getattr__(name: str):
    try:
        module, own = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(module), own)
    globals()[name] = value  # the next access is a plain global
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))


def active_cluster():
    """The Ray cluster this command connected to with ``--ray``, or None. Ray is never imported
    without ``--ray``: the cluster module is in ``sys.modules`` only once a session started."""
    import sys

    module = sys.modules.get("workbench.core.cluster")
    return None if module is None else module.active()


def cluster_session(address: str | None):
    """``--ray ADDRESS``: a context in which the command's jobs run on that cluster (connected,
    the offline guard opened to exactly that host); a no-op without an address."""
    import contextlib

    if not address:
        return contextlib.nullcontext()
    from workbench.core import cluster
    from workbench.core.cli_kit import note

    return cluster.session(address, note)


__all__ = [
    "API_VERSION", "CONFIDENCES", "DATABASE_ERRORS", "EXIT_FAILURE", "EXIT_GATE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE",
    "SEVERITIES", "SEVERITY_COLORS", "SEVERITY_RANK", "TRIAGE_STATUSES",
    "BarChart", "Cancelled", "CliError", "Commands", "Finding", "JobContext", "JobDef", "JobSpec", "KeyValues",
    "LineChart", "NetworkRefused", "NullContext", "Paragraph", "ParamsError", "Plugin", "PluginStore", "Section", "Table",
    "WorkbenchError", "FindingError", "RunRecord", "StoredFinding", "run_in_process", "run_in_worker",
    "allow_network_host", "network_guarded_env", "assign_fingerprints", "atomic_path", "atomic_write", "check_writable_target", "build_params", "die_with_parent", "error", "fingerprint", "is_no_room", "is_open", "job_command", "normalise_code", "note", "open_project",
    "project_argument", "run_job", "active_cluster", "cluster_session",
    "secrets_available", "severity_chart", "warn", "write_summary_json",
]
