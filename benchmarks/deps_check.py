"""Dependency check against a synthetic OSV snapshot the size of the PyPI export.

``python benchmarks/deps_check.py [--advisories 40000] [--packages 500] [--repeats 3]``

Builds a zip of N OSV records in the real schema (ECOSYSTEM ranges with one to three
intervals, some explicit version lists, aliases, CVSS vectors, details text: about the
size of PyPI's ``all.zip`` records) over ~N/3 package names, and a 500-package ``uv.lock``
of which ~60 % are named by advisories. Each phase runs in a fresh process, so its peak
memory (``ru_maxrss``) is its own:

* import: verify the SHA-256 and index the zip (``workbench deps-db import``);
* check: inventory the tree and check the lock against the index (the ``deps`` job without
  a project);
* from-zip: the same check reading every record from the zip each time, the way a
  scanner without an index works offline (osv-scanner's offline mode loads the ecosystem's
  zip on every run): the peer this design is compared with.

Prints the median of the repeats per phase, the index size, and the ratio check / from-zip.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"


def make_snapshot(folder: Path, n: int, seed: int = 1) -> tuple[Path, list[str]]:
    rng = random.Random(seed)
    names = [f"pkg-{i:05d}" for i in range(max(n // 3, 1))]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(n):
            pkg = rng.choice(names)
            events = []
            lo = 0
            for _ in range(rng.randint(1, 3)):
                a, b = sorted(rng.sample(range(lo, lo + 40), 2))
                events += [{"introduced": "0" if a == 0 else f"{a // 10}.{a % 10}.0"},
                           {"fixed": f"{b // 10}.{b % 10}.1"}]
                lo = b + 1
            affected = {"package": {"ecosystem": "PyPI", "name": pkg, "purl": f"pkg:pypi/{pkg}"},
                        "ranges": [{"type": "ECOSYSTEM", "events": events}]}
            if rng.random() < 0.3:
                affected["versions"] = sorted({_version(rng) for _ in range(20)})
            rec = {"schema_version": "1.6.0", "id": f"PYSEC-2026-{i}", "modified": "2026-12-01T00:00:00Z",
                   "published": "2025-06-01T00:00:00Z", "aliases": [f"CVE-2026-{10000 + i}", f"GHSA-{i:04x}-bench"],
                   "summary": f"synthetic advisory {i} for {pkg}",
                   "details": "A synthetic advisory for the benchmark. " * 12,
                   "severity": [{"type": "CVSS_V3", "score": VECTOR}], "affected": [affected],
                   "references": [{"type": "ADVISORY", "url": f"https://example.invalid/{i}"},
                                  {"type": "WEB", "url": f"https://example.invalid/w/{i}"}],
                   "database_specific": {"cwe_ids": ["CWE-502"], "severity": "HIGH"}}
            zf.writestr(f"PYSEC-2026-{i}.json", json.dumps(rec))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  all.zip\n")
    return path, names


def make_lock(folder: Path, names: list[str], packages: int, seed: int = 2) -> Path:
    rng = random.Random(seed)
    known = rng.sample(names, min(len(names), int(packages * 0.6)))
    others = [f"other-{i}" for i in range(packages - len(known))]
    folder.mkdir(parents=True, exist_ok=True)
    parts = ['version = 1\nrequires-python = ">=3.10"\n']
    for name in known + others:
        parts.append(f'\n[[package]]\nname = "{name}"\nversion = "{_version(rng)}"\n'
                     'source = { registry = "https://pypi.org/simple" }\n')
    (folder / "uv.lock").write_text("".join(parts))
    return folder


CHILD = r"""
import json, resource, sys, time
phase, arg, index = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
if phase == "import":
    from workbench_plugins.code_audit.deps.osvdb import import_zip
    out = import_zip(arg, index=index)
    extra = {"advisories": out["advisories"]}
elif phase == "check":
    from workbench_plugins.code_audit.deps.engine import check_target
    out = check_target(arg, index=index, models=False)
    extra = {"findings": len(out["findings"]), "packages": out["result"].packages}
else:
    import zipfile
    from workbench_plugins.code_audit.deps import check as chk
    from workbench_plugins.code_audit.deps.engine import inventory
    from workbench_plugins.code_audit.deps.osvdb import normalise_name, parse_record
    from workbench_plugins.code_audit.deps.versions import evaluate_affected
    by_name = {}
    with zipfile.ZipFile(index) as zf:
        for info in zf.infolist():
            rec = parse_record(zf.read(info), info.filename)
            if rec.get("withdrawn"):
                continue
            for aff in rec.get("affected") or []:
                key = normalise_name("PyPI", aff["package"]["name"])
                adv = {"id": rec["id"], "aliases": rec.get("aliases") or [], "severity": rec.get("severity") or [],
                       "summary": rec.get("summary"), "db_severity": None, "cwes": []}
                by_name.setdefault(key, []).append((adv, evaluate_affected(aff)))
    class Z:
        def advisories(self, eco, name):
            return by_name.get(normalise_name(eco, name), [])
    inv = inventory(arg, models=False)
    res = chk.check(inv.deps, Z())
    extra = {"findings": len(chk.to_findings(res, "zip")[0]), "packages": res.packages}
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  **extra}))
"""

BASELINE = r"""
import json, resource
import workbench_plugins.code_audit.deps.engine, workbench_plugins.code_audit.deps.osvdb, packaging.version, cvss
print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, *args: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--advisories", type=int, default=40000)
    ap.add_argument("--packages", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-deps-bench-"))
    env = dict(os.environ, WORKBENCH_DATA_DIR=str(tmp / "data"))
    env.pop("PYTHONPATH", None)
    zip_path, names = make_snapshot(tmp / "carried", args.advisories)
    tree = make_lock(tmp / "tree", names, args.packages)
    print(f"snapshot: {args.advisories} advisories over {len(names)} packages, "
          f"zip {zip_path.stat().st_size / 1e6:.1f} MB; lock: {args.packages} packages")
    base = _child(BASELINE, env=env)["maxrss_mb"]
    results: dict[str, list[dict]] = {"import": [], "check": [], "from-zip": []}
    index = str(tmp / "data" / "osv-index.sqlite")
    for _ in range(args.repeats):
        if os.path.exists(index):
            os.remove(index)
        results["import"].append(_child(CHILD, "import", str(zip_path), index, env=env))
        results["check"].append(_child(CHILD, "check", str(tree), index, env=env))
        results["from-zip"].append(_child(CHILD, "from-zip", str(tree), str(zip_path), env=env))
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    rss = {k: max(r["maxrss_mb"] for r in v) for k, v in results.items()}
    print(f"index: {os.path.getsize(index) / 1e6:.1f} MB; process baseline (modules imported): {base:.0f} MB peak RSS")
    for k in results:
        extra = {x: results[k][-1][x] for x in ("advisories", "findings", "packages") if x in results[k][-1]}
        print(f"{k:9s} median {med[k]:7.3f} s over {args.repeats}  peak RSS {rss[k]:6.0f} MB "
              f"({rss[k] - base:+.0f} MB over baseline)  {extra}")
    assert results["check"][-1]["findings"] == results["from-zip"][-1]["findings"], "the two checks disagree"
    print(f"ratio check with the index / from the zip: {med['check'] / med['from-zip']:.3f}x "
          f"({med['from-zip'] / med['check']:.0f}x faster); same findings: yes")


if __name__ == "__main__":
    main()
