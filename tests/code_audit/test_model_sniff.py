"""Issue 17: model files decided by content, not by name; calls off the allow list are HIGH.

The malicious corpus (``test_model_sniff_corpus.build_corpus``) covers every class of
the issue; nothing in it is loaded by the scan (pickle loading is forbidden while
scanning, and the marker file a payload would create never appears). One test
loads a few of them for real, the usual way, to prove each class is a live payload.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from workbench_plugins.code_audit import model_scan
from workbench_plugins.code_audit.model_scan import finding_fields, scan_bytes, scan_file, sniff

from .test_model_sniff_corpus import build_corpus, evil, npy


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("malicious")
    marker = root / "PAYLOAD_RAN"
    files = build_corpus(root / "tree", marker)
    yield root / "tree", files, marker
    assert not marker.exists(), "a payload ran"


@pytest.fixture
def no_unpickling(monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("unpickling during a scan")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)


def _severities(results) -> set[str]:
    return {finding_fields(r)["severity"] for r in results}


def test_every_malicious_file_gets_a_finding_and_the_dangerous_ones_high(corpus, no_unpickling):
    tree, files, marker = corpus
    missed = []
    for rel, cls, dangerous in files:
        results, reason = scan_file(str(tree / rel))
        if not results or (dangerous and "HIGH" not in _severities(results)):
            missed.append((rel, cls, [r["verdict"] for r in results], reason))
    assert missed == []
    assert not marker.exists()


def test_the_audit_walk_finds_them_by_content(corpus):
    """Through the job's own walk: no file of the corpus is left out for its name."""
    from workbench_plugins.code_audit.engine import audit_tree

    tree, files, marker = corpus
    result = audit_tree({"target": str(tree), "include_secrets": False, "workers": 1})
    by_path: dict[str, set[str]] = {}
    for f in result.findings:
        by_path.setdefault(f.path, set()).add(f.severity)
    missed = [rel for rel, _, dangerous in files
              if rel not in by_path or (dangerous and "HIGH" not in by_path[rel])]
    assert missed == []
    assert not marker.exists()


def test_each_class_is_a_live_payload_when_loaded_the_usual_way(tmp_path):
    """Guard for the tests above: these files really run code (a marker appears)."""
    import torch

    try:
        from pandas import read_pickle
    except ImportError:  # pandas is not a dependency: what it does for these suffixes
        def read_pickle(path):
            path = str(path)
            if path.endswith(".zip"):
                with zipfile.ZipFile(path) as zf:
                    return pickle.loads(zf.read(zf.namelist()[0]))  # nosec B301 - the proof
            with gzip.open(path) as fh:
                return pickle.load(fh)  # nosec B301 - the proof

    marker = tmp_path / "RAN"
    tree = tmp_path / "tree"
    build_corpus(tree, marker)
    loads = [
        lambda: read_pickle(tree / "compressed/model.pkl.gz"),  # nosec B301 - the proof, in a temp folder
        lambda: read_pickle(tree / "compressed/model.pkl.zip"),  # nosec B301
        lambda: np.load(tree / "numpy/object.npy", allow_pickle=True),
        lambda: np.load(tree / "numpy/v3.npy", allow_pickle=True),
        lambda: torch.load(tree / "unlisted/model.pth.tar", weights_only=False),  # nosec B614
        lambda: pickle.loads((tree / "safe_named/model.safetensors").read_bytes()),  # nosec B301
        lambda: torch.load(tree / "safe_named/model.gguf", weights_only=False),  # nosec B614
        lambda: pickle.loads((tree / "noext/blob").read_bytes()),  # nosec B301
    ]
    for load in loads:
        load()
        assert marker.exists()
        marker.unlink()
    # NumPy itself refuses these header spellings; the scan reports the header and the payload behind it.
    for rel in ("numpy/bytes_o.npy", "numpy/dtype_repr.npy"):
        with pytest.raises(ValueError):
            np.load(tree / rel, allow_pickle=True)


