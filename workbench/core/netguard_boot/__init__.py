"""The network guard's start-up hook for child processes (see workbench.core.netguard): this folder
goes first on a child's PYTHONPATH and holds nothing but ``sitecustomize.py``."""
