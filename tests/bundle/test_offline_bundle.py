"""End to end: build the offline bundle here, install it with no index into a fresh venv, run the demo.

Heavy (the bundle is ~400 MiB of wheels; about a minute on a 2-core machine: build ~6 s with a local
torch wheel, install ~40 s, demo ~20 s). The bundle is built once per session and shared by the tests;
the times are printed (`pytest -s`) and kept in the bundle's build_seconds.txt.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from workbench import __version__

ROOT = Path(__file__).resolve().parents[2]
# It downloads ~220 MiB of wheels from the package index and needs ~2 GB of disk, so it runs when
# asked (WORKBENCH_BUNDLE_TEST=1), not on every CI run: a registry hiccup must not block a landing.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("WORKBENCH_BUNDLE_TEST") != "1",
                       reason="builds and installs the 400 MiB offline bundle: run with WORKBENCH_BUNDLE_TEST=1"),
]

#: Nothing may come from an index: pip is told there is none, and any URL it might still try is dead.
NO_INDEX_ENV = {
    "PIP_NO_INDEX": "1",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_FIND_LINKS": "",
}


def run(cmd, env_extra=None, timeout=600, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(env_extra or {})
    # Never the checkout as working folder: `python -c` would import the checkout's workbench, not the venv's.
    return subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or "/")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("offline") / "bundle"
    started = time.monotonic()
    proc = run([sys.executable, ROOT / "packaging" / "build_offline_bundle.py", "-o", out, "--torch", "cpu"])
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = json.loads((out / "bundle.json").read_text())
    print(f"\nbundle built in {seconds:.1f} s: {info['wheels']} wheels, {info['bytes'] / 2**20:.1f} MiB")
    yield out
    shutil.rmtree(out, ignore_errors=True)  # ~400 MiB: not left behind in pytest's kept temp folders


@pytest.fixture(scope="module")
def installed(bundle, tmp_path_factory):
    venv = tmp_path_factory.mktemp("venv") / "wb"
    started = time.monotonic()
    proc = run(["sh", bundle / "install.sh", venv, "--python", sys._base_executable], NO_INDEX_ENV)
    print(f"\ninstalled from the bundle in {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{len(list((bundle / 'wheels').glob('*.whl')))} wheels verified" in proc.stdout
    yield venv
    shutil.rmtree(venv, ignore_errors=True)  # ~1.5 GiB


def test_bundle_contents(bundle):
    wheels = sorted(p.name for p in (bundle / "wheels").iterdir())
    assert all(name.endswith(".whl") for name in wheels)
    assert any(n.startswith(f"ai_security_workbench-{__version__}-") for n in wheels)
    torch = [n for n in wheels if n.startswith("torch-")]
    assert len(torch) == 1 and "+cpu" in torch[0]
    sums = dict(reversed(line.split("  ")) for line in (bundle / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == [f"wheels/{n}" for n in wheels]
    doc = json.loads((bundle / "sbom.cdx.json").read_text())
    assert doc["specVersion"] == "1.6" and len(doc["components"]) == len(wheels)
    for comp in doc["components"]:
        file_name = comp["purl"].split("?file_name=")[1]
        assert comp["hashes"][0]["content"] == sums[f"wheels/{unquote(file_name)}"]
        assert comp["purl"].startswith("pkg:pypi/")
    with_license = [c for c in doc["components"] if c.get("licenses")]
    assert len(with_license) >= len(wheels) // 2  # most wheels state one
    readme = (bundle / "README.md").read_text()
    assert "./install.sh" in readme and "MiB" in readme and torch[0] in readme
    assert (bundle / "install.ps1").read_text().count("Get-FileHash") == 1


def test_install_with_no_index_then_demo_headless(installed, tmp_path):
    workbench = installed / "bin" / "workbench"
    where = run([installed / "bin" / "python", "-c", "import workbench, torch; print(workbench.__file__, torch.__version__)"])
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(installed)) and "+cpu" in where.stdout
    started = time.monotonic()
    proc = run([workbench, "demo", "--headless", "-o", tmp_path / "demo"], cwd=tmp_path, env_extra=
               {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home"),
                "XDG_DATA_HOME": str(tmp_path / "home" / "share")})
    print(f"\ndemo --headless from the bundle's venv in {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pdf = tmp_path / "demo" / "demo-report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert (tmp_path / "demo" / "demo.wbproj").is_file()
    info = run([workbench, "info", tmp_path / "demo" / "demo.wbproj", "--verify", "--json"])
    assert info.returncode == 0, info.stderr
    runs = json.loads(info.stdout)["runs"]
    assert runs and all(r["status"] == "done" for r in runs), runs


def test_tampered_bundle_is_refused(bundle, tmp_path):
    # A copy made of hard links (no 400 MiB copy); the altered wheel is a new file, so the shared bundle is untouched.
    copy = tmp_path / "bundle"
    (copy / "wheels").mkdir(parents=True)
    for item in bundle.iterdir():
        if item.is_file():
            os.link(item, copy / item.name)
    for wheel in (bundle / "wheels").iterdir():
        os.link(wheel, copy / "wheels" / wheel.name)
    victim = copy / "wheels" / next(p.name for p in (bundle / "wheels").iterdir() if p.name.startswith("platformdirs-"))
    data = bytearray(victim.read_bytes())
    victim.unlink()
    data[-100] ^= 0xFF
    victim.write_bytes(bytes(data))
    venv = tmp_path / "venv"
    proc = run(["sh", copy / "install.sh", venv, "--python", sys._base_executable], NO_INDEX_ENV)
    assert proc.returncode == 1
    assert f"ALTERED: wheels/{victim.name}" in proc.stderr
    assert not venv.exists()
