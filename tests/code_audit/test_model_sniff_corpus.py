"""Malicious model files of every class of issue 17 (and the earlier set), built here.

``build_corpus(root, marker)`` writes them and returns ``[(relpath, cls, dangerous)]``.
Every payload would create ``marker`` when loaded the usual way (``torch.load``,
``pickle.load``, ``pandas.read_pickle``, ``np.load(allow_pickle=True)``, Keras);
building them only pickles *references* to callables, nothing runs. The tests in
``test_model_sniff.py`` and ``benchmarks/model_scan_vs_peers.py`` use this corpus.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import pickle
import tarfile
import zipfile
from pathlib import Path


class _Reduce:
    """Pickles as ``func(*args)``; pickling it calls nothing."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def touch_code(marker) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def evil(marker):
    """The classic payload: ``exec`` of Python that creates the marker."""
    return _Reduce(exec, touch_code(marker))


def _torch_zip(obj) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _torch_legacy(obj) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar_gz(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def npy(descr: str, payload: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """An .npy file written by hand: ``descr`` is the header's text for the dtype, as spelled."""
    header = "{'descr': %s, 'fortran_order': False, 'shape': (1,), }" % descr
    width = 2 if version == (1, 0) else 4
    body = header.encode("latin1" if version < (3, 0) else "utf8")
    pad = 64 - (8 + width + len(body) + 1) % 64
    body += b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + len(body).to_bytes(width, "little") + body + payload


def _keras_zip(config: dict) -> bytes:
    return _zip({"metadata.json": json.dumps({"keras_version": "3.6.0", "date_saved": "2026-01-01"}),
                 "config.json": json.dumps(config), "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\x00" * 64})


def _keras3_model(layers: list) -> dict:
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "seq", "layers": layers}}


def _keras_h5(config: dict) -> bytes:
    """The bytes Keras 2 writes that matter here: the HDF5 signature, and the root group's
    ``model_config`` attribute, a JSON string stored as plain bytes."""
    return (b"\x89HDF\r\n\x1a\n" + b"\x00" * 120 + b"model_config\x00\x00\x00\x00"
            + json.dumps(config).encode() + b"\x00" * 256)


