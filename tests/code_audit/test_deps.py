"""The dependency audit: an OSV snapshot of our own (real schema) packed as a zip, real trees, real projects."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from . import test_deps_data as fx


@pytest.fixture(autouse=True)
def _packaging_library():
    # at run time, not at collection: loading it while tests/packaging is still to be collected would
    # take that package's name away from it
    fx.load_packaging_library()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def snapshot(tmp_path, data_dir):
    from workbench_plugins.code_audit.deps import osvdb

    zip_path = fx.write_zip(tmp_path / "carried", extra={"broken.json": "{not json", "README.txt": "not a record"})
    return osvdb.import_zip(zip_path)


@pytest.fixture
def tree(tmp_path):
    return fx.make_tree(tmp_path / "svc")


def run_deps(project, **params):
    from workbench.core.jobs import run_in_process
    from workbench_plugins.code_audit import plugin

    run_id, status, result = run_in_process(project, plugin.job_spec("deps", **params))
    assert status == "done", result
    return run_id, result


# ------------------------------------------------------------ OSV semantics

def test_osv_ranges_introduced_fixed_last_affected_and_versions():
    from packaging.version import Version as V

    from workbench_plugins.code_audit.deps.versions import evaluate_affected

    fixed = evaluate_affected({"ranges": fx.eco(("introduced", "0"), ("fixed", "2.6.0"))})
    assert fixed.affects(V("0.1")) and fixed.affects(V("2.5.1")) and fixed.affects(V("2.6.0rc1"))
    assert not fixed.affects(V("2.6.0")) and not fixed.affects(V("3.0"))
    last = evaluate_affected({"ranges": fx.eco(("introduced", "2.4.0"), ("last_affected", "2.5.1"))})
    assert last.affects(V("2.4.0")) and last.affects(V("2.5.1"))
    assert not last.affects(V("2.3.9")) and not last.affects(V("2.5.2"))
    # events out of order, two intervals, and explicit versions outside them
    two = evaluate_affected({"ranges": fx.eco(("fixed", "4.40.2"), ("introduced", "4.40.0"), ("fixed", "4.36.0"),
                                              ("introduced", "0")), "versions": ["4.38.1"]})
    assert [two.affects(V(x)) for x in ("4.35", "4.36.0", "4.38.0", "4.38.1", "4.40.1", "4.40.2")] == \
        [True, False, False, True, True, False]
    assert [str(x) for x in two.fixed] == ["4.36.0", "4.40.2"]
    assert str(two.first_fix_after(V("4.40.0"))) == "4.40.2"
    only = evaluate_affected({"versions": ["3.1.2"]})
    assert only.affects(V("3.1.2"), "3.1.2") and not only.affects(V("3.1.4"), "3.1.4")
    git = evaluate_affected({"ranges": [{"type": "GIT", "events": [{"introduced": "abc"}, {"fixed": "def"}]}]})
    assert not git.affects(V("1.0"))


def test_specifiers_as_intervals():
    from workbench_plugins.code_audit.deps.versions import evaluate_affected, overlap, pinned_version, spec_intervals

    aff = evaluate_affected({"ranges": fx.eco(("introduced", "0"), ("fixed", "2.6.0"))})
    assert overlap(spec_intervals(">=2.0"), aff).text() == ">=2.0,<2.6.0"
    assert overlap(spec_intervals(">=2.6"), aff) is None
    assert overlap(spec_intervals(">2.0,<2.6"), aff) is not None  # no version named by the record in between
    assert overlap(spec_intervals("~=2.6.1"), aff) is None
    assert overlap(spec_intervals("==2.5.*"), aff) is not None
    assert overlap(spec_intervals("==2.6.*"), aff) is None
    assert overlap(spec_intervals(""), aff) is not None  # no specifier: every version
    assert pinned_version("==2.5.1") == "2.5.1" and pinned_version(">=2.5.1") is None
    assert pinned_version("==2.5.*") is None


def test_poetry_and_conda_constraints():
    from packaging.specifiers import SpecifierSet

    from workbench_plugins.code_audit.deps.manifests import conda_spec, poetry_constraint

    caret = SpecifierSet(poetry_constraint("^4.37"))
    assert "4.99" in caret and "5.0" not in caret and "4.36" not in caret
    zero = SpecifierSet(poetry_constraint("^0.2.3"))
    assert "0.2.9" in zero and "0.3.0" not in zero
    tilde = SpecifierSet(poetry_constraint("~1.7"))
    assert "1.7.5" in tilde and "1.8.0" not in tilde
    assert poetry_constraint("1.2.3") == "==1.2.3" and poetry_constraint("*") == ""
    assert conda_spec("conda-forge::pytorch=2.5.1=py3.11_cuda") == ("pytorch", "==2.5.1")
    assert conda_spec("numpy=1.21") == ("numpy", "==1.21.*")
    assert conda_spec("scipy>=1.7,<1.9") == ("scipy", ">=1.7,<1.9")


# ------------------------------------------------------------------ import

def test_import_verifies_and_indexes(tmp_path, data_dir):
    from workbench_plugins.code_audit.deps import osvdb

    folder = tmp_path / "carried"
    path = fx.write_zip(folder, extra={"broken.json": "{not json"})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(osvdb.SnapshotError, match="does not match"):
        osvdb.import_zip(path, sha256="0" * 64)
    assert not osvdb.index_path().exists() or osvdb.info()["advisories"] == 0
    (folder / "SHA256SUMS").write_text("f" * 64 + "  all.zip\n")
    with pytest.raises(osvdb.SnapshotError, match="SHA256SUMS line 1"):
        osvdb.import_zip(path)
    (folder / "SHA256SUMS").unlink()
    with pytest.raises(osvdb.SnapshotError, match="no checksum"):
        osvdb.import_zip(path)
    out = osvdb.import_zip(path, sha256=digest.upper())
    assert out["advisories"] == len(fx.RECORDS) and out["withdrawn"] == 1
    assert len(out["rejected"]) == 1 and "all.zip:broken.json" in out["rejected"][0]
    info = osvdb.info()
    assert info["advisories"] == len(fx.RECORDS)
    assert info["sources"][0]["snapshot_date"] == "2026-12-01"  # the newest 'modified' of the records
    assert info["packages"] == len({osvdb.normalise_name("PyPI", r["affected"][0]["package"]["name"])
                                    for r in fx.RECORDS})
    assert digest[:12] in info["snapshot"] and "OSV PyPI 2026-12-01" in info["snapshot"]
    # A newer export of the same ecosystem replaces the old one (a record gone from it is gone).
    newer = fx.write_zip(tmp_path / "newer", records=fx.RECORDS[:3])
    osvdb.import_zip(newer)
    assert osvdb.info()["advisories"] == 3
    with osvdb.Snapshot() as snap:
        assert snap.advisories("PyPI", "gradio") == []
        assert [a["id"] for a, _ in snap.advisories("PyPI", "Torch")] == ["GHSA-xxxx-torch-0002", "PYSEC-2025-41"]


def test_check_without_a_snapshot_says_what_to_do(tmp_path, data_dir, tree):
    from workbench.cli import main

    assert main(["deps", str(tree), "-p", str(tmp_path / "p.wbproj")]) == 1
    assert not (tmp_path / "p.wbproj").exists()  # refused before a run (or a project) was made


def test_hostile_records_are_named_and_skipped(tmp_path, data_dir):
    from workbench_plugins.code_audit.deps import osvdb

    good = fx.RECORDS[0]
    bad = {
        "list.json": "[1, 2]",
        "noid.json": json.dumps({"modified": "2026-01-01T00:00:00Z"}),
        "types.json": json.dumps({**good, "id": "X-1", "summary": {"a": 1}}),
        "pkg.json": json.dumps({**good, "id": "X-2", "affected": [{"package": {"ecosystem": "PyPI", "name": 7}}]}),
        "ranges.json": json.dumps({**good, "id": "X-3", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"},
                                                                      "ranges": "nope"}]}),
        "events.json": json.dumps({**good, "id": "X-4", "affected": [{"package": {"ecosystem": "PyPI", "name": "b"},
                                                                      "ranges": [{"type": "ECOSYSTEM",
                                                                                  "events": "zz"}, 5],
                                                                      "versions": [1.5, None]}]}),
        "latin1.json": b"\xff\xfe not utf-8".decode("latin-1"),
    }
    out = osvdb.import_zip(fx.write_zip(tmp_path / "c", records=[good], extra=bad))
    assert out["advisories"] == 2  # the good one, and X-4 whose odd ranges are simply empty
    named = " ".join(out["rejected"])
    for member in ("list.json", "noid.json", "types.json", "pkg.json", "ranges.json", "latin1.json"):
        assert f"all.zip:{member}" in named
    with osvdb.Snapshot() as snap:
        assert [a["id"] for a, _ in snap.advisories("PyPI", "b")] == ["X-4"]
        assert not snap.advisories("PyPI", "b")[0][1].intervals


def test_withdrawn_advisories_are_ignored(snapshot):
    from workbench_plugins.code_audit.deps import osvdb

    with osvdb.Snapshot() as snap:
        assert snap.advisories("PyPI", "requests") == []
        assert snap.info["withdrawn"] == 1


def test_deps_db_cli(tmp_path, data_dir):
    path = fx.write_zip(tmp_path / "carried")
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir)}
    run = subprocess.run([sys.executable, "-m", "workbench", "deps-db", "import", str(path), "--sha256", "1" * 64],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1 and "does not match" in run.stderr and "all.zip" in run.stderr
    run = subprocess.run([sys.executable, "-m", "workbench", "deps-db", "import", str(path)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"{len(fx.RECORDS)} PyPI advisories (1 withdrawn)" in run.stdout
    run = subprocess.run([sys.executable, "-m", "workbench", "deps-db", "info", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    info = json.loads(run.stdout)
    assert info["advisories"] == len(fx.RECORDS) and str(data_dir) in info["index"]


# ----------------------------------------------------------------- formats

def test_every_file_format(tree):
    from workbench_plugins.code_audit.deps.engine import inventory

    inv = inventory(str(tree))
    got = {(d.file, d.name): (d.spec, d.line, d.kind) for d in inv.deps}
    assert got[("requirements.txt", "torch")] == ("==2.5.1", 2, "requirements")
    assert got[("requirements.txt", "transformers")] == (">=4.30", 5, "requirements")
    assert got[("requirements.txt", "numpy")] == ("", 7, "requirements")
    assert {(d.line, d.unchecked) for d in inv.deps if d.unchecked and d.file == "requirements.txt"} == \
        {(8, "editable install"), (9, "direct URL")}
    assert got[("requirements-dev.txt", "Jinja2")] == ("==3.1.2", 1, "requirements")  # via -r, read once
    assert sum(1 for d in inv.deps if d.name == "Jinja2") == 1
    assert next(d for d in inv.deps if d.name == "torch" and d.kind == "requirements").hashes == ["sha256:" + "a" * 64]
    assert got[("pyproject.toml", "gradio")] == (">=4.0", 5, "pyproject")
    assert got[("pyproject.toml", "aiohttp")] == (">=3.9.4", 10, "pyproject")
    assert got[("pyproject.toml", "transformers")] == (">=4.37,<5", 14, "poetry")
    assert got[("pyproject.toml", "scipy")] == (">=1.7,<1.8", 15, "poetry")
    assert ("pyproject.toml", "python") not in got
    assert got[("poetry.lock", "numpy")] == ("==1.21.0", 2, "poetry.lock")
    assert got[("svc2/uv.lock", "pillow")] == ("==10.2.0", 10, "uv.lock")
    assert got[("svc2/pdm.lock", "urllib3")] == ("==2.0.7", 5, "pdm.lock")
    assert got[("svc2/Pipfile.lock", "aiohttp")] == ("==3.9.1", 8, "Pipfile.lock")
    assert got[("svc2/Pipfile.lock", "pyyaml")][:2] == ("==5.3.1", 16)
    assert got[("environment.yml", "torch")] == ("==2.5.1", 6, "conda")  # conda's pytorch is PyPI's torch
    assert got[("environment.yml", "numpy")] == ("==1.21.*", 7, "conda")
    assert got[("environment.yml", "transformers")] == ("==4.38.1", 10, "conda")  # the pip: section
    assert ("environment.yml", "python") not in got
    assert sorted(inv.manifests) == ["environment.yml", "poetry.lock", "pyproject.toml", "requirements-dev.txt",
                                     "requirements.txt", "svc2/Pipfile.lock", "svc2/pdm.lock", "svc2/uv.lock"]


def test_bad_manifest_is_named_and_the_rest_goes_on(tree):
    from workbench_plugins.code_audit.deps.engine import inventory

    (tree / "requirements-broken.txt").write_text("torch==2.5.1\nthis is (not a requirement\n")
    (tree / "svc2" / "poetry.lock").write_text("[[package]\nname=")
    odd = tree / "odd"
    odd.mkdir()
    (odd / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = "torch"\n')
    (odd / "Pipfile.lock").write_text('{"default": [1, 2]}')
    inv = inventory(str(tree))
    problems = dict(inv.problems)
    assert "line 2" in problems["requirements-broken.txt"] and "requirements-broken.txt" in \
        problems["requirements-broken.txt"]
    assert "not valid TOML" in problems["svc2/poetry.lock"]
    assert "must be a list" in problems["odd/pyproject.toml"] and "must be a table" in problems["odd/Pipfile.lock"]
    assert any(d.file == "requirements.txt" for d in inv.deps)


# ------------------------------------------------------------------- check

def test_deps_job_findings(project, store, tree, snapshot):
    run_id, summary = run_deps(project, target=str(tree))
    for key in ("packages", "vulnerable_packages", "advisories", "snapshot"):
        assert key in summary
    assert snapshot["sha256"][:12] in summary["snapshot"]
    findings = store.findings(run_id=run_id)
    by = {(f["path"], f["line"], f["rule"]): f for f in findings}
    torch = by[("requirements.txt", 2, "PYSEC-2025-41")]
    ev = torch["evidence"]
    assert ev["aliases"] == ["CVE-2025-32434", "GHSA-53q9-r3pm-6pq6"]
    assert ev["cvss"]["score"] == 9.8 and ev["cvss"]["vector"] == fx.CRIT_V3
    assert ev["first_fixed"] == "2.6.0" and ev["fix"] == "raise torch to ≥ 2.6.0"
    assert torch["severity"] == "HIGH" and torch["confidence"] == "HIGH" and torch["cwe"] == 502
    assert summary["snapshot"] in torch["message"] and "CVE-2025-32434" in torch["title"]
    assert "torch==2.5.1" in ev["code"]
    # last_affected 2.5.1 matched too, with a CVSS 4 score; the fix covers both advisories
    second = by[("requirements.txt", 2, "GHSA-xxxx-torch-0002")]
    assert second["evidence"]["cvss"]["type"] == "CVSS_V4" and second["evidence"]["cvss"]["score"] == 9.3
    assert second["evidence"]["fix_version"] == "2.6.0"
    # unpinned: may resolve
    tr = by[("requirements.txt", 5, "GHSA-tttt-transformers-1")]
    assert tr["evidence"]["may_resolve"] and "may resolve to a vulnerable version" in tr["message"]
    assert tr["confidence"] == "MEDIUM" and tr["severity"] == "MEDIUM"
    assert tr["evidence"]["fix_version"] == "4.40.2"  # past the explicit 4.38.1 and the 4.40.0-4.40.2 interval
    # explicit versions only; severity from the database's MODERATE; no fix known
    jinja = by[("requirements-dev.txt", 1, "GHSA-jjjj-jinja2-0001")]
    assert jinja["severity"] == "MEDIUM" and jinja["evidence"]["fix_version"] is None
    # gradio>=4.0 admits the open-ended range from 3.0
    assert by[("pyproject.toml", 5, "PYSEC-2026-9")]["evidence"]["fix"].startswith("no fixed version of gradio")
    # lock files, Pipfile.lock, conda
    assert ("poetry.lock", 2, "PYSEC-2021-856") in by
    assert ("svc2/uv.lock", 10, "PYSEC-2024-PIL") in by
    assert ("svc2/pdm.lock", 5, "PYSEC-2024-URL") in by
    assert ("poetry.lock", 8, "PYSEC-2024-URL") not in by  # urllib3 2.2.2 is the fix
    assert ("svc2/Pipfile.lock", 8, "PYSEC-2024-AIO") in by
    assert ("environment.yml", 6, "PYSEC-2025-41") in by
    assert ("environment.yml", 10, "GHSA-tttt-transformers-1") in by  # explicit version 4.38.1
    rules = {f["rule"] for f in findings}
    assert "GHSA-wwww-requests-0001" not in rules and "OSV-2026-GIT" not in rules
    assert not any(f["path"] == "pyproject.toml" and f["line"] == 10 for f in findings)  # aiohttp>=3.9.4 is safe
    assert summary["vulnerable_packages"] == len({f["evidence"]["package"].lower() for f in findings})
    assert summary["advisories"] == len(rules)
    assert summary["fixes"]["torch"] == "2.6.0"


def test_triage_fingerprints_and_fixed_on_rerun(project, store, tree, snapshot):
    run1, _ = run_deps(project, target=str(tree))
    torch = [f for f in store.findings(run_id=run1) if f["path"] == "requirements.txt" and
             f["evidence"]["package"] == "torch"]
    jinja = next(f for f in store.findings(run_id=run1) if f["rule"] == "GHSA-jjjj-jinja2-0001")
    store.set_triage([jinja["fingerprint"]], "accepted_risk", "template input is ours")
    # Lines move and torch is raised to the fix: the torch findings are fixed, jinja's triage stays.
    text = (tree / "requirements.txt").read_text().replace("torch==2.5.1", "torch==2.6.0")
    (tree / "requirements.txt").write_text("# moved\n\n" + text)
    run2, summary = run_deps(project, target=str(tree))
    now = store.findings(run_id=run2)
    assert not any(f["path"] == "requirements.txt" and f["evidence"]["package"] == "torch" for f in now)
    assert summary["fixed"] >= len(torch) == 2
    again = next(f for f in now if f["rule"] == "GHSA-jjjj-jinja2-0001")
    assert again["fingerprint"] == jinja["fingerprint"] and again["triage_status"] == "accepted_risk"
    tr = next(f for f in now if f["rule"] == "GHSA-tttt-transformers-1" and f["path"] == "requirements.txt")
    assert tr["line"] == 7  # moved down two lines, same finding
    assert tr["fingerprint"] in {f["fingerprint"] for f in store.findings(run_id=run1)}


def test_sarif_and_fail_on_through_the_cli(tmp_path, tree, snapshot):
    from workbench.cli import main

    out = tmp_path / "deps.sarif"
    summary = tmp_path / "summary.json"
    code = main(["deps", str(tree), "-p", str(tmp_path / "p.wbproj"), "--sarif", str(out), "--summary-json",
                 str(summary), "--fail-on", "HIGH"])
    assert code == 3
    sarif = json.loads(out.read_text())
    results = sarif["runs"][0]["results"]
    torch = next(r for r in results if r["ruleId"] == "PYSEC-2025-41"
                 and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "requirements.txt")
    assert torch["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert "raise torch to ≥ 2.6.0" in torch["message"]["text"]
    assert torch["partialFingerprints"]["workbench/v1"]
    data = json.loads(summary.read_text())
    assert {"packages", "vulnerable_packages", "advisories", "snapshot"} <= set(data)


def test_unpinned_with_safe_lock_is_low_confidence(tmp_path, project, store, snapshot):
    root = tmp_path / "locked"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\ndependencies = ["torch>=2.0"]\n')
    (root / "uv.lock").write_text('version = 1\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n'
                                  'source = { registry = "https://pypi.org/simple" }\n')
    run_id, summary = run_deps(project, target=str(root))
    found = store.findings(run_id=run_id)
    assert {f["path"] for f in found} == {"pyproject.toml"}
    assert all(f["confidence"] == "LOW" and "2.6.0, which it does not affect" in f["message"] for f in found)


# -------------------------------------------------------------------- venv

def test_venv_scan(tmp_path, project, store, snapshot):
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python*/site-packages"))
    for name, version in (("torch", "2.5.1"), ("Pillow", "10.3.0"), ("PyYAML", "5.3.1")):
        info = site / f"{name.lower()}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n")
    (site / "broken-1.0.dist-info").mkdir()
    (site / "broken-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    run_id, summary = run_deps(project, target=str(empty), venv=str(venv))
    found = store.findings(run_id=run_id)
    packages = {f["evidence"]["package"] for f in found}
    assert packages == {"torch", "PyYAML"}  # Pillow 10.3.0 is the fix
    torch = next(f for f in found if f["rule"] == "PYSEC-2025-41")
    assert torch["path"].startswith("env/lib/python") and torch["path"].endswith("torch-2.5.1.dist-info/METADATA")
    assert torch["line"] == 2 and torch["evidence"]["kind"] == "venv"
    assert summary["packages"] == 3 and summary["skipped"] == 1


# -------------------------------------------------------------- provenance

def _safetensors(payload: bytes) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [len(payload) // 4], "data_offsets": [0, len(payload)]}})
    return len(header).to_bytes(8, "little") + header.encode() + payload


def test_model_provenance_and_changed_hash(tmp_path, project, store, snapshot):
    root = tmp_path / "ml"
    root.mkdir()
    (root / "weights.safetensors").write_bytes(_safetensors(b"\0" * 16))
    (root / "blob.dat").write_bytes(b"\x80\x04\x95" + b"\0" * 20)  # a pickle whatever its name
    (root / "load.py").write_text(
        "from transformers import AutoModel\nfrom huggingface_hub import hf_hub_download\n"
        "a = AutoModel.from_pretrained('org/model')\n"
        "b = AutoModel.from_pretrained('org/pinned', revision='" + "0123456789abcdef" * 2 + "01234567')\n"
        "c = hf_hub_download(repo_id='org/files', filename='x.bin', revision='main')\n"
        "d = AutoModel.from_pretrained('./local_dir')\n")
    run1, s1 = run_deps(project, target=str(root))
    first = store.findings(run_id=run1)
    unpinned = sorted((f["line"], f["evidence"]["repo"]) for f in first if f["rule"] == "MP002")
    assert unpinned == [(3, "org/model"), (5, "org/files")]
    assert not any(f["rule"] == "MP001" for f in first)
    assert s1["models"] == {"blob.dat": hashlib.sha256((root / "blob.dat").read_bytes()).hexdigest(),
                            "weights.safetensors": hashlib.sha256((root / "weights.safetensors").read_bytes())
                            .hexdigest()}
    (root / "weights.safetensors").write_bytes(_safetensors(b"\1" * 16))
    run2, _ = run_deps(project, target=str(root))
    changed = [f for f in store.findings(run_id=run2) if f["rule"] == "MP001"]
    assert [f["path"] for f in changed] == ["weights.safetensors"]
    assert changed[0]["evidence"]["previous_sha256"] == s1["models"]["weights.safetensors"]
    run3, _ = run_deps(project, target=str(root))  # unchanged since run 2: no finding
    assert not any(f["rule"] == "MP001" for f in store.findings(run_id=run3))


# -------------------------------------------------------------------- sbom

def test_sbom_cyclonedx_16_with_models(tmp_path, tree):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from workbench.cli import main

    (tree / "model.safetensors").write_bytes(_safetensors(b"\2" * 8))
    (tree / "app.py").write_text("from transformers import pipeline\np = pipeline('text', model='org/m')\n")
    out = tmp_path / "svc.cdx.json"
    assert main(["sbom", str(tree), "-o", str(out)]) == 0
    text = out.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    comps = {c["bom-ref"]: c for c in bom["components"]}
    assert comps["pkg:pypi/torch@2.5.1"]["purl"] == "pkg:pypi/torch@2.5.1"
    where = {p["value"] for p in comps["pkg:pypi/torch@2.5.1"]["properties"] if p["name"] == "workbench:declared-in"}
    assert where == {"requirements.txt:2", "environment.yml:6"}
    model = comps["model:model.safetensors"]
    assert model["type"] == "machine-learning-model"
    assert model["hashes"] == [{"alg": "SHA-256",
                                "content": hashlib.sha256((tree / "model.safetensors").read_bytes()).hexdigest()}]
    hub = comps["hub:org/m@unpinned"]
    assert {"name": "workbench:pinned", "value": "false"} in hub["properties"]
    local = [c for c in bom["components"] if c["bom-ref"].startswith("unresolved:")]
    assert sorted(c["name"] for c in local) == ["./libs/local", "mylib", "svc"] and all("purl" not in c for c in local)
    unpinned = [c for c in bom["components"] if c["name"] == "transformers" and "version" not in c]
    assert unpinned and any(p["value"] == ">=4.30" for c in unpinned for p in c["properties"])


# ------------------------------------------------------------------ offline

def test_no_connection_during_import_or_check(tmp_path, data_dir, tree):
    from workbench.core import netguard
    from workbench_plugins.code_audit.deps import engine, osvdb

    netguard.install()
    netguard.take_decisions()
    events: list = []
    active = [True]

    def hook(event, args):
        if active[0] and event.startswith(("socket.", "urllib.")):
            events.append(event)

    sys.addaudithook(hook)
    try:
        osvdb.import_zip(fx.write_zip(tmp_path / "carried"))
        out = engine.check_target(str(tree))
    finally:
        active[0] = False
    assert out["findings"]
    assert events == [] and netguard.take_decisions() == []


# ------------------------------------------------------------------ report

def test_report_has_a_dependencies_section(project, store, tree, snapshot):
    from workbench.core.report import Table
    from workbench_plugins.code_audit.report import report_sections

    run_deps(project, target=str(tree))
    sections = report_sections(store)
    deps = next(s for s in sections if s.title == "Dependencies and model provenance")
    fixes = next(b for b in deps.blocks if isinstance(b, Table) and b.caption.startswith("Vulnerable packages"))
    assert ["torch", 2, "≥ 2.6.0"] in fixes.rows
    table = next(b for b in deps.blocks if isinstance(b, Table) and b.caption.endswith("dependency findings"))
    assert any(r[0] == "PYSEC-2025-41" and "CVE-2025-32434" in r[1] and r[3] == "9.8" for r in table.rows)


# -------------------------------------------------------------- npm and Go

def test_npm_and_go_exports_and_lock_files(tmp_path, project, store, snapshot):
    from workbench_plugins.code_audit.deps import osvdb

    npm = [r for r in fx.NPM_GO_RECORDS if r["affected"][0]["package"]["ecosystem"] == "npm"]
    go = [r for r in fx.NPM_GO_RECORDS if r["affected"][0]["package"]["ecosystem"] == "Go"]
    osvdb.import_zip(fx.write_zip(tmp_path / "npm", records=npm))
    osvdb.import_zip(fx.write_zip(tmp_path / "go", records=go))
    info = osvdb.info()
    assert sorted(s["ecosystem"] for s in info["sources"]) == ["Go", "PyPI", "npm"]  # none replaced another
    assert info["advisories"] == len(fx.RECORDS) + len(fx.NPM_GO_RECORDS)
    root = tmp_path / "web"
    root.mkdir()
    (root / "package-lock.json").write_text(fx.PACKAGE_LOCK)
    (root / "go.mod").write_text(fx.GO_MOD)
    run_id, summary = run_deps(project, target=str(root))
    found = {(f["path"], f["line"], f["rule"]): f for f in store.findings(run_id=run_id)}
    lines = fx.PACKAGE_LOCK.splitlines()
    lodash = 1 + next(i for i, x in enumerate(lines) if '"node_modules/lodash"' in x)
    babel = 1 + next(i for i, x in enumerate(lines) if '"node_modules/@babel/traverse"' in x)
    assert set(found) == {("package-lock.json", lodash, "GHSA-npm-lodash-0001"),
                          ("package-lock.json", babel, "GHSA-npm-babel-0001"),  # 7.23.0 is in the SemVer range
                          ("go.mod", 8, "GO-2023-2102")}  # left-pad and x/text have no advisory
    assert found[("go.mod", 8, "GO-2023-2102")]["evidence"]["fix"] == "raise golang.org/x/net to ≥ 0.17.0"
    assert found[("package-lock.json", lodash, "GHSA-npm-lodash-0001")]["evidence"]["ecosystem"] == "npm"
    assert "OSV npm" in summary["snapshot"] and "OSV Go" in summary["snapshot"]
    go_cite = found[("go.mod", 8, "GO-2023-2102")]["evidence"]["snapshot"]
    assert go_cite.startswith("OSV Go ") and "PyPI" not in go_cite  # each finding cites its own export
    assert summary["packages"] == 6  # 3 npm (the project's own entry left out), 3 Go modules
