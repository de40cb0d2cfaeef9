"""Checks the target's Python interpreter for a test run.

The interpreter is the target project's own (its venv), never the
workbench's by default. We ask it for its version and whether pytest and
coverage.py are importable; nothing is ever installed into it. A test run
asks through the test driver's first event (no process of its own: one
interpreter start less per run), and runs ``probe`` only when the driver
could not answer (a Python 2, a program that is not Python).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from .errors import InterpreterError

# Valid in Python 2 and 3, so that a Python 2 interpreter answers with its
# version instead of a SyntaxError.
_PROBE = r"""
import sys, json
v = sys.version_info
out = {"version": "%d.%d.%d" % (v[0], v[1], v[2]), "executable": sys.executable, "major": v[0]}
if v[0] >= 3:
    import importlib.util
    for name in ("pytest", "coverage"):
        out[name] = None
        if importlib.util.find_spec(name) is not None:
            try:
                from importlib import metadata
                out[name] = metadata.version(name)
            except Exception:
                out[name] = "unknown version"
sys.stdout.write(json.dumps(out))
"""

MIN_VERSION = (3, 8)
PROBE_TIMEOUT_S = 30.0


def resolve(python: str) -> str:
    """The absolute path of ``python`` (a path or a name on PATH), or a clear error."""
    if not python:
        raise InterpreterError("no Python interpreter given for the target: pass --python PATH "
                               "(the target project's own venv, e.g. .venv/bin/python)")
    candidate = python
    if os.sep not in python:
        found = shutil.which(python)
        if found is None:
            raise InterpreterError(f"{python}: no such interpreter on PATH")
        candidate = found
    candidate = os.path.abspath(os.path.expanduser(candidate))
    if not os.path.exists(candidate):
        raise InterpreterError(f"{candidate}: the interpreter does not exist")
    if os.path.isdir(candidate):
        raise InterpreterError(f"{candidate}: is a folder, not a Python interpreter "
                               "(give its bin/python)")
    if not os.access(candidate, os.X_OK):
        raise InterpreterError(f"{candidate}: is not executable")
    return candidate


def probe(python: str) -> dict:
    """Version, pytest and coverage versions of ``python``; raises InterpreterError when unusable."""
    path = resolve(python)
    try:
        done = subprocess.run([path, "-c", _PROBE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InterpreterError(f"{path}: did not answer within {PROBE_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise InterpreterError(f"{path}: cannot be started ({exc.strerror or exc})") from None
    try:
        info = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise InterpreterError(f"{path}: is not a working Python interpreter ({tail[0]})") from None
    return check(info, path)


def check(info: dict, path: str) -> dict:
    """``info`` ({"version", "major", "pytest", "coverage"}, from the probe or from the test driver's
    first event) with ``path`` added; raises InterpreterError when the interpreter cannot run tests."""
    info["path"] = path
    version = tuple(int(x) for x in info["version"].split(".")[:2])
    if info.get("major", 3) < 3:
        raise InterpreterError(f"{path}: is Python {info['version']}; test runs need Python "
                               f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer (pytest and coverage.py "
                               "dropped Python 2). Point --python at the project's Python 3 venv.")
    if version < MIN_VERSION:
        raise InterpreterError(f"{path}: is Python {info['version']}; test runs need Python "
                               f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer")
    missing = [name for name in ("pytest", "coverage") if not info.get(name)]
    if missing:
        names = " ".join(missing)
        raise InterpreterError(
            f"{path}: cannot import {' and '.join(missing)}. The workbench installs nothing into "
            f"your environment; install {'them' if len(missing) > 1 else 'it'} yourself with: "
            f"{path} -m pip install {names}")
    return info