def test_real_files_of_safe_formats_and_plain_data_give_nothing(tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3, 2)}, str(tmp_path / "model.safetensors"))
    torch.save({"w": torch.zeros(3)}, tmp_path / "model.pth.tar")
    np.save(tmp_path / "floats.npy", np.arange(4.0))
    (tmp_path / "README").write_text("cos and sin\nare functions\n")  # 'c' is a pickle opcode: still text
    (tmp_path / "data.csv.gz").write_bytes(gzip.compress(b"a,b\n1,2\n"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("docs/index.html", "<html></html>")
    (tmp_path / "site.zip").write_bytes(buf.getvalue())
    (tmp_path / "plain.keras").write_bytes(_keras({"module": "keras.layers", "class_name": "Dense",
                                                   "registered_name": None, "config": {"units": 3}}))
    for name in ("model.safetensors", "model.pth.tar", "floats.npy", "README", "data.csv.gz", "site.zip",
                 "plain.keras"):
        assert scan_file(str(tmp_path / name)) == ([], None), name
    # The walk sends plain text and data on to the secrets scan, not to the model scan.
    assert not model_scan.is_model_candidate(str(tmp_path / "README"))
    assert model_scan.is_model_candidate(str(tmp_path / "site.zip"))  # a container: followed, found clean


def _keras(layer: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        zf.writestr("config.json", json.dumps({"module": "keras", "class_name": "Sequential",
                                               "config": {"layers": [layer]}}))
    return buf.getvalue()


def test_sniff_tells_formats_from_their_bytes():
    assert sniff(pickle.dumps({"a": 1}, protocol=4)) == "pickle"
    assert sniff(pickle.dumps([1, 2], protocol=0), 100) == "pickle"
    assert sniff(b"import os\nos.system('x')\n" * 30, 10_000) is None
    assert sniff(b"class Foo:\n    pass\n" * 40, 10_000) is None
    assert sniff(npy("'<f8'", b"\x00" * 8)) == "npy"
    assert sniff(b"\x89HDF\r\n\x1a\n" + b"\x00" * 600) == "hdf5"
    assert sniff(b"PK\x03\x04" + b"\x00" * 600) == "zip"
    assert sniff(gzip.compress(b"x")) == "gzip"
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    assert sniff(len(header).to_bytes(8, "little") + header + b"\x00" * 4) == "safetensors"


def test_model_names_and_unparseable_files_are_ms003(tmp_path):
    for name in ("model.pth.tar", "weights.pt.bak", "model.pkl.gz", "model.keras", "x.safetensors", "net.onnx",
                 "model.pt2", "pytorch_model.bin"):
        assert model_scan.is_model_file(name), name
    for name in ("notes.txt", "data.csv.gz", "image.png"):
        assert not model_scan.is_model_file(name), name
    # Named model, bytes that are no model format: MS003 LOW, never only a skip.
    for name, data in (("model.safetensors", b"\x00" * 64), ("weights.h5", b"GIF89a" + b"\x00" * 64),
                       ("net.onnx", b"\xff" * 32), ("model.pt", b"")):
        results, reason = scan_bytes(data, name)
        assert reason and [finding_fields(r)["rule"] for r in results] == ["MS003"], (name, results)
    # A Git LFS pointer under a model name: the model itself was never audited, and says so.
    results, reason = scan_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n", "m.pt")
    assert "Git LFS pointer" in reason and [r["verdict"] for r in results] == ["unparsed"]
    # Bytes that say safetensors but a header that lies: MS003 whatever the name.
    bad = (10_000).to_bytes(8, "little") + b'{"w": 1}' + b"\x00" * 20_000
    results, reason = scan_bytes(bad, "blob.dat")
    assert "safetensors" in reason and [r["verdict"] for r in results] == ["unparsed"]


def test_calls_off_the_allow_list_are_high_whatever_the_module(no_unpickling):
    """doctest.debug_script execs its argument, torch.utils.collect_env.run runs a shell
    command; neither is on a deny list, both are called: HIGH. So is a name nobody listed."""
    for module, name in (("doctest", "debug_script"), ("torch.utils.collect_env", "run"),
                         ("acme_ml.invented", "anything"), ("numpy.testing", "whatever_new")):
        data = f"c{module}\n{name}\n(S'touch /tmp/x'\ntR.".encode()
        results, _ = scan_bytes(data, "model.pkl")
        assert [(r["module"], r["name"], r["verdict"]) for r in results] == [(module, name, "called")]
        fields = finding_fields(results[0])
        assert fields["severity"] == "HIGH" and f"--trust-import {module}:{name}" in fields["message"]
    # Allowed constructors stay silent; a class handed to copyreg._reconstructor is called by it.
    clean = pickle.dumps({"o": __import__("collections").OrderedDict(a=1), "d": __import__("datetime").date(2020, 1, 2)},
                         protocol=2)
    assert scan_bytes(clean, "model.pkl") == ([], None)


def test_pt2_archive_is_recognised(tmp_path):
    import torch

    ep = torch.export.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),))
    torch.export.save(ep, str(tmp_path / "linear.pt2"))
    assert model_scan.zip_kind(str(tmp_path / "linear.pt2")) == "pt2"
    assert scan_file(str(tmp_path / "linear.pt2")) == ([], None)  # its inner .pt files are checked, clean


