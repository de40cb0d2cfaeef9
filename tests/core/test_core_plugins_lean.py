"""Loading the plugins is on the window's start-up path: it imports each plugin's light module and
its store (the migrations), nothing a job, a command, the secrets backend or the alert engine needs."""

from __future__ import annotations

import json
import subprocess
import sys

# each was imported by load_plugins() once, for nothing the Overview shows (~10 ms together)
NOT_AT_LOAD = [
    "uuid", "platform",  # monitor.rules' alert ids, through monitor.store
    "workbench_plugins.monitor.rules",  # monitor.store imported it for two functions of the tab
    "workbench.core.secrets", "hmac", "hashlib",  # anonymise imported secrets_available for its demo
    "workbench.core.jobs", "argparse",
]


def _loaded_after(code: str) -> tuple[list[str], list[str]]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps([sorted(sys.modules), [s.error for s in registry.failed]]))"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_loading_the_plugins_imports_only_what_the_overview_needs():
    modules, errors = _loaded_after("from workbench.core.plugins import load_plugins\nregistry = load_plugins()")
    assert errors == []
    assert {"workbench_plugins.monitor.store", "workbench_plugins.robustness.store"} <= set(modules)
    assert [m for m in NOT_AT_LOAD if m in modules] == []


def test_the_migrations_and_the_alert_ids_still_work_where_used():
    from workbench.core.plugins import load_plugins
    from workbench_plugins.monitor.rules import Alert

    plugins = {p.id: p for p in load_plugins().plugins}
    assert [v for v, _ in plugins["monitor"].migrations] == [1]
    assert "monitor_alerts" in plugins["monitor"].migrations[0][1]
    a, b = (Alert("r", "threshold", "firing", "HIGH", 1.0, "t", "m") for _ in range(2))
    assert len(a.id) == 16 and a.id != b.id
