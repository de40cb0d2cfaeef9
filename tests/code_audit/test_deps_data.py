"""OSV records of our own, in the real OSV schema, and trees that declare packages in every format.

Shared by the test_deps* files (no tests here).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path


def load_packaging_library() -> None:
    """tests/packaging (the offline bundle's tests, a package) shadows the `packaging` library while
    tests/ is on sys.path, as pytest puts it for tests/conftest.py: load the library itself first."""
    loaded = sys.modules.get("packaging")
    if loaded is not None and hasattr(loaded, "__version__"):
        return
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != tests_dir]
    for name in [n for n in sys.modules if n == "packaging" or n.startswith("packaging.")]:
        del sys.modules[name]
    try:
        import packaging.requirements  # noqa: F401
        import packaging.specifiers  # noqa: F401
        import packaging.utils  # noqa: F401
        import packaging.version  # noqa: F401
    finally:
        sys.path[:] = saved


CRIT_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # published base score 9.8
V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # base score 9.3
MED_V3 = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"  # base score 5.3


def _rec(id_, pkg, ranges=None, versions=None, *, aliases=(), severity=None, withdrawn=None, eco="PyPI",
         summary="", db=None, modified="2026-11-30T12:00:00Z"):
    affected = {"package": {"ecosystem": eco, "name": pkg, "purl": f"pkg:pypi/{pkg}"}}
    if ranges is not None:
        affected["ranges"] = ranges
    if versions is not None:
        affected["versions"] = versions
    rec = {"schema_version": "1.6.0", "id": id_, "modified": modified, "published": "2025-01-01T00:00:00Z",
           "aliases": list(aliases), "summary": summary, "details": summary + " (details)", "affected": [affected],
           "references": [{"type": "ADVISORY", "url": f"https://osv.dev/vulnerability/{id_}"}]}
    if severity:
        rec["severity"] = severity
    if withdrawn:
        rec["withdrawn"] = withdrawn
    if db:
        rec["database_specific"] = db
    return rec


def eco(*events):
    return [{"type": "ECOSYSTEM", "events": [dict([e]) for e in events]}]


RECORDS = [
    # torch before 2.6: torch.load(weights_only=True) can still run code
    _rec("PYSEC-2025-41", "torch", eco(("introduced", "0"), ("fixed", "2.6.0")),
         aliases=["CVE-2025-32434", "GHSA-53q9-r3pm-6pq6"], severity=[{"type": "CVSS_V3", "score": CRIT_V3}],
         summary="torch.load with weights_only=True leads to remote code execution", db={"cwe_ids": ["CWE-502"]}),
    # last_affected: 2.4.0 .. 2.5.1 inclusive; a CVSS 4 vector
    _rec("GHSA-xxxx-torch-0002", "torch", eco(("introduced", "2.4.0"), ("last_affected", "2.5.1")),
         aliases=["CVE-2026-0002"], severity=[{"type": "CVSS_V4", "score": V4}], summary="second torch issue"),
    # two intervals in one range, and an explicit version outside them
    _rec("GHSA-tttt-transformers-1", "transformers",
         eco(("introduced", "0"), ("fixed", "4.36.0"), ("introduced", "4.40.0"), ("fixed", "4.40.2")),
         versions=["4.38.1"], aliases=["CVE-2026-0003"], severity=[{"type": "CVSS_V3", "score": MED_V3}],
         summary="transformers deserialisation"),
    # explicit versions only; severity from database_specific (GHSA's "MODERATE")
    _rec("GHSA-jjjj-jinja2-0001", "Jinja2", versions=["3.1.2", "3.1.3"], aliases=["CVE-2024-22195"],
         db={"severity": "MODERATE"}, summary="jinja2 xmlattr"),
    # withdrawn: must never be reported
    _rec("GHSA-wwww-requests-0001", "requests", eco(("introduced", "0"), ("fixed", "9.0")),
         withdrawn="2026-02-01T00:00:00Z", summary="withdrawn advisory"),
    # no fix at all
    _rec("PYSEC-2026-9", "gradio", eco(("introduced", "3.0")), aliases=["CVE-2026-0009"],
         severity=[{"type": "CVSS_V3", "score": MED_V3}], summary="gradio file access"),
    # a GIT range only: cannot be compared with releases, ignored
    _rec("OSV-2026-GIT", "numpy", [{"type": "GIT", "repo": "https://github.com/numpy/numpy",
                                    "events": [{"introduced": "abc123"}, {"fixed": "def456"}]}]),
    # numpy old versions, for pins in the lock files
    _rec("PYSEC-2021-856", "numpy", eco(("introduced", "0"), ("fixed", "1.22.0")), aliases=["CVE-2021-34141"],
         severity=[{"type": "CVSS_V3", "score": MED_V3}], summary="numpy incomplete string comparison"),
    _rec("PYSEC-2024-PIL", "pillow", eco(("introduced", "0"), ("fixed", "10.3.0")), aliases=["CVE-2024-28219"],
         severity=[{"type": "CVSS_V3", "score": CRIT_V3}], summary="pillow buffer overflow",
         modified="2026-12-01T08:00:00Z"),
    _rec("PYSEC-2024-URL", "urllib3", eco(("introduced", "2.0.0"), ("fixed", "2.2.2")), aliases=["CVE-2024-37891"],
         severity=[{"type": "CVSS_V3", "score": MED_V3}], summary="urllib3 proxy-authorization"),
    _rec("PYSEC-2024-AIO", "aiohttp", eco(("introduced", "0"), ("fixed", "3.9.4")), aliases=["CVE-2024-30251"],
         severity=[{"type": "CVSS_V3", "score": CRIT_V3}], summary="aiohttp loop"),
    _rec("PYSEC-2024-SCIPY", "scipy", eco(("introduced", "0"), ("fixed", "1.8.0")),
         summary="scipy", db={"severity": "LOW"}),
    _rec("PYSEC-2024-YAML", "pyyaml", eco(("introduced", "0"), ("fixed", "5.4")), aliases=["CVE-2020-14343"],
         severity=[{"type": "CVSS_V3", "score": CRIT_V3}], summary="pyyaml full_load"),
]


def write_zip(folder: Path, records=RECORDS, name="all.zip", extra: dict | None = None, sums=True) -> Path:
    """The export as OSV publishes it: one JSON file per record, named by id; SHA256SUMS beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec, indent=1))
        for member, data in (extra or {}).items():
            zf.writestr(member, data)
    if sums:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (folder / "SHA256SUMS").write_text(f"{digest}  {name}\n")
    return path


