"""Model-file scan bypasses (issue 7): every pickle a loader would read is walked.

Malicious files are built here and never loaded: each payload would create a
marker file, and the marker's absence after every scan proves nothing ran.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools

import numpy as np
import pytest

from workbench_plugins.code_audit import model_scan
from workbench_plugins.code_audit.model_scan import scan_bytes, scan_file


@pytest.fixture
def marker(tmp_path, monkeypatch):
    """A path a payload would create; scanning with pickle loading forbidden."""
    path = tmp_path / "PAYLOAD_RAN"

    def forbidden(*a, **k):
        raise AssertionError("unpickling during a scan")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    yield path
    assert not path.exists(), "a payload ran"


def payload(marker) -> bytes:
    """A protocol-0 pickle calling os.system: built by hand, nothing is pickled or run."""
    return f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()


class _Reduce:
    """Pickles as ``func(*args)``; pickling it calls nothing."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def dangerous(results) -> set[tuple[str, str]]:
    return {(r["module"], r["name"]) for r in results if r["verdict"] == "dangerous"}


def unchecked(results) -> list[dict]:
    return [r for r in results if r["verdict"] == "unchecked"]


# ------------------------------------------------------------ 1. allow list and nested payloads

def test_load_from_bytes_payload_is_scanned(marker):
    torch_storage = pytest.importorskip("torch.storage")
    for protocol in (2, 4, 5):
        data = pickle.dumps({"w": _Reduce(torch_storage._load_from_bytes, payload(marker))}, protocol=protocol)
        results, reason = scan_bytes(data, "model.pkl")
        assert ("os", "system") in dangerous(results), protocol
        hit = next(r for r in results if r["module"] == "os")
        assert "torch.storage._load_from_bytes" in hit["member"]


def test_nested_payload_inside_a_nested_payload(marker):
    torch_storage = pytest.importorskip("torch.storage")
    inner = payload(marker)
    for _ in range(2):
        inner = pickle.dumps(_Reduce(torch_storage._load_from_bytes, inner), protocol=2)
    results, _ = scan_bytes(inner, "model.pkl")
    assert ("os", "system") in dangerous(results)
    too_deep = payload(marker)
    for _ in range(model_scan.MAX_DEPTH + 2):
        too_deep = pickle.dumps(_Reduce(torch_storage._load_from_bytes, too_deep), protocol=4)
    results, _ = scan_bytes(too_deep, "model.pkl")
    assert any("deeper" in r.get("detail", "") for r in unchecked(results))  # a bound, and said so


