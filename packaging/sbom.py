"""A CycloneDX 1.6 SBOM (JSON) of a folder of wheels, read from the wheels themselves.

Written here rather than with cyclonedx-bom because that tool describes an
*environment* (what is installed), while the bundle must describe exactly the
files it ships, with their hashes, for a platform that may not be this one.
Standard library only: the bundle builder runs on a bare Python.
"""

from __future__ import annotations

import datetime as _dt
import email.parser
import hashlib
import re
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote

SPEC_VERSION = "1.6"

#: Licence names as wheels write them in ``License:`` or classifiers, mapped to SPDX ids.
_SPDX_BY_NAME = {
    "apache 2.0": "Apache-2.0", "apache-2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0", "apache license, version 2.0": "Apache-2.0",
    "apache": "Apache-2.0",
    "mit": "MIT", "mit license": "MIT",
    "bsd": "BSD-3-Clause", "bsd license": "BSD-3-Clause", "bsd-3-clause": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause", "bsd-2-clause": "BSD-2-Clause",
    "psf": "PSF-2.0", "psf-2.0": "PSF-2.0", "python software foundation license": "PSF-2.0",
    "mpl-2.0": "MPL-2.0", "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "isc": "ISC", "isc license (iscl)": "ISC",
    "lgpl-3.0": "LGPL-3.0-only", "gpl-3.0": "GPL-3.0-only",
    "the unlicense (unlicense)": "Unlicense", "zope public license": "ZPL-2.1",
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_metadata(path: Path) -> email.message.Message:
    """The METADATA of a wheel (``*.dist-info/METADATA``), parsed; names the wheel when it has none."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist()
                     if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if not names:
                raise ValueError(f"{path}: not a wheel (no *.dist-info/METADATA inside)")
            text = zf.read(names[0]).decode("utf-8", errors="replace")
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: not a wheel ({exc})") from None
    return email.parser.Parser().parsestr(text, headersonly=True)


def license_entries(meta) -> list[dict]:
    """CycloneDX ``licenses`` from METADATA: License-Expression, else License, else the classifiers."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return [{"expression": expression}]
    found: list[dict] = []
    raw = (meta.get("License") or "").strip()
    # Some wheels put the whole licence text in this field: keep only a first line that looks like a name.
    first = raw.splitlines()[0].strip() if raw else ""
    if first and first.upper() not in ("UNKNOWN", "NONE") and len(first) <= 100:
        spdx = _SPDX_BY_NAME.get(first.lower())
        found.append({"license": {"id": spdx}} if spdx else {"license": {"name": first}})
    if not found:
        for classifier in meta.get_all("Classifier") or []:
            if classifier.startswith("License ::"):
                leaf = classifier.split("::")[-1].strip()
                spdx = _SPDX_BY_NAME.get(leaf.lower())
                entry = {"license": {"id": spdx}} if spdx else {"license": {"name": leaf}}
                if entry not in found:
                    found.append(entry)
    return found


def normalise_name(name: str) -> str:
    """PEP 503 normalisation, which is also what purl asks for pypi names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def purl(name: str, version: str, filename: str) -> str:
    return f"pkg:pypi/{normalise_name(name)}@{quote(version, safe='')}?file_name={quote(filename, safe='')}"


def component(path: Path) -> dict:
    meta = wheel_metadata(path)
    name, version = meta.get("Name"), meta.get("Version")
    if not name or not version:
        raise ValueError(f"{path}: METADATA has no Name or Version")
    entry = {
        "type": "library",
        "bom-ref": f"{normalise_name(name)}=={version}:{path.name}",
        "name": name,
        "version": version,
        "purl": purl(name, version, path.name),
        "hashes": [{"alg": "SHA-256", "content": sha256_file(path)}],
    }
    if meta.get("Summary"):
        entry["description"] = meta["Summary"]
    licenses = license_entries(meta)
    if licenses:
        entry["licenses"] = licenses
    return entry


def build_sbom(wheels: list[Path], subject: dict, *, timestamp: _dt.datetime | None = None) -> dict:
    """One component per wheel; ``subject`` (name, version) is what the bundle installs."""
    stamp = (timestamp or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    components = [component(p) for p in sorted(wheels, key=lambda p: p.name.lower())]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": stamp,
            "tools": {"components": [{"type": "application", "name": "build_offline_bundle.py",
                                      "version": subject["version"]}]},
            "component": {"type": "application", "bom-ref": "bundle", "name": subject["name"],
                          "version": subject["version"],
                          "purl": f"pkg:pypi/{normalise_name(subject['name'])}@{quote(subject['version'], safe='')}"},
        },
        "components": components,
    }
