"""``workbench demo`` for the testing pillar: a tiny test suite for the shipped demo tree, run under coverage.

The shipped demo tree (``samples/vulnerable_ml``) has no tests of its own, and
``resources/`` is not ours to change, so the demo writes a three-test suite
into the demo's fresh copy of the samples at run time: two functional tests
and one security test that fails on purpose (the demo hard-codes an API key).
Its coverage configuration measures ``src/``, so the modules no test imports
show up at 0 % and the code audit's findings in them are "untested".

The suite needs no network and nothing beyond the standard library: with
pytest in the workbench's interpreter it runs as a real ``test`` job (the
samples are ours, so running them with our interpreter is safe); without
pytest a small standard-library runner writes a JUnit XML file of the same
suite and the demo imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

TREE = "vulnerable_ml"
SUITE = {
    "pytest.ini": """
        [pytest]
        pythonpath = src
        testpaths = tests
    """,
    ".coveragerc": """
        [run]
        source = src
    """,
    "tests/test_settings.py": """
        from pathlib import Path

        from creditml import settings

        ROOT = Path(__file__).resolve().parent.parent


        def test_model_repo_is_named():
            assert settings.MODEL_REPO == "acme/credit-scorer"


        def test_service_port_matches_the_config():
            assert "port: 8080" in (ROOT / "config.yaml").read_text(encoding="utf-8")
    """,
    "tests/test_security_settings.py": """
        from creditml import settings


        def test_no_provider_key_in_the_source():
            # Fails on purpose: the demo service hard-codes its key (the code audit finds it too).
            key = settings.OPENAI_API_KEY
            assert not key.startswith("sk-"), f"api_key={key} is hard-coded in creditml/settings.py"
    """,
}

# Runs the suite's test_* functions with the standard library only and writes JUnit XML.
_STDLIB_RUNNER = r'''
import importlib.util, sys, time, traceback
import xml.etree.ElementTree as ET
from pathlib import Path

root, out = Path(sys.argv[1]), sys.argv[2]
sys.path.insert(0, str(root / "src"))
suite = ET.Element("testsuite", name="demo")
counts = {"tests": 0, "failures": 0, "errors": 0}
for path in sorted((root / "tests").glob("test_*.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in sorted(n for n in vars(module) if n.startswith("test_")):
        case = ET.SubElement(suite, "testcase", classname="tests." + path.stem, name=name,
                             file="tests/" + path.name)
        counts["tests"] += 1
        started = time.perf_counter()
        try:
            getattr(module, name)()
        except AssertionError as exc:
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=str(exc)).text = traceback.format_exc()
        except Exception as exc:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=repr(exc)).text = traceback.format_exc()
        case.set("time", "%.6f" % (time.perf_counter() - started))
for key, value in counts.items():
    suite.set(key, str(value))
ET.ElementTree(suite).write(out, encoding="utf-8", xml_declaration=True)
'''


def write_suite(samples_dir) -> str:
    """Write the suite into the demo tree; returns the tree's path."""
    tree = os.path.join(str(samples_dir), TREE)
    if not os.path.isdir(os.path.join(tree, "src")):
        raise FileNotFoundError(f"{tree}: the demo tree is missing (no src/ folder)")
    for rel, text in SUITE.items():
        path = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(text).lstrip("\n"))
    return tree


def junit_without_pytest(tree: str, python: str = sys.executable) -> str:
    """Run the suite with the standard-library runner; returns the JUnit XML file it wrote."""
    out = os.path.join(tree, "demo-junit.xml")
    subprocess.run([python, "-c", _STDLIB_RUNNER, tree, out], cwd=tree, check=True, timeout=60,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return out


def demo_specs(plugin, samples_dir, *, have_pytest: bool | None = None) -> list:
    import importlib.util

    tree = write_suite(samples_dir)
    if have_pytest is None:
        have_pytest = all(importlib.util.find_spec(m) is not None for m in ("pytest", "coverage"))
    if have_pytest:
        return [plugin.job_spec("test", target=tree, python=sys.executable, timeout=120.0)]
    return [plugin.job_spec("import", target=junit_without_pytest(tree), kind="junit")]