def test_nested_loader_with_an_argument_built_at_load_time_or_passed_around():
    # _load_from_bytes(bytes(...)): the argument is computed, so it cannot be read here.
    built = (b"\x80\x02ctorch.storage\n_load_from_bytes\ncbuiltins\nbytes\nK\x05\x85R\x85R.")
    results, _ = scan_bytes(built, "model.pkl")
    assert ("torch.storage", "_load_from_bytes") in dangerous(results)
    # Handed to _rebuild_from_type_v2 instead of called directly: flagged as indirect use.
    indirect = (b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(ctorch.storage\n_load_from_bytes\n"
                b"ctorch\nTensor\nC\x02ab\x85}tR.")
    results, _ = scan_bytes(indirect, "model.pkl")
    hits = [r for r in results if r["name"] == "_load_from_bytes"]
    assert hits and hits[0]["verdict"] == "dangerous" and "indirectly" in hits[0]["detail"]


def test_real_tensor_pickled_with_plain_pickle_is_clean():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    data = pickle.dumps({"state": model.state_dict(), "t": torch.zeros(2, 2)})
    assert b"_load_from_bytes" in data  # the nested loader is there, and its payload is checked
    assert scan_bytes(data, "model.pkl") == ([], None)


def test_allow_list_entries_do_not_deserialise_or_evaluate():
    """Audit: no allowed callable's own source unpickles, evaluates or imports by name."""
    import importlib
    import inspect
    import re

    banned = re.compile(r"\b(?:torch\.load|pickle\.loads?|_load\(|Unpickler|eval\(|exec\(|__import__|import_module)")
    import warnings

    checked = 0
    for module_name, names in model_scan.ALLOW.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core is a deprecated alias
                module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                obj = getattr(module, name, None)
            if not (inspect.isfunction(obj) or inspect.ismethod(obj)):
                continue
            try:
                source = inspect.getsource(obj)
            except (OSError, TypeError):
                continue
            checked += 1
            assert not banned.search(source), f"{module_name}.{name} deserialises or evaluates"
    assert checked >= 5  # the audit looked at real code (torch, copyreg, ...)
    torch_storage = pytest.importorskip("torch.storage")
    assert "torch.load" in inspect.getsource(torch_storage._load_from_bytes)  # why it is not allowed
    assert model_scan.classify("torch.storage", "_load_from_bytes") == "nested"
    assert model_scan.classify("numpy", "core") == "unknown"  # a module: BUILD on it rewrites attributes
    for loader in (("torch.serialization", "_load"), ("numpy", "load"), ("joblib.numpy_pickle", "load"),
                   ("pandas.io.pickle", "read_pickle"), ("torch.hub", "load")):
        assert model_scan.classify(*loader) == "dangerous", loader


# ------------------------------------------------------------ 2. several pickles in a row

def _legacy_torch(obj) -> bytes:
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def _pickle_ends(data: bytes) -> list[int]:
    """Offsets just after each of the first five pickles of a legacy torch file."""
    stream, ends = io.BytesIO(data), []
    for _ in range(5):
        for _op, _arg, _pos in pickletools.genops(stream):
            pass
        ends.append(stream.tell())
    return ends


@pytest.mark.parametrize("slot", range(1, 5))
def test_every_pickle_of_a_legacy_torch_file_is_scanned(marker, slot):
    torch = pytest.importorskip("torch")
    clean = _legacy_torch({"w": torch.zeros(3)})
    assert scan_bytes(clean, "model.pt") == ([], None)
    ends = [0] + _pickle_ends(clean)
    # Replace pickle number ``slot`` (0-based) by a payload with no PROTO opcode.
    evil = clean[:ends[slot]] + payload(marker) + clean[ends[slot + 1]:]
    results, _ = scan_bytes(evil, "model.pt")
    assert ("os", "system") in dangerous(results)


def test_pickles_after_the_first_in_a_plain_file(marker):
    data = pickle.dumps({"a": 1}, protocol=4) + b"N0" + payload(marker)
    assert ("os", "system") in dangerous(scan_bytes(data, "model.pkl")[0])


# ------------------------------------------------------------ 3. no PROTO, compressed joblib

@pytest.mark.parametrize("prefix", [b"N0", b"I1\n0", b"(0", b"}0", b")0", b"\x88\x88" b"00"])
def test_pickle_without_proto_is_scanned(marker, prefix):
    results, reason = scan_bytes(prefix + payload(marker), "model.pkl")
    assert ("os", "system") in dangerous(results), reason


@pytest.mark.parametrize("compression", ["zlib", "gzip", "bz2", "xz", "lzma"])
def test_compressed_joblib_with_arrays_before_the_payload(tmp_path, marker, compression):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / f"model_{compression}.joblib"
    # Arrays first: joblib writes their bytes inside the pickle stream, before the payload.
    joblib.dump({"w": np.arange(50.0), "z": np.zeros((3, 4), np.float32),
                 "p": _Reduce(os.system, f"touch {marker}")}, path, compress=(compression, 3))
    results, reason = scan_file(str(path))
    assert {m for m, _ in dangerous(results)} <= {"os", "posix", "nt"} and dangerous(results), reason


def test_joblib_object_array_payload_and_clean_files(tmp_path, marker):
    joblib = pytest.importorskip("joblib")
    objects = np.empty(2, dtype=object)
    objects[0] = _Reduce(os.system, f"touch {marker}")
    joblib.dump({"w": np.arange(5.0), "o": objects}, tmp_path / "obj.joblib")
    assert dangerous(scan_file(str(tmp_path / "obj.joblib"))[0])
    structured = np.array([("a", 1)], dtype=[("n", "U3"), ("v", "i8")])
    joblib.dump({"w": np.arange(5.0), "s": structured, "d": np.array(["2020-01-01"], dtype="M8[s]"),
                 "m": np.ones((4, 4), order="F")}, tmp_path / "clean.joblib")
    assert scan_file(str(tmp_path / "clean.joblib")) == ([], None)


def test_unreadable_model_files_are_findings_not_only_reasons(tmp_path):
    lz4 = b"\x04\x22\x4d\x18" + b"\x00" * 20  # joblib would unpickle it; no lz4 decoder here
    results, reason = scan_bytes(lz4, "model.joblib")
    if reason and "no decompressor" in reason:
        assert unchecked(results)
    torch_storage = pytest.importorskip("torch.storage")
    deep = b"N."
    for _ in range(model_scan.MAX_DEPTH + 1):
        deep = pickle.dumps(_Reduce(torch_storage._load_from_bytes, deep), protocol=4)
    results, _ = scan_bytes(deep, "weights.bin")
    assert unchecked(results)
    fields = model_scan.finding_fields(unchecked(results)[0])
    assert fields["rule"] == model_scan.RULE_UNCHECKED and fields["severity"] in ("MEDIUM", "HIGH")
    # Not a pickle at all under a model name: nothing would run, but the file is not what its
    # name says, and a gate must not pass what was not read: MS003 LOW (issue 17).
    results, reason = scan_bytes(b"\x00\x01garbage", "model.bin")
    assert "not recognised" in reason and [r["verdict"] for r in results] == ["unparsed"]
    assert model_scan.finding_fields(results[0])["severity"] == "LOW"
    # The same bytes under a name that says nothing: not a model, no finding.
    assert scan_bytes(b"\x00\x01garbage", "notes.dat") == ([], None)
    # A FIFO or a device named like a model is a finding (a loader would read whatever it serves).
    fifo = tmp_path / "model.pkl"
    os.mkfifo(fifo)
    results, reason = scan_file(str(fifo))
    assert "FIFO" in reason and unchecked(results)
    # A non-model extension gives the reason only.
    os.mkfifo(tmp_path / "notes.txt")
    assert scan_file(str(tmp_path / "notes.txt"))[0] == []


def test_joblib_array_layout_the_scan_cannot_follow_is_reported():
    # NumpyArrayWrapper with a dtype built at load time: where the array ends is unknown.
    data = (b"\x80\x04cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(\x8c\x05shape\x94K\x03\x85"
            b"\x8c\x05dtype\x94cbuiltins\nobject\n)Rub.")
    results, reason = scan_bytes(data, "model.joblib")
    assert "unknown layout" in reason and unchecked(results)


def test_finding_fields_for_each_verdict():
    for verdict, rule in (("dangerous", "MS001"), ("unknown", "MS002"), ("unchecked", "MS003")):
        item = {"module": "os", "name": "system", "offset": 3, "verdict": verdict, "member": None}
        fields = model_scan.finding_fields(item)
        assert fields["rule"] == rule and "os.system" in fields["message"]
        assert model_scan.fingerprint_code(item)


# ------------------------------------------------------------ 4. bounded reads

def test_huge_declared_arguments_are_skipped_not_read(tmp_path, marker):
    """A pickle claiming a 3 GB bytes argument (a sparse file) is walked by seeking."""
    path = tmp_path / "model.pkl"
    size = 3 * 1024 ** 3
    with open(path, "wb") as fh:
        fh.write(b"\x80\x04\x8e" + size.to_bytes(8, "little"))
        fh.seek(size, os.SEEK_CUR)
        fh.write(b"0" + payload(marker))  # POP the bytes, then the payload
    results, reason = scan_file(str(path))
    assert ("os", "system") in dangerous(results), reason


def test_legacy_torch_tar_members_are_scanned(tmp_path, marker):
    """torch.load tries the old tar format first and unpickles 'storages', 'tensors' and 'pickle'."""
    import tarfile

    path = tmp_path / "old.pt"
    members = {"storages": pickle.dumps(0, protocol=2) + payload(marker),  # no storages, then the views
               "tensors": pickle.dumps(1, protocol=2) + payload(marker) + b"\x01\x00\x00\x00",
               "pickle": b"N0" + payload(marker)}
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    results, reason = scan_file(str(path))
    hits = {r["member"] for r in results if r["verdict"] == "dangerous"}
    assert hits == {"storages", "tensors", "pickle"}, (results, reason)
    assert unchecked(results)  # raw data between the pickles of 'tensors' is not modelled: said so


def test_names_are_judged_as_the_unpickler_resolves_them(marker):
    # Python 2 names mapped by protocol < 3 (cPickle -> pickle, commands -> subprocess).
    assert model_scan.classify("cPickle", "loads") == "dangerous"
    assert model_scan.classify("__builtin__", "reduce") == "dangerous"  # functools.reduce
    # Dotted names, followed attribute by attribute by protocol >= 4.
    assert model_scan.classify("torch", "serialization.load") == "dangerous"
    assert model_scan.classify("collections", "OrderedDict.__init__.__globals__") == "dangerous"
    assert model_scan.classify("collections", "OrderedDict.fromkeys") == "unknown"
    assert model_scan.classify("numpy.core.multiarray", "_reconstruct") == "allowed"
    data = b"\x80\x04\x8c\x05torch\x8c\x12serialization.load\x93C\x01x\x85R."
    assert dangerous(scan_bytes(data, "model.pkl")[0]) == {("torch", "serialization.load")}


def test_build_on_an_imported_object_is_dangerous():
    # GLOBAL collections.OrderedDict, then BUILD (None, {'__repr__': ...}): sets a class attribute.
    data = b"\x80\x02ccollections\nOrderedDict\nN}U\x08__repr__Ncbuiltins\nstr\nsb\x86b."
    results, _ = scan_bytes(data, "model.pkl")
    hit = [r for r in results if r["name"] == "OrderedDict"]
    assert hit and hit[0]["verdict"] == "dangerous" and "BUILD" in hit[0]["detail"]


def test_joblib_structured_array_with_object_field_and_lying_flags(tmp_path, marker):
    joblib = pytest.importorskip("joblib")
    rows = np.empty(1, dtype=[("w", "f4"), ("o", "O")])
    rows[0] = (1.0, _Reduce(os.system, f"touch {marker}"))
    buf = io.BytesIO()
    joblib.dump({"a": rows, "b": np.arange(3.0)}, buf)
    honest = buf.getvalue()
    assert dangerous(scan_bytes(honest, "model.joblib")[0])
    lying = honest.replace(b"K\x1bt", b"K\x10t", 1)  # the wrapper's dtype says: no objects
    assert lying != honest
    assert dangerous(scan_bytes(lying, "model.joblib")[0])


def test_real_sklearn_and_numpy_pickles_scan_without_errors():
    from sklearn.datasets import load_digits
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_digits(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=6, random_state=0).fit(x, y)  # node arrays: a structured dtype
    for protocol in (2, 4, 5):
        results, reason = scan_bytes(pickle.dumps(model, protocol=protocol), "model.pkl")
        assert reason is None and not dangerous(results)
        assert all(r["module"].startswith(("sklearn", "numpy")) for r in results)  # reviewed-or-not, never noise


def test_npy_name_without_npy_magic_is_walked_as_a_pickle(marker):
    # np.load(allow_pickle=True) unpickles any file that is neither .npy nor zip.
    results, _ = scan_bytes(payload(marker), "weights.npy")
    assert ("os", "system") in dangerous(results)


def test_hostile_bytes_never_raise(marker):
    """Seeded byte flips, cuts and insertions of real files of every format: a result, never an exception."""
    import random

    torch = pytest.importorskip("torch")
    joblib = pytest.importorskip("joblib")
    seeds = []
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(3, 2)}, buf)
    seeds.append(("m.pt", buf.getvalue()))
    seeds.append(("m.pt", _legacy_torch({"w": torch.zeros(3)})))
    buf = io.BytesIO()
    joblib.dump({"w": np.arange(6.0), "s": "x"}, buf)
    seeds.append(("m.joblib", buf.getvalue()))
    seeds.append(("m.pkl", pickle.dumps({"t": torch.ones(2)}, protocol=2)))
    seeds.append(("m.pkl", pickle.dumps([1, "a", (2, 3), {"k": b"v"}], protocol=5)))
    rng = random.Random(7)
    for _ in range(3000):
        name, data = rng.choice(seeds)
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            if roll < 0.6 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif roll < 0.8:
                del data[rng.randrange(len(data) + 1):]
            else:
                at = rng.randrange(len(data) + 1)
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        results, reason = scan_bytes(bytes(data), name)
        assert isinstance(results, list) and (reason is None or isinstance(reason, str))


def test_tar_member_that_is_a_link_is_reported(tmp_path):
    import tarfile

    path = tmp_path / "old.pt"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("pickle")
        info.type, info.linkname = tarfile.SYMTYPE, "/tmp/elsewhere.pkl"
        tar.addfile(info)
    results, reason = scan_file(str(path))
    assert "link" in reason and unchecked(results)
