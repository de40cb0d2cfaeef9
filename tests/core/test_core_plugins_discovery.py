"""Entry points are read from the dist-info folders on sys.path without importlib.metadata (it
costs start-up time), with the same result; a zip on the path falls back to importlib.metadata.
Job parameter dataclasses named by path are imported only when read."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata

import pytest

from workbench.core import plugins as P


def _eps(items) -> list[tuple]:
    return sorted((e.name, e.value, e.dist.metadata["Name"] if e.dist else None,
                   e.dist.version if e.dist else None) for e in items)


@pytest.mark.parametrize("group", ["workbench.plugins", "console_scripts", "pytest11"])
def test_scan_matches_importlib_metadata(group):
    scanned = P._scan_entry_points(group)
    assert scanned is not None  # this venv has only folders on sys.path
    assert scanned, group
    assert _eps(scanned) == _eps(metadata.entry_points(group=group))


def test_a_finder_of_its_own_falls_back_to_importlib_metadata(monkeypatch):
    class Finder:  # e.g. an import hook that serves distributions from elsewhere
        def find_spec(self, *args):
            return None

        def find_distributions(self, context=None):
            return iter(())

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert P._scan_entry_points("workbench.plugins") is None
    assert sorted(e.name for e in P.entry_points("workbench.plugins")) == sorted(
        e.name for e in metadata.entry_points(group="workbench.plugins"))


def _dist(root, folder: str, name: str, version: str, entries: str) -> None:
    info = root / folder
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nlong text\n")
    (info / "entry_points.txt").write_text(entries)


def test_first_distribution_on_the_path_wins_and_sections_are_kept_apart(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "Wb_Demo.Plugin-2.0.dist-info", "wb-demo.plugin", "2.0",
          "# a comment\n[console_scripts]\nnot_mine = x:y\n\n[workbench.plugins]\n  demo = wb_demo : plugin \n"
          "# another comment\n[other]\nalso_not = a:b\n")
    _dist(second, "wb_demo_plugin-1.0.dist-info", "wb_demo_plugin", "1.0", "[workbench.plugins]\nold = wb_old:plugin\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    mine = [e for e in P.entry_points("workbench.plugins") if e.name in ("demo", "old")]
    assert _eps(mine) == [("demo", "wb_demo : plugin", "wb-demo.plugin", "2.0")]
    assert _eps(mine) == _eps(e for e in metadata.entry_points(group="workbench.plugins") if e.name in ("demo", "old"))


def test_load_imports_module_and_attribute(tmp_path, monkeypatch):
    (tmp_path / "wb_lazy_mod.py").write_text("class Holder:\n    class Inner:\n        value = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = P._EntryPoint("x", "wb_lazy_mod:Holder.Inner [extra]", "workbench.plugins")
    assert ep.load().value == 42


def test_a_zip_on_the_path_falls_back_to_importlib_metadata(tmp_path, monkeypatch):
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("wb_zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: wb_zipped\nVersion: 1.0\n")
        z.writestr("wb_zipped-1.0.dist-info/entry_points.txt", "[workbench.plugins]\nzipped = wb_zipped:plugin\n")
    monkeypatch.syspath_prepend(str(archive))
    assert P._scan_entry_points("workbench.plugins") is None
    found = [e for e in P.entry_points("workbench.plugins") if e.name == "zipped"]
    assert [(e.value, e.dist.version) for e in found] == [("wb_zipped:plugin", "1.0")]


def test_params_by_path_are_imported_when_read(tmp_path, monkeypatch):
    (tmp_path / "wb_lazy_params.py").write_text(
        "from dataclasses import dataclass\n\n@dataclass\nclass P:\n    target: str = 'x'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    job = P.JobDef("wb_lazy_engine:run", "wb_lazy_params:P", "lazy")
    assert "wb_lazy_params" not in sys.modules
    assert job.params.__name__ == "P" and "wb_lazy_params" in sys.modules
    assert job == P.JobDef("wb_lazy_engine:run", job.params, "lazy")
    with pytest.raises(TypeError, match="package.module:Class"):
        P.JobDef("wb_lazy_engine:run", "no_colon", "lazy")
    with pytest.raises(TypeError):
        P.JobDef("wb_lazy_engine:run")  # params stays required


def test_loading_the_built_in_plugins_imports_neither_metadata_nor_params():
    code = ("import sys\nfrom workbench.core.plugins import load_plugins\nr = load_plugins()\n"
            "assert not r.failed, [s.error for s in r.failed]\n"
            "print(sorted(m for m in sys.modules if m == 'importlib.metadata' or m.endswith('.params')"
            " and m.startswith('workbench_plugins')))\n"
            "print(sorted(j.params.__name__ for p in r.plugins for j in p.jobs.values())[:2])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "['AnonymiseParams', 'AuditParams']"], out
