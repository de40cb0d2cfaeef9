"""Model files: globals found by walking opcodes; nothing is ever unpickled."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest


class _Payload:
    """Pickles as a call to os.system; dumping it runs nothing."""

    def __reduce__(self):
        return (os.system, ("echo owned",))


class _EvalPayload:
    def __reduce__(self):
        import builtins

        return (builtins.eval, ("1+1",))


def scan(data: bytes, name="model.pkl"):
    from workbench_plugins.code_audit.model_scan import scan_bytes

    return scan_bytes(data, name)


def verdicts(results):
    return {(r["module"], r["name"]): r["verdict"] for r in results}


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_reduce_to_os_system_is_dangerous_in_every_protocol(protocol):
    results, reason = scan(pickle.dumps({"model": _Payload()}, protocol=protocol))
    assert reason is None
    # os.system pickles as posix.system on Linux, nt.system on Windows.
    assert set(verdicts(results).values()) == {"dangerous"}
    assert {m for m, _ in verdicts(results)} <= {"os", "posix", "nt"}


def test_builtins_eval_via_stack_global_and_memo():
    data = pickle.dumps([_EvalPayload(), _EvalPayload()], protocol=4)
    results, _ = scan(data)
    assert verdicts(results) == {("builtins", "eval"): "dangerous"}


def test_hand_written_opcodes():
    # GLOBAL 'subprocess check_output', MARK, STRING, TUPLE, REDUCE, STOP
    results, _ = scan(b"csubprocess\ncheck_output\n(S'id'\ntR.")
    assert verdicts(results) == {("subprocess", "check_output"): "dangerous"}


def test_plain_containers_and_numpy_are_clean():
    from collections import OrderedDict

    data = pickle.dumps({"w": np.arange(4.0), "meta": OrderedDict(a=1), "s": {1, 2}}, protocol=4)
    results, reason = scan(data)
    assert results == [] and reason is None


def test_unlisted_global_called_is_high_and_only_referenced_is_unknown():
    import fractions
    import ipaddress

    from workbench_plugins.code_audit.model_scan import finding_fields

    # Unpickling an IPv4Address calls the class: off the allow list, that is HIGH (issue 17).
    results, _ = scan(pickle.dumps([ipaddress.ip_address("10.0.0.1"), fractions.Fraction(1, 3)]))
    assert verdicts(results) == {("ipaddress", "IPv4Address"): "called"}
    assert finding_fields(results[0])["severity"] == "HIGH"
    # A class only referenced as a value (never called) is imported, not run: MEDIUM.
    results, _ = scan(pickle.dumps({"kind": ipaddress.IPv4Address}, protocol=2))
    assert verdicts(results) == {("ipaddress", "IPv4Address"): "unknown"}
    assert finding_fields(results[0])["severity"] == "MEDIUM"


def test_truncated_garbage_and_empty_files_give_reasons(tmp_path):
    from workbench_plugins.code_audit.model_scan import scan_file

    good = pickle.dumps({"model": _Payload()}, protocol=2)
    results, reason = scan(good[:-6])
    assert "truncated" in reason
    assert verdicts(results)  # what was read before the cut is still reported
    assert "not recognised" in scan(b"\x89PNG\r\n\x1a\n....")[1]
    assert "not a valid pickle" in scan(b"\x80\x04\xff\xfe\xfd")[1] or "truncated" in scan(b"\x80\x04\xff")[1]
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert scan_file(str(empty))[1] == "empty file"
    assert scan_file(str(tmp_path / "missing.pt"))[1].startswith("unreadable")


def test_zip_checkpoint_and_damaged_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_Payload(), protocol=2))
        zf.writestr("archive/version", "3\n")
    results, reason = scan(buf.getvalue(), "model.pt")
    assert reason is None and results[0]["member"] == "archive/data.pkl"
    assert verdicts(results) and set(verdicts(results).values()) == {"dangerous"}
    results, reason = scan(buf.getvalue()[:40], "model.pt")
    assert "zip" in reason and [r["verdict"] for r in results] == ["unparsed"]  # MS003, not a silent skip


def test_real_torch_checkpoint_is_clean(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "weights.pt"
    torch.save({"layer.weight": torch.zeros(2, 3), "step": 3}, path)
    from workbench_plugins.code_audit.model_scan import scan_file

    assert scan_file(str(path)) == ([], None)


def test_npy_object_array_and_npz(tmp_path):
    from workbench_plugins.code_audit.model_scan import scan_file

    obj = np.empty(1, dtype=object)
    obj[0] = _Payload()
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    results, _ = scan_file(str(tmp_path / "obj.npy"))
    assert set(verdicts(results).values()) == {"dangerous"}
    np.savez(tmp_path / "arrays.npz", a=np.arange(3), b=obj)
    results, _ = scan_file(str(tmp_path / "arrays.npz"))
    assert {r["member"] for r in results} == {"b.npy"}
    np.save(tmp_path / "plain.npy", np.arange(3))
    assert scan_file(str(tmp_path / "plain.npy")) == ([], None)


def test_compressed_joblib(tmp_path):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "model.joblib"
    joblib.dump({"payload": _Payload()}, path, compress=3)
    from workbench_plugins.code_audit.model_scan import scan_file

    results, _ = scan_file(str(path))
    assert set(verdicts(results).values()) == {"dangerous"}


def test_scanner_never_unpickles(tmp_path, monkeypatch):
    """Fail loudly if anything in the scan path calls pickle.load(s)."""
    def forbidden(*a, **k):
        raise AssertionError("unpickling during a scan")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    results, _ = scan(b"cos\nsystem\n(S'touch /tmp/never'\ntR.")
    assert verdicts(results) == {("os", "system"): "dangerous"}
