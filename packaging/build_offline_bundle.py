#!/usr/bin/env python3
"""Build an offline install bundle of the workbench: every wheel it needs, checksummed, with an SBOM.

Run on a connected machine, carry the folder to the air-gapped one, run ``install.sh VENV``::

    python packaging/build_offline_bundle.py -o bundle/ [--platform linux-x86_64] [--python 3.11] [--torch cpu|cuda]

Standard library only (plus pip), so that it runs from a bare Python.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sbom  # noqa: E402  (beside this script, not an installed package)

PROJECT_NAME = "ai-security-workbench"
DEFAULT_TORCH = "2.13.0"
PYTHONS = ("3.11", "3.12", "3.13")

#: Wheel platform tags per target; pip takes the first that a release offers.
PLATFORMS = {
    "linux-x86_64": ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
                     "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64",
                     "manylinux1_x86_64", "linux_x86_64"],
    "linux-aarch64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64",
                      "linux_aarch64"],
    "win-amd64": ["win_amd64"],
    "macos-arm64": ["macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_12_0_arm64", "macosx_11_0_arm64"],
}


class BundleError(Exception):
    """A step failed; the message says which and why."""


def host_platform() -> str | None:
    machine = platform.machine().lower()
    if sys.platform.startswith("linux") and machine in ("x86_64", "amd64"):
        return "linux-x86_64"
    if sys.platform.startswith("linux") and machine in ("aarch64", "arm64"):
        return "linux-aarch64"
    if sys.platform == "win32" and machine in ("amd64", "x86_64"):
        return "win-amd64"
    if sys.platform == "darwin" and machine == "arm64":
        return "macos-arm64"
    return None


def source_files(root: Path) -> list[Path]:
    """What the checkout holds (tracked and new, not ignored): never a stale build/ or a venv."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"],
                             check=True, capture_output=True).stdout
        return [Path(p) for p in out.decode().split("\0") if p and (root / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache"}
        return [p.relative_to(root) for p in root.rglob("*")
                if p.is_file() and not skip.intersection(p.relative_to(root).parts)
                and not p.name.endswith(".egg-info")]


def run_pip(pip_python: str, args: list[str], what: str, log) -> None:
    cmd = [pip_python, "-m", "pip", *args]
    log(f"$ {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise BundleError(f"{what} failed (pip exit {proc.returncode}):\n{proc.stdout[-4000:]}")


def build_own_wheel(root: Path, wheels: Path, pip_python: str, log) -> Path:
    """``pip wheel --no-deps`` of a clean copy of the checkout, so nothing stale gets in."""
    with tempfile.TemporaryDirectory(prefix="wb-src-") as tmp:
        src = Path(tmp) / "src"
        for rel in source_files(root):
            dest = src / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest)
        args = ["wheel", "--no-deps", "-q", "-w", str(wheels), str(src)]
        has_setuptools = subprocess.run([pip_python, "-c", "import setuptools, wheel"],
                                        capture_output=True).returncode == 0
        if has_setuptools:  # skip the isolated build env: faster, and no index needed for it
            args.insert(1, "--no-build-isolation")
        run_pip(pip_python, args, "building the workbench's own wheel", log)
    built = sorted(wheels.glob(f"{PROJECT_NAME.replace('-', '_')}-*.whl"))
    if not built:
        raise BundleError(f"pip wheel wrote no {PROJECT_NAME} wheel into {wheels}")
    return built[-1]


def pick_pip_python(target_python: str) -> tuple[str, bool]:
    """An interpreter of the target version runs pip when there is one, so that environment markers
    (``python_version < '3.12'``) are judged for the target, not the host. Returns (python, is_native)."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == target_python:
        return sys.executable, True
    other = shutil.which(f"python{target_python}")
    if other and subprocess.run([other, "-m", "pip", "--version"], capture_output=True).returncode == 0:
        return other, True
    return sys.executable, False


def check_torch(wheels: Path, flavour: str, target: str) -> Path:
    found = sorted(wheels.glob("torch-*.whl"))
    if len(found) != 1:
        raise BundleError(f"expected one torch wheel in {wheels}, found {[p.name for p in found]}")
    name = found[0].name
    linux = target.startswith("linux")
    if flavour == "cpu" and linux and "+cpu" not in name:
        raise BundleError(f"{name} is not the CPU build of torch; pass "
                          "--torch-index-url https://download.pytorch.org/whl/cpu")
    if flavour == "cuda" and "+cpu" in name:
        raise BundleError(f"{name} is the CPU build of torch; pass --torch-index-url for the CUDA build "
                          "(e.g. https://download.pytorch.org/whl/cu128) or remove the local CPU wheel source")
    return found[0]


def write_sums(bundle: Path, wheel_files: list[Path]) -> None:
    lines = [f"{sbom.sha256_file(p)}  wheels/{p.name}\n" for p in sorted(wheel_files, key=lambda p: p.name)]
    (bundle / "SHA256SUMS").write_text("".join(lines), encoding="ascii", newline="\n")


def human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def write_readme(bundle: Path, info: dict, wheel_files: list[Path]) -> None:
    sizes = sorted(((p.stat().st_size, p.name) for p in wheel_files), reverse=True)
    total = sum(s for s, _ in sizes)
    rows = "\n".join(f"| `{name}` | {human(size)} |" for size, name in sizes)
    text = f"""# {PROJECT_NAME} {info['version']}: offline install bundle

Built {info['built']} for Python {info['python']} on {info['platform']}, torch {info['torch']}
({info['torch_flavour']} build). {len(sizes)} wheels, {human(total)} in all.

## Install (no network needed)

Linux / macOS:

```sh
./install.sh ~/.venvs/workbench          # checks SHA256SUMS, creates the venv, installs from wheels/ only
~/.venvs/workbench/bin/workbench demo --headless -o demo-out/
~/.venvs/workbench/bin/workbench desktop-install   # Linux: menu entry and icon (user scope)
```

Windows (PowerShell):

```powershell
powershell -ExecutionPolicy Bypass -File install.ps1 C:\\workbench-venv
C:\\workbench-venv\\Scripts\\workbench.exe demo --headless -o demo-out
```

`install.sh --check` only verifies the bundle. The installer refuses to go on
when a wheel listed in `SHA256SUMS` is missing or altered, or when `wheels/`
holds a file that is not listed; it runs pip with `--no-index --find-links
wheels/` and ignores pip's configuration files and `PIP_*` variables, so no
index is ever asked. `--python PY` chooses the interpreter (default
`python{info['python']}`, else `python3` of that version).

## What is inside

* `wheels/`: the wheels; `SHA256SUMS`: their SHA-256 (`sha256sum -c SHA256SUMS`).
* `sbom.cdx.json`: CycloneDX {sbom.SPEC_VERSION} SBOM, one component per wheel (name, version,
  purl, SHA-256, licence where the wheel's METADATA states one).
* `bundle.json`: what the bundle was built for.

Check the checksums file itself against the value you were given out of band:
SHA-256 of `SHA256SUMS` = `{sbom.sha256_file(bundle / 'SHA256SUMS')}`.

## Sizes

| wheel | size |
|---|---|
{rows}
| **total** | **{human(total)}** |
"""
    (bundle / "README.md").write_text(text, encoding="utf-8")


def build(out: Path, *, platform_name: str | None, python: str, torch_flavour: str,
          torch_version: str = DEFAULT_TORCH, torch_index_url: str | None = None,
          root: Path = HERE.parent, log=print) -> dict:
    started = time.monotonic()
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out}: exists and is not empty; choose a new folder")
    host = host_platform()
    target = platform_name or host
    if target is None:
        raise BundleError("cannot tell this machine's platform; pass --platform")
    pip_python, native_python = pick_pip_python(python)
    cross = target != host or not native_python
    wheels = out / "wheels"
    wheels.mkdir(parents=True)

    own = build_own_wheel(root, wheels, pip_python, log)
    args = ["download", "-q", "-d", str(wheels), "--only-binary=:all:", str(own), f"torch=={torch_version}"]
    if cross:
        tags = PLATFORMS.get(target, [target])
        for tag in tags:
            args += ["--platform", tag]
        args += ["--python-version", python, "--implementation", "cp", "--abi", f"cp{python.replace('.', '')}"]
        if not native_python:
            log(f"warning: no python{python} here: environment markers are judged for "
                f"{sys.version_info[0]}.{sys.version_info[1]}; check the bundle on the target")
    if torch_index_url:
        args += ["--extra-index-url", torch_index_url]
    run_pip(pip_python, args, "downloading the dependencies", log)

    wheel_files = sorted(wheels.glob("*.whl"))
    strays = [p.name for p in wheels.iterdir() if p.suffix != ".whl"]
    if strays:
        raise BundleError(f"pip left files that are not wheels in {wheels}: {strays}")
    torch_wheel = check_torch(wheels, torch_flavour, target)
    write_sums(out, wheel_files)
    own_meta = sbom.wheel_metadata(own)
    subject = {"name": own_meta["Name"], "version": own_meta["Version"]}
    (out / "sbom.cdx.json").write_text(json.dumps(sbom.build_sbom(wheel_files, subject), indent=2) + "\n",
                                       encoding="utf-8")
    info = {
        "name": subject["name"], "version": subject["version"], "python": python, "platform": target,
        "torch": sbom.wheel_metadata(torch_wheel)["Version"], "torch_flavour": torch_flavour,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wheels": len(wheel_files), "bytes": sum(p.stat().st_size for p in wheel_files),
    }
    (out / "bundle.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    for script in ("install.sh", "install.ps1"):
        text = (HERE / "templates" / script).read_text(encoding="utf-8")
        for key in ("name", "version", "python"):
            text = text.replace(f"@{key.upper()}@", info[key])
        dest = out / script
        dest.write_text(text, encoding="utf-8", newline="\n" if script.endswith(".sh") else "\r\n")
        if script.endswith(".sh"):
            dest.chmod(0o755)
    write_readme(out, info, wheel_files)
    info["seconds"] = round(time.monotonic() - started, 1)
    log(f"bundle: {out} ({info['wheels']} wheels, {human(info['bytes'])}) in {info['seconds']} s")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, help="new folder for the bundle")
    parser.add_argument("--platform", help=f"target: one of {', '.join(PLATFORMS)} or a wheel platform tag "
                                           "(default: this machine)")
    parser.add_argument("--python", choices=PYTHONS,
                        default=f"{sys.version_info[0]}.{sys.version_info[1]}", help="target Python")
    parser.add_argument("--torch", choices=("cpu", "cuda"), default="cpu", help="which torch build")
    parser.add_argument("--torch-version", default=DEFAULT_TORCH)
    parser.add_argument("--torch-index-url", help="extra index for torch, e.g. https://download.pytorch.org/whl/cpu")
    args = parser.parse_args(argv)
    try:
        build(Path(args.output), platform_name=args.platform, python=args.python, torch_flavour=args.torch,
              torch_version=args.torch_version, torch_index_url=args.torch_index_url)
    except BundleError as exc:
        print(f"build_offline_bundle: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