def build_corpus(root, marker) -> list[tuple[str, str, bool]]:
    """Write the corpus under ``root``; every dangerous payload would create ``marker``."""
    import doctest

    import numpy as np
    import torch
    import torch.utils.collect_env as collect_env
    from torch.storage import _load_from_bytes

    root = Path(root)
    payload = evil(marker)
    raw2 = pickle.dumps({"state": {"w": [0.0] * 4}, "x": payload}, protocol=2)
    raw4 = pickle.dumps({"x": payload}, protocol=4)
    raw0 = pickle.dumps(payload, protocol=0)
    obj_array = np.empty(1, dtype=object)
    obj_array[0] = payload
    array_pickle = pickle.dumps(obj_array, protocol=3)
    tz = _torch_zip({"w": torch.zeros(2), "x": payload})
    files: list[tuple[str, bytes, str, bool]] = [
        # -- names the scanner did not list: checkpoint conventions torch.load opens
        ("unlisted/model.pth.tar", tz, "checkpoint name", True),
        ("unlisted/weights.pt.bak", raw2, "checkpoint name", True),
        ("unlisted/epoch=3-step=100.state", _torch_legacy({"w": torch.zeros(2), "x": payload}), "checkpoint name", True),
        ("unlisted/model.th", tz, "checkpoint name", True),
        ("unlisted/optimizer.data", raw4, "checkpoint name", True),
        # -- compressed pickles pandas.read_pickle decompresses by suffix
        ("compressed/model.pkl.gz", gzip.compress(raw4), "compressed pickle", True),
        ("compressed/model.pkl.bz2", bz2.compress(raw4), "compressed pickle", True),
        ("compressed/model.pkl.xz", lzma.compress(raw4), "compressed pickle", True),
        ("compressed/model.pkl.zip", _zip({"model.pkl": raw4}), "compressed pickle", True),
        ("compressed/frame.gz", gzip.compress(raw2), "compressed pickle", True),
        # -- no extension, or an unusual one
        ("noext/model", raw4, "no extension", True),
        ("noext/blob", raw0, "no extension", True),  # protocol 0: text-like opcodes
        ("noext/run.cfg", raw2, "unusual extension", True),
        ("noext/checkpoint_best", tz, "no extension", True),
        # -- a pickle under the name of a safe format
        ("safe_named/model.safetensors", raw4, "safe-format name", True),
        ("safe_named/model.onnx", raw2, "safe-format name", True),
        ("safe_named/config.json", raw0, "safe-format name", True),
        ("safe_named/model.gguf", tz, "safe-format name", True),
        # -- Keras archives whose config carries code
        ("keras/lambda.keras", _keras_zip(_keras3_model([
            {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
             "config": {"name": "l", "function": {"class_name": "__lambda__",
                                                  "config": {"code": "4wEAAAAAAAAA", "defaults": None}}}}])),
         "keras", True),
        ("keras/module.keras", _keras_zip(_keras3_model([
            {"module": "subprocess", "class_name": "Popen", "registered_name": None,
             "config": {"args": ["touch", str(marker)]}}])), "keras", True),
        ("keras/custom.keras", _keras_zip(_keras3_model([
            {"module": None, "class_name": "Backdoor", "registered_name": "acme>Backdoor", "config": {}}])),
         "keras", False),
        ("keras/lambda.h5", _keras_h5({"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "Lambda", "config": {"name": "l", "function": ["4wEAAAAAAAAAAAAA", None, None],
                                                "function_type": "lambda"}}]}}), "keras", True),
        # -- NumPy object dtype, spelled every accepted way (and two that NumPy refuses)
        ("numpy/pipe_o.npy", npy("'|O'", array_pickle), "numpy dtype", True),
        ("numpy/plain_o.npy", npy("'O'", array_pickle), "numpy dtype", True),
        ("numpy/little_o.npy", npy("'<O'", array_pickle), "numpy dtype", True),
        ("numpy/o8.npy", npy("'O8'", array_pickle), "numpy dtype", True),
        ("numpy/object.npy", npy("'object'", array_pickle), "numpy dtype", True),
        ("numpy/field.npy", npy("[('w', '<f4'), ('o', '|O')]", array_pickle), "numpy dtype", True),
        ("numpy/v2.npy", npy("'|O'", array_pickle, (2, 0)), "numpy dtype", True),
        ("numpy/v3.npy", npy("'|O'", array_pickle, (3, 0)), "numpy dtype", True),
        ("numpy/dtype_repr.npy", npy("\"dtype('O')\"", array_pickle), "numpy dtype", True),
        ("numpy/bytes_o.npy", npy("b'O'", array_pickle), "numpy dtype", True),
        ("numpy/weights", npy("'|O'", array_pickle), "numpy dtype", True),
        # -- the earlier set
        ("earlier/evil.pkl", raw2, "earlier", True),
        ("earlier/evil_zip.pt", tz, "earlier", True),
        ("earlier/legacy.pt", _torch_legacy({"x": payload}), "earlier", True),
        ("earlier/arrays.npz", _zip({"a.npy": npy("'<f8'", b"\x00" * 8), "b.npy": npy("'|O'", array_pickle)}),
         "earlier", True),
        ("earlier/nested.pkl", pickle.dumps(_Reduce(_load_from_bytes, raw2), protocol=4), "earlier", True),
        ("earlier/model.joblib", lzma.compress(raw2, format=lzma.FORMAT_XZ), "earlier", True),
        # -- calls of globals off the allow list, whatever their module
        ("allowlist/doctest.pkl", pickle.dumps(_Reduce(doctest.debug_script, touch_code(marker)), protocol=2),
         "allow list", True),
        ("allowlist/collect_env.pkl", pickle.dumps(_Reduce(collect_env.run, f"touch {marker}"), protocol=2),
         "allow list", True),
        ("allowlist/invented_reduce.pkl", f"cacme_ml.loaders\nfetch_and_run\n(S'{marker}'\ntR.".encode(),
         "allow list", True),
        ("allowlist/invented_inst.pkl", f"(S'{marker}'\niacme_ml.tools\nRunner\n.".encode(), "allow list", True),
        ("allowlist/invented_obj.pkl", b"\x80\x02(cacme_ml.tools\nRunner\nS'x'\no.", "allow list", True),
        ("allowlist/invented_newobj.pkl", b"\x80\x02cacme_ml.tools\nRunner\n)\x81.", "allow list", True),
        ("allowlist/invented_newobj_ex.pkl", b"\x80\x04\x8c\x0cacme_ml.more\x8c\x06Runner\x93)}\x92.",
         "allow list", True),
        ("allowlist/invented_build.pkl",
         b"\x80\x02ccopy_reg\n_reconstructor\ncacme_ml.state\nHook\ncbuiltins\nobject\nN\x87R}U\x01aK\x01sb.",
         "allow list", True),
        # -- containers inside containers
        ("nested/models.tar.gz", _tar_gz({"release/model.bin": raw2, "release/README": b"weights\n"}),
         "container", True),
        ("nested/bundle.zip", _zip({"inner.zip": _zip({"deep/weights.pkl": raw4})}), "container", True),
        ("nested/export.pt2", _zip({"exported/archive_format": b"pt2", "exported/models/model.json": b"{}",
                                    "exported/data/sample_inputs/model.pt": tz}), "container", True),
    ]
    out = []
    for rel, data, cls, dangerous in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out.append((rel, cls, dangerous))
    return out


def test_the_corpus_builds_and_names_each_class(tmp_path):
    corpus = build_corpus(tmp_path / "corpus", tmp_path / "PWNED")
    classes = {cls for _, cls, _ in corpus}
    assert {"checkpoint name", "compressed pickle", "no extension", "safe-format name", "keras", "numpy dtype",
            "earlier", "allow list", "container"} <= classes
    assert all((tmp_path / "corpus" / rel).is_file() for rel, _, _ in corpus)
    assert not (tmp_path / "PWNED").exists()
    assert len({rel for rel, _, _ in corpus}) == len(corpus) >= 50
