"""The project file: one SQLite database per engagement (``*.wbproj``).

:class:`Project` is assembled from one module per concern, each readable on
its own:

* :mod:`workbench.core.database`: validating, opening, locking, transactions, migrations, meta;
* :mod:`workbench.core.records`: runs, findings, triage, artifacts, metrics;
* :mod:`workbench.core.audit_log`: the hash-chained event log and its check;
* :mod:`workbench.core.state`: the state hash a report describes.

Plugins do not use it directly: they get a :class:`workbench.api.PluginStore`.
"""

from __future__ import annotations

from workbench.core.audit_log import GENESIS_HASH, AuditLogMixin, ChainReport, event_hash
from workbench.core.database import (
    ACTIVE_STATUSES,
    APPLICATION_ID,
    CORE_MIGRATIONS,
    RUN_STATUSES,
    SCHEMA_VERSION,
    SQLITE_HEADER,
    SUFFIX,
    ProjectDatabase,
    check_header,
    now_iso,
    read_only_uri,
    validate,
)
from workbench.core.host import holder_description
from workbench.core.records import RecordsMixin
from workbench.core.state import StateMixin

__all__ = [
    "ACTIVE_STATUSES", "APPLICATION_ID", "CORE_MIGRATIONS", "GENESIS_HASH", "RUN_STATUSES", "SCHEMA_VERSION",
    "SQLITE_HEADER", "SUFFIX", "ChainReport", "Project", "check_header", "event_hash", "holder_description",
    "now_iso", "read_only_uri", "validate",
]


class Project(RecordsMixin, AuditLogMixin, StateMixin, ProjectDatabase):
    """An open project file. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    def store(self, plugin_id: str):
        """What the plugin *plugin_id* sees of this project (:class:`workbench.api.PluginStore`)."""
        from workbench.core.plugin_store import PluginStore

        return PluginStore(self, plugin_id)