REQUIREMENTS = """\
# the service
torch==2.5.1 \\
    --hash=sha256:{h}
-r requirements-dev.txt
transformers>=4.30  # unpinned: may resolve to a vulnerable version
requests==2.31.0
numpy
-e ./libs/local
mylib @ git+https://example.invalid/mylib.git@v1
""".format(h="a" * 64)

REQUIREMENTS_DEV = "Jinja2==3.1.2\n"

PYPROJECT = """\
[project]
name = "svc"
version = "1.0"
dependencies = [
    "gradio>=4.0",
    "safe-package>=1",
]

[project.optional-dependencies]
web = ["aiohttp>=3.9.4"]

[tool.poetry.dependencies]
python = "^3.10"
transformers = "^4.37"
scipy = {version = "~1.7", optional = true}
"""

POETRY_LOCK = """\
[[package]]
name = "numpy"
version = "1.21.0"
description = "array"
optional = false

[[package]]
name = "urllib3"
version = "2.2.2"
description = "http"
"""

UV_LOCK = """\
version = 1
requires-python = ">=3.10"

[[package]]
name = "svc"
version = "1.0"
source = { virtual = "." }

[[package]]
name = "pillow"
version = "10.2.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://x/pillow-10.2.0.tar.gz", hash = "sha256:%s", size = 1 }
""" % ("b" * 64)

PDM_LOCK = """\
[metadata]
lock_version = "4.4"

[[package]]
name = "urllib3"
version = "2.0.7"
summary = "http"
"""

PIPFILE_LOCK = json.dumps({
    "_meta": {"hash": {"sha256": "0"}},
    "default": {"aiohttp": {"hashes": ["sha256:" + "c" * 64], "version": "==3.9.1"}},
    "develop": {"pyyaml": {"version": "==5.3.1"}},
}, indent=4)

ENVIRONMENT = """\
name: svc
channels:
  - conda-forge
dependencies:
  - python=3.11
  - conda-forge::pytorch=2.5.1
  - numpy=1.21
  - pip
  - pip:
      - transformers==4.38.1
"""


def make_tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.txt").write_text(REQUIREMENTS)
    (root / "requirements-dev.txt").write_text(REQUIREMENTS_DEV)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "poetry.lock").write_text(POETRY_LOCK)
    sub = root / "svc2"
    sub.mkdir(exist_ok=True)
    (sub / "uv.lock").write_text(UV_LOCK)
    (sub / "pdm.lock").write_text(PDM_LOCK)
    (sub / "Pipfile.lock").write_text(PIPFILE_LOCK)
    (root / "environment.yml").write_text(ENVIRONMENT)
    return root


def semver(*events):
    return [{"type": "SEMVER", "events": [dict([e]) for e in events]}]


NPM_GO_RECORDS = [
    _rec("GHSA-npm-lodash-0001", "lodash", semver(("introduced", "0"), ("fixed", "4.17.21")), eco="npm",
         aliases=["CVE-2021-23337"], severity=[{"type": "CVSS_V3", "score": CRIT_V3}], summary="lodash template"),
    _rec("GHSA-npm-babel-0001", "@babel/traverse", semver(("introduced", "7.0.0-beta.1"), ("fixed", "7.23.2")),
         eco="npm", aliases=["CVE-2023-45133"], summary="babel traverse"),
    _rec("GO-2023-2102", "golang.org/x/net", semver(("introduced", "0"), ("fixed", "0.17.0")), eco="Go",
         aliases=["CVE-2023-39325"], severity=[{"type": "CVSS_V3", "score": CRIT_V3}], summary="HTTP/2 reset"),
]

PACKAGE_LOCK = json.dumps({
    "name": "web", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "web", "version": "1.0.0"},
        "node_modules/lodash": {"version": "4.17.20", "integrity": "sha512-abc"},
        "node_modules/@babel/traverse": {"version": "7.23.0"},
        "node_modules/left-pad": {"version": "1.3.0"},
    },
}, indent=2)

GO_MOD = """\
module example.com/svc

go 1.21

require golang.org/x/text v0.14.0

require (
	golang.org/x/net v0.15.0 // indirect
	example.com/pseudo v0.0.0-20210101120000-abcdef123456
)
"""
