"""install.sh's verification and the SBOM, on small wheels made in the test (fast)."""

import hashlib
import json
import shutil
import subprocess
import zipfile

import pytest

from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def make_wheel(folder, name, version, extra_meta="", payload=b"x = 1\n"):
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name.replace('-', '_')}/__init__.py", payload)
        zf.writestr(f"{dist}.dist-info/METADATA",
                    f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\nSummary: test {name}\n{extra_meta}")
        zf.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    return path


@pytest.fixture()
def small_bundle(tmp_path, bundle_mod):
    bundle = tmp_path / "bundle"
    wheels = bundle / "wheels"
    wheels.mkdir(parents=True)
    made = [make_wheel(wheels, "alpha-pkg", "1.0"), make_wheel(wheels, "beta", "2.0+cpu")]
    bundle_mod.write_sums(bundle, made)
    text = (PACKAGING / "templates" / "install.sh").read_text()
    for key, value in (("NAME", "alpha-pkg"), ("VERSION", "1.0"), ("PYTHON", "3.11")):
        text = text.replace(f"@{key}@", value)
    (bundle / "install.sh").write_text(text)
    return bundle


def check(bundle, *args):
    return subprocess.run(["sh", str(bundle / "install.sh"), *args], capture_output=True, text=True, timeout=60)


def test_sums_file_is_sha256sum_compatible(small_bundle):
    lines = (small_bundle / "SHA256SUMS").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == ["wheels/alpha_pkg-1.0-py3-none-any.whl",
                                                       "wheels/beta-2.0+cpu-py3-none-any.whl"]
    for line in lines:
        digest, rel = line.split("  ")
        assert hashlib.sha256((small_bundle / rel).read_bytes()).hexdigest() == digest
    if shutil.which("sha256sum"):
        assert subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=small_bundle,
                              capture_output=True).returncode == 0


def test_intact_bundle_passes(small_bundle):
    proc = check(small_bundle, "--check")
    assert proc.returncode == 0, proc.stderr
    assert "2 wheels verified" in proc.stdout


def test_altered_wheel_is_refused_and_named(small_bundle):
    victim = small_bundle / "wheels" / "beta-2.0+cpu-py3-none-any.whl"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    proc = check(small_bundle, "--check")
    assert proc.returncode == 1
    assert "ALTERED: wheels/beta-2.0+cpu-py3-none-any.whl" in proc.stderr
    assert "nothing was installed" in proc.stderr


def test_missing_wheel_is_refused_and_named(small_bundle):
    (small_bundle / "wheels" / "alpha_pkg-1.0-py3-none-any.whl").unlink()
    proc = check(small_bundle, "--check")
    assert proc.returncode == 1
    assert "MISSING: wheels/alpha_pkg-1.0-py3-none-any.whl" in proc.stderr


def test_unlisted_wheel_is_refused(small_bundle):
    # pip would consider any wheel in the folder: an added one must stop the install too.
    make_wheel(small_bundle / "wheels", "evil", "9.9")
    proc = check(small_bundle, "--check")
    assert proc.returncode == 1
    assert "UNLISTED: wheels/evil-9.9-py3-none-any.whl" in proc.stderr


def test_missing_sums_file_is_refused(small_bundle):
    (small_bundle / "SHA256SUMS").unlink()
    proc = check(small_bundle, "--check")
    assert proc.returncode == 1
    assert "SHA256SUMS is missing" in proc.stderr


def test_refused_install_creates_no_venv(small_bundle, tmp_path):
    (small_bundle / "wheels" / "alpha_pkg-1.0-py3-none-any.whl").write_bytes(b"not the wheel")
    proc = check(small_bundle, str(tmp_path / "venv"))
    assert proc.returncode == 1 and "ALTERED" in proc.stderr
    assert not (tmp_path / "venv").exists()


def test_sbom_components(tmp_path, sbom_mod):
    a = make_wheel(tmp_path, "alpha-pkg", "1.0", "License-Expression: Apache-2.0 OR MIT\n")
    b = make_wheel(tmp_path, "Beta_Thing", "2.0+cpu", "License: BSD License\n")
    c = make_wheel(tmp_path, "gamma", "3.1", "Classifier: License :: OSI Approved :: MIT License\n")
    d = make_wheel(tmp_path, "delta", "0.1", "License: UNKNOWN\n")
    doc = sbom_mod.build_sbom([d, c, b, a], {"name": "ai-security-workbench", "version": "0.1.0"})
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] in ("1.5", "1.6")
    assert doc["serialNumber"].startswith("urn:uuid:")
    assert doc["metadata"]["component"]["purl"] == "pkg:pypi/ai-security-workbench@0.1.0"
    by_name = {c["name"]: c for c in doc["components"]}
    assert sorted(by_name) == ["Beta_Thing", "alpha-pkg", "delta", "gamma"]
    for path, comp in ((a, by_name["alpha-pkg"]), (b, by_name["Beta_Thing"])):
        assert comp["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(path.read_bytes()).hexdigest()}]
    assert by_name["Beta_Thing"]["version"] == "2.0+cpu"
    assert by_name["Beta_Thing"]["purl"] == "pkg:pypi/beta-thing@2.0%2Bcpu?file_name=Beta_Thing-2.0%2Bcpu-py3-none-any.whl"
    assert by_name["alpha-pkg"]["licenses"] == [{"expression": "Apache-2.0 OR MIT"}]
    assert by_name["Beta_Thing"]["licenses"] == [{"license": {"id": "BSD-3-Clause"}}]
    assert by_name["gamma"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert "licenses" not in by_name["delta"]
    assert len({c["bom-ref"] for c in doc["components"]}) == 4
    json.dumps(doc)  # serialisable as written by the builder


def test_sbom_names_a_file_that_is_not_a_wheel(tmp_path, sbom_mod):
    bad = tmp_path / "fake-1.0-py3-none-any.whl"
    bad.write_bytes(b"PK not really")
    with pytest.raises(ValueError, match="fake-1.0-py3-none-any.whl: not a wheel"):
        sbom_mod.component(bad)


def test_builder_refuses_a_non_empty_output_folder(tmp_path, bundle_mod):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(bundle_mod.BundleError, match=f"{tmp_path}: exists and is not empty"):
        bundle_mod.build(tmp_path, platform_name=None, python="3.11", torch_flavour="cpu", log=lambda m: None)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_torch_build_check(tmp_path, bundle_mod):
    gpu = make_wheel(tmp_path, "torch", "2.13.0")
    with pytest.raises(bundle_mod.BundleError, match="not the CPU build.*download.pytorch.org/whl/cpu"):
        bundle_mod.check_torch(tmp_path, "cpu", "linux-x86_64")
    assert bundle_mod.check_torch(tmp_path, "cuda", "linux-x86_64") == gpu
    gpu.rename(tmp_path / "torch-2.13.0+cpu-py3-none-any.whl")
    with pytest.raises(bundle_mod.BundleError, match="is the CPU build"):
        bundle_mod.check_torch(tmp_path, "cuda", "linux-x86_64")
