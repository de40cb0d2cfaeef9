"""One real local Ray instance (two CPUs, loopback only), shared by the tests of this folder that ask
for it and stopped after the last (a start costs ~8 s on a two-core machine).

The task functions of the tests live in ``cluster_tasks.py``; this folder is put on the
``PYTHONPATH`` that the Ray workers inherit, so they import it by name.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
HAVE_RAY = importlib.util.find_spec("ray") is not None  # looked up, not imported
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="Ray is an optional extra: pip install -e '.[ray]'")

_parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if str(HERE) not in _parts:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), *_parts])


def _with_real_packaging(fn):
    """Run *fn* with the installed ``packaging`` importable: pytest puts ``tests/`` on sys.path,
    where the ``tests/packaging`` test package shadows it, and Ray imports ``packaging.version``
    while it starts. The test package is put back afterwards."""
    import sys

    tests_dir = str(HERE.parent)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "packaging" or k.startswith("packaging.")}
    saved_path = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != tests_dir]
    try:
        import packaging.specifiers  # noqa: F401
        import packaging.version  # noqa: F401

        return fn()
    finally:
        sys.path[:] = saved_path
        if saved:
            for k in [k for k in sys.modules if k == "packaging" or k.startswith("packaging.")]:
                del sys.modules[k]
            sys.modules.update(saved)


@pytest.fixture(scope="session")
def ray_cluster():
    from workbench.core import cluster

    c = _with_real_packaging(lambda: cluster.start_local(num_cpus=2))
    try:
        yield c
    finally:
        cluster.release()
