"""The plugin SDK: the only module of ``workbench`` a plugin's Qt-free code imports.

Its Qt tab imports :mod:`workbench.gui.api` as well. Everything here is
documented for plugin authors in ``docs/plugins.md``; names not listed in
``__all__`` are not part of the contract.
"""

from __future__ import annotations

from workbench.core.cli_kit import (
    EXIT_FAILURE,
    EXIT_GATE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Commands,
    error,
    note,
    open_project,
    run_job,
    warn,
    write_summary_json,
)
from workbench.core.errors import WorkbenchError
from workbench.core.files import atomic_write, check_writable_target
from workbench.core.findings import (
    CONFIDENCES,
    SEVERITIES,
    SEVERITY_RANK,
    TRIAGE_STATUSES,
    Finding,
    assign_fingerprints,
    fingerprint,
    is_open,
    normalise_code,
)
from workbench.core.jobs import Cancelled, JobContext, NullContext, die_with_parent
from workbench.core.netguard import NetworkRefused
from workbench.core.project_crypto import ERROR as DATABASE_ERRORS
from workbench.core.netguard import allow_host as allow_network_host
from workbench.core.netguard import child_env as network_guarded_env
from workbench.core.params import ParamsError, build_params
from workbench.core.plugin_store import PluginStore
from workbench.core.plugins import API_VERSION, JobDef, JobSpec, Plugin
from workbench.core.secrets import available as secrets_available


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

    return cluster.session(address, note)
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

__all__ = [
    "API_VERSION", "CONFIDENCES", "DATABASE_ERRORS", "EXIT_FAILURE", "EXIT_GATE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE",
    "SEVERITIES", "SEVERITY_COLORS", "SEVERITY_RANK", "TRIAGE_STATUSES",
    "BarChart", "Cancelled", "CliError", "Commands", "Finding", "JobContext", "JobDef", "JobSpec", "KeyValues",
    "LineChart", "NetworkRefused", "NullContext", "Paragraph", "ParamsError", "Plugin", "PluginStore", "Section", "Table",
    "WorkbenchError",
    "allow_network_host", "network_guarded_env", "assign_fingerprints", "atomic_write", "check_writable_target", "build_params", "die_with_parent", "error", "fingerprint", "is_open", "normalise_code", "note", "open_project", "run_job",
    "secrets_available", "severity_chart", "warn", "write_summary_json",
]
