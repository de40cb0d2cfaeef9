"""Start-up hook of every Python process the workbench starts: install the network guard before
any of the child's own code runs, then run the sitecustomize this one hides, if there is one.

It loads ``workbench/core/netguard.py`` by its path (``WORKBENCH_NETGUARD_MODULE``), so it works in
an interpreter where the workbench is not installed (a project's own venv running its tests).
"""

import os
import sys


def _guard():
    path = os.environ.get("WORKBENCH_NETGUARD_MODULE")
    if os.environ.get("WORKBENCH_NETGUARD") != "1" or not path or not hasattr(sys, "addaudithook"):
        return
    import importlib.util

    # Under a name of its own: workbench.core.netguard, when a workbench process imports it later,
    # hands itself over to this module (one guard, one set of decisions, per process).
    name = "_workbench_netguard_boot"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    module.install_from_boot()


def _chain():
    """Run the next sitecustomize on sys.path (the one this file hides), as Python would have."""
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        folder = os.path.abspath(entry or os.curdir)
        if folder == here:
            continue
        candidate = os.path.join(folder, "sitecustomize.py")
        if os.path.isfile(candidate):
            import importlib.util

            spec = importlib.util.spec_from_file_location("_workbench_next_sitecustomize", candidate)
            if spec and spec.loader:
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


try:
    _guard()
except Exception as exc:  # never stop the child from starting; say why it is unguarded
    sys.stderr.write(f"workbench: warning: the network guard could not be installed in this process: {exc}\n")
_chain()