def test_a_payload_after_a_clean_header_spelled_for_another_numpy(no_unpickling, tmp_path):
    payload = pickle.dumps(evil(tmp_path / "RAN"), protocol=2)
    results, reason = scan_bytes(npy("b'O'", payload), "weights.npy")
    verdicts = {r["verdict"] for r in results}
    assert {"dangerous", "unchecked"} <= verdicts and "cannot read this .npy header" in reason


def test_benchmark_skips_a_peer_that_is_not_installed():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "model_scan_vs_peers.py"
    spec = importlib.util.spec_from_file_location("model_scan_vs_peers", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench._installed("workbench_plugins.code_audit.model_scan")
    assert not bench._installed("no_such_scanner_package_xyz.scanner")
    assert set(bench.TOOLS) == {"workbench", "picklescan", "modelscan"}


def test_containers_are_followed_to_a_bound_and_past_it_is_a_finding(tmp_path, no_unpickling):
    from .test_model_sniff_corpus import _zip

    inner = pickle.dumps(evil(tmp_path / "RAN"), protocol=2)
    data, name = inner, "weights.pkl"
    for level in range(model_scan.MAX_DEPTH + 2):
        data, name = _zip({name: data}), f"level{level}.zip"
        results, reason = scan_bytes(data, "bundle.zip")
        if level < model_scan.MAX_DEPTH:
            assert "HIGH" in _severities(results), level
    assert "nested deeper" in reason and [r["verdict"] for r in results] == ["unchecked"]
    assert not (tmp_path / "RAN").exists()


# 2,000 layers: a config past 64 KiB, in dense attribute storage; 30,000: past the first 1 MiB read
@pytest.mark.parametrize("layers", [1, 2000, 30_000])
@pytest.mark.parametrize("as_bytes", [True, False])
def test_keras_h5_written_by_a_real_hdf5_library(tmp_path, layers, as_bytes):
    """The layout Keras 2 writes: the root attribute ``model_config`` holds the JSON config."""
    h5py = pytest.importorskip("h5py")
    lam = {"class_name": "Lambda", "config": {"name": "l", "function": ["4wEAAAAAAAAA", None, None],
                                             "function_type": "lambda"}}
    dense = [{"class_name": "Dense", "config": {"name": f"d{i}", "units": 3, "pad": "x" * 50}} for i in range(layers)]
    for name, stack in (("evil.h5", dense + [lam]), ("clean.h5", dense)):
        config = json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": stack}})
        with h5py.File(tmp_path / name, "w") as f:
            f.create_dataset("model_weights/d0/kernel", data=np.ones((16, 16), "f4"))
            f.attrs["model_config"] = config.encode() if as_bytes else config
            f.attrs["keras_version"] = "2.15.0"
    results, _ = scan_file(str(tmp_path / "evil.h5"))
    assert [(r["name"], r["verdict"]) for r in results] == [("Lambda", "dangerous")]
    assert scan_file(str(tmp_path / "clean.h5")) == ([], None)
