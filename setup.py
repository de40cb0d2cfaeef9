"""Package discovery only (everything else is in pyproject.toml).

The top-level ``plugins/`` folder installs as ``workbench_plugins``: every
plugin package under it is found here, so adding a plugin needs no edit of
the package list, only its entry point in pyproject.toml.
"""

from setuptools import find_packages, setup

packages = ["workbench", *(f"workbench.{p}" for p in find_packages("workbench")),
            "workbench_plugins", *(f"workbench_plugins.{p}" for p in find_packages("plugins")),
            "workbench_resources"]
setup(packages=packages)
