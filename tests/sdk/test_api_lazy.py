"""``workbench.api`` imports its names on first use (start-up: every plugin imports it), and
every public name still resolves to the same object as the core module it comes from."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import workbench.api as api

API_SOURCE = Path(api.__file__).read_text(encoding="utf-8")


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """public name -> (module, name there), read from the module's TYPE_CHECKING block: the
    imports type checkers and import-linter see."""
    tree = ast.parse(API_SOURCE)
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    found = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.dump(node)
        for alias in node.names:
            found[alias.asname or alias.name] = (node.module, alias.name)
    return found


def test_every_public_name_resolves_to_the_core_object():
    declared = _type_checking_imports()
    defined_here = {"active_cluster", "cluster_session"}
    # __all__ is exactly the imported names plus the two functions written in the module
    assert set(api.__all__) == set(declared) | defined_here
    assert len(api.__all__) == len(set(api.__all__))
    for name in api.__all__:
        value = getattr(api, name)
        if name in defined_here:
            assert callable(value)
            continue
        module, own = declared[name]
        assert value is getattr(importlib.import_module(module), own), name
    namespace: dict = {}
    exec("from workbench.api import *", namespace)
    assert set(api.__all__) <= set(namespace)
    assert set(api.__all__) <= set(dir(api))


def test_an_unknown_name_is_an_attribute_error():
    try:
        api.NoSuchName  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("no AttributeError")
    ns: dict = {}
    try:
        exec("from workbench.api import NoSuchName", ns)
    except ImportError:
        pass
    else:
        raise AssertionError("no ImportError")


HEAVY = ["argparse", "sqlcipher3", "workbench.core.cli_kit", "workbench.core.jobs", "workbench.core.worker",
         "workbench.core.report", "workbench.core.project_crypto", "workbench.core.findings",
         "workbench.core.plugin_store", "workbench.core.secrets"]


def _fresh_modules(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_importing_the_sdk_does_not_load_the_core():
    alone = _fresh_modules("import workbench.api")
    assert not [m for m in alone if m.startswith("workbench.core")], sorted(alone)
    # what every plugin's __init__ does at start-up: only the plugin registry comes with it
    plugin = _fresh_modules("from workbench.api import JobDef, Plugin")
    assert "workbench.core.plugins" in plugin
    assert not [m for m in HEAVY if m in plugin]
    # a name from a heavy module still brings it, as before
    assert "workbench.core.cli_kit" in _fresh_modules("from workbench.api import job_command")
