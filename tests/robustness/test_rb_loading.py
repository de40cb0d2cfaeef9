"""Safe model loading: good files load, hostile files are refused with a clear message, and
malicious pickles never run (a marker file proves it)."""

from __future__ import annotations

import os
import pickle
import struct

import pytest

from workbench_plugins.robustness import models
from workbench_plugins.robustness.errors import ModelFileError, RobustnessError, UnsafeModelError


def _same_predictions(a, b, test_set):
    import torch

    x = torch.as_tensor(test_set.x[:200])
    with torch.no_grad():
        return bool(torch.equal(a(x).argmax(1), b(x).argmax(1)))


class _Evil:
    """Unpickling this creates the marker file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.fixture
def saved(tmp_path, digits_demo):
    loaded, _, _ = digits_demo
    path = tmp_path / "model.safetensors"
    models.save_safetensors(loaded.module, str(path), "digits_cnn", {})
    return path


def test_safetensors_round_trip_rebuilds_the_architecture(saved, digits_demo):
    loaded, _, test_set = digits_demo
    again = models.load_model(str(saved))
    assert again.format == "safetensors" and again.arch == "digits_cnn"
    assert _same_predictions(loaded.module, again.module, test_set)


def test_state_dict_loads_with_weights_only(tmp_path, digits_demo):
    import torch

    loaded, _, test_set = digits_demo
    path = tmp_path / "sd.pt"
    torch.save({"state_dict": loaded.module.state_dict(), "epoch": 3}, path)
    with pytest.raises(RobustnessError, match="needs its architecture"):
        models.load_model(str(path))
    again = models.load_model(str(path), arch="digits_cnn")
    assert again.format == "state_dict" and not again.trusted
    assert _same_predictions(loaded.module, again.module, test_set)


def test_user_architecture_file(tmp_path, digits_demo):
    import torch

    _, _, test_set = digits_demo
    arch = tmp_path / "mynet.py"
    arch.write_text(
        "import torch.nn as nn\n\n"
        "class TinyNet(nn.Module):\n"
        "    def __init__(self, hidden=12):\n"
        "        super().__init__()\n"
        "        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))\n\n"
        "    def forward(self, x):\n"
        "        return self.body(x)\n")
    torch.manual_seed(1)
    net = models.build_arch(f"{arch}:TinyNet", {"hidden": 12})
    path = tmp_path / "tiny.safetensors"
    models.save_safetensors(net, str(path), None)
    with pytest.raises(RobustnessError, match="--arch FILE.py:Class"):
        models.load_model(str(path))
    again = models.load_model(str(path), arch=f"{arch}:TinyNet", arch_kwargs={"hidden": 12})
    assert _same_predictions(net, again.module, test_set)
    with pytest.raises(ModelFileError, match=r"do not fit the architecture: .*wrong shape body\.1\.weight"):
        models.load_model(str(path), arch=f"{arch}:TinyNet", arch_kwargs={"hidden": 20})
    with pytest.raises(RobustnessError, match="no class or function named 'Missing'"):
        models.load_model(str(path), arch=f"{arch}:Missing")


def test_broken_architecture_file_names_the_line(tmp_path, saved):
    bad = tmp_path / "broken.py"
    bad.write_text("import torch\n\nx = 1\nraise ValueError('boom')\n")
    with pytest.raises(RobustnessError, match=r"broken\.py, line 4: importing the architecture failed: ValueError: boom"):
        models.load_model(str(saved), arch=f"{bad}:Net")


def test_truncated_safetensors(saved, tmp_path):
    data = saved.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut\.safetensors: tensor .* ends at byte .*; truncated"):
        models.load_model(str(cut))
    (tmp_path / "tiny.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(ModelFileError, match="not even the 8-byte header length"):
        models.load_model(str(tmp_path / "tiny.safetensors"))


def test_header_claiming_more_than_the_file(tmp_path):
    p = tmp_path / "liar.safetensors"
    p.write_bytes(struct.pack("<Q", 50_000) + b'{"a": 1}')
    with pytest.raises(ModelFileError, match=r"header claims 50,000 bytes but the file has only 8"):
        models.load_model(str(p))


def test_two_gigabyte_header_is_refused_before_reading(tmp_path):
    p = tmp_path / "huge.safetensors"
    p.write_bytes(struct.pack("<Q", 2 * 1024 ** 3) + b"{}")
    with pytest.raises(ModelFileError, match=r"header claims 2,147,483,648 bytes, over the .* limit"):
        models.load_model(str(p))


def test_wrong_formats(tmp_path):
    fake = tmp_path / "png.safetensors"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(ModelFileError, match=r"png\.safetensors: safetensors header claims"):
        models.load_model(str(fake))
    text = tmp_path / "notes.safetensors"
    text.write_bytes(struct.pack("<Q", 5) + b"hello")
    with pytest.raises(ModelFileError, match="header is not valid JSON"):
        models.load_model(str(text))
    junk = tmp_path / "junk.pt"
    junk.write_text("definitely not a checkpoint\n")
    with pytest.raises(ModelFileError, match=r"junk\.pt: not a PyTorch state dict"):
        models.load_model(str(junk), arch="digits_cnn")
    short = tmp_path / "short.pt"
    short.write_bytes(b"junk")  # 'j' is a pickle opcode: torch's unpickler fails with a struct.error
    with pytest.raises(ModelFileError, match=r"short\.pt: not a PyTorch state dict"):
        models.load_model(str(short), arch="digits_cnn")
    with pytest.raises(ModelFileError, match="no such file"):
        models.load_model(str(tmp_path / "absent.pt"))


def _malicious_files(tmp_path, marker):
    import torch

    evil = _Evil(marker)
    raw = pickle.dumps(evil)
    (tmp_path / "evil.pkl").write_bytes(raw)
    (tmp_path / "evil.pt").write_bytes(raw)
    torch.save({"conv.weight": torch.zeros(2), "payload": evil}, tmp_path / "evil_zip.pt")
    return [tmp_path / "evil.pkl", tmp_path / "evil.pt", tmp_path / "evil_zip.pt"]


def test_malicious_pickles_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "PWNED"
    files = _malicious_files(tmp_path, marker)
    import zipfile

    assert zipfile.is_zipfile(files[2])  # the torch zip format really is the container here
    for path in files:
        with pytest.raises(UnsafeModelError, match=rf"{path.name}: refused: .*could run code"):
            models.load_model(str(path), arch="digits_cnn")
        assert not marker.exists(), f"{path.name} ran code"
    # Trusting other names does not admit what the file really imports: the scan refuses first.
    for path in files:
        with pytest.raises(UnsafeModelError, match=r"refused even though trusted.*(__builtin__|builtins)\.exec"):
            models.load_model(str(path), arch="digits_cnn", trust_imports="collections:OrderedDict")
        assert not marker.exists(), f"{path.name} ran code when trusted"
    # A deny-listed name cannot be trusted at all.
    for name in ("builtins:exec", "os:system", "torch.storage:_load_from_bytes"):
        with pytest.raises(UnsafeModelError, match="cannot be trusted by name"):
            models.load_model(str(files[0]), arch="digits_cnn", trust_imports=name)
    assert not marker.exists()


def test_the_marker_proof_is_real(tmp_path):
    """Guard for the test above: unpickling the payload does create the marker."""
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_Evil(marker)))  # nosec B301 - deliberately, in a temp folder
    assert marker.exists()


def test_torchscript_only_when_trusted(tmp_path, digits_demo):
    import torch

    loaded, _, test_set = digits_demo
    path = tmp_path / "scripted.pt"
    torch.jit.script(loaded.module).save(str(path))
    with pytest.raises(UnsafeModelError, match="TorchScript archives can run code.*--trust-import torch.jit:load"):
        models.load_model(str(path))
    again = models.load_model(str(path), trust_imports=["torch.jit:load"])
    assert again.format == "torchscript" and again.trusted
    assert _same_predictions(loaded.module, again.module, test_set)


def test_full_pickle_of_a_module_only_with_its_names_trusted(tmp_path, digits_demo):
    import re

    import torch

    loaded, _, test_set = digits_demo
    path = tmp_path / "whole.pt"
    torch.save(loaded.module, path)
    with pytest.raises(UnsafeModelError, match="refused") as info:
        models.load_model(str(path), arch="digits_cnn")
    # The refusal names exactly what to trust, ready to paste.
    value = re.search(r"--trust-import (\S+) if you trust", str(info.value)).group(1)
    assert "torch.nn.modules.conv:Conv2d" in value.split(",")
    with pytest.raises(UnsafeModelError, match=r"also needs .*torch\.nn\.modules\.linear:Linear"):
        models.load_model(str(path), trust_imports=[n for n in value.split(",") if not n.endswith(":Linear")])
    again = models.load_model(str(path), trust_imports=value)
    assert again.format == "pickle" and again.trusted and _same_predictions(loaded.module, again.module, test_set)
    with pytest.raises(RobustnessError, match="replaced by naming"):
        models.load_model(str(path), trust=True)


_ARCH = (
    "import torch.nn as nn\n\n"
    "def side_effect(path):\n"
    "    open(path, 'w').close()\n"
    "    return path\n\n"
    "class TinyNet(nn.Module):\n"
    "    def __init__(self, hidden=12):\n"
    "        super().__init__()\n"
    "        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))\n\n"
    "    def forward(self, x):\n"
    "        return self.body(x)\n")


def test_trusted_whole_module_pickle_of_an_arch_file_loads_and_nothing_unnamed_runs(tmp_path, digits_demo):
    """A model pickled from the user's own mynet.py: with --arch that file is importable as its
    own module; only the named globals are admitted, by the scan and by torch's unpickler."""
    import sys

    import torch

    _, _, test_set = digits_demo
    arch = tmp_path / "wb_arch_issue17.py"
    arch.write_text(_ARCH)
    module = models.import_arch_file(str(arch), "wb_arch_issue17")
    torch.manual_seed(0)
    net = module.TinyNet()
    path = tmp_path / "tiny_whole.pt"
    torch.save(net, path)
    marker = tmp_path / "RAN"
    evil = tmp_path / "tiny_evil.pt"
    torch.save({"model": net, "hook": _Call(module.side_effect, str(marker))}, evil)
    sys.modules.pop("wb_arch_issue17")  # as in a fresh process: only --arch makes it importable
    names = ("wb_arch_issue17:TinyNet,torch.nn.modules.container:Sequential,torch.nn.modules.flatten:Flatten,"
             "torch.nn.modules.linear:Linear,torch.nn.modules.activation:ReLU")
    with pytest.raises(RobustnessError, match="wb_arch_issue17:TinyNet: cannot be found.*--arch"):
        models.load_model(str(path), trust_imports=names)
    try:
        again = models.load_model(str(path), arch=f"{arch}:TinyNet", trust_imports=names)
        assert again.format == "pickle" and _same_predictions(net, again.module, test_set)
        # side_effect is called by the file but not named: refused before torch is asked ...
        with pytest.raises(UnsafeModelError, match=r"also needs wb_arch_issue17:side_effect"):
            models.load_model(str(evil), arch=f"{arch}:TinyNet", trust_imports=names)
        # ... and torch's restricted unpickler alone refuses it too, before resolving it.
        trusted = models._resolve_trusted(models.parse_trust_imports(names), f"{arch}:TinyNet")
        with pytest.raises(UnsafeModelError, match="not trusted by name"):
            models._restricted_load(str(evil), trusted)
        assert not marker.exists()
        # Named, it runs (the proof that the refusal above kept a live payload out).
        with pytest.raises(ModelFileError, match="holds a dict"):  # it ran, then the dict is no model
            models.load_model(str(evil), arch=f"{arch}:TinyNet", trust_imports=names + ",wb_arch_issue17:side_effect")
        assert marker.exists()
    finally:
        sys.modules.pop("wb_arch_issue17", None)


class _Call:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_pt2_archive_gets_its_own_message(tmp_path):
    import torch

    ep = torch.export.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),))
    path = tmp_path / "linear.pt2"
    torch.export.save(ep, str(path))
    with pytest.raises(ModelFileError, match=r"linear\.pt2: a torch\.export archive \(\.pt2\)"):
        models.load_model(str(path), arch="digits_cnn")


def test_cli_refuses_trust_model_and_bad_trust_import(tmp_path, capsys):
    from workbench.cli import main

    model = tmp_path / "m.pt"
    model.write_bytes(b"x")
    data = tmp_path / "d.npz"
    data.write_bytes(b"x")
    base = ["robustness", "-p", str(tmp_path / "p.wbproj"), "--model", str(model), "--data", str(data)]
    assert main(base + ["--trust-model"]) != 0
    assert "--trust-model was replaced by --trust-import" in capsys.readouterr().err
    with pytest.raises(RobustnessError, match="'nocolon' is not MODULE:NAME"):
        models.parse_trust_imports("nocolon")
    assert models.parse_trust_imports(["a.b:C, d:E", "a.b:C"]) == [("a.b", "C"), ("d", "E")]


def test_onnx_external_data_outside_the_folder(tmp_path):
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    (tmp_path / "secret.bin").write_bytes(b"\x00" * 16)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    weight = TensorProto()
    weight.name = "w"
    weight.data_type = TensorProto.FLOAT
    weight.dims.extend([4])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], initializer=[weight])
    path = model_dir / "m.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    with pytest.raises(UnsafeModelError, match=r"m\.onnx: refused: tensor 'w' reads external data from '\.\./secret\.bin'"):
        models.load_model(str(path))
    garbage = model_dir / "g.onnx"
    garbage.write_bytes(os.urandom(64))
    with pytest.raises((ModelFileError, RobustnessError), match=r"g\.onnx"):
        models.load_model(str(garbage))


def _linear_onnx(path, weight, bias):
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["logits"])], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", weight.shape[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", weight.shape[1]])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def test_onnx_black_box_matches_the_same_model_in_torch(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import numpy as np
    import torch

    from workbench_plugins.robustness import device, evaluate
    from workbench_plugins.robustness.data import Dataset
    from workbench_plugins.robustness.preprocess import Preprocessing

    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    x = rng.uniform(0, 1, size=(120, 4)).astype(np.float32)
    y = (x @ w + b).argmax(1).astype(np.int64)
    _linear_onnx(tmp_path / "lin.onnx", w, b)
    loaded = models.load_model(str(tmp_path / "lin.onnx"))
    assert loaded.format == "onnx"
    twin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(w.T))
        twin.bias.copy_(torch.from_numpy(b))
    ds = Dataset(x, y, "tabular", "generated")
    cfg = evaluate.SweepConfig(attacks=["square", "gaussian_noise", "feature_noise"], eps=[0.05, 0.2],
                               square_queries=40)
    rd = device.select("cpu", threads=1)
    onnx_res = evaluate.sweep(loaded.module, ds, cfg, Preprocessing(), rd)
    torch_res = evaluate.sweep(twin, ds, cfg, Preprocessing(), rd)
    assert onnx_res.clean_accuracy == 1.0
    for a, t in zip(onnx_res.points, torch_res.points):
        assert abs(a.robust_accuracy - t.robust_accuracy) <= 1 / 120, (a.attack, a.eps)
    assert onnx_res.robust_accuracy()["square"]["0.2"] < 1.0
    with pytest.raises(RobustnessError, match="pgd needs gradients, which this model \\(ONNX\\) does not give"):
        evaluate.sweep(loaded.module, ds, evaluate.SweepConfig(attacks=["pgd"], eps=[0.1]), Preprocessing(), rd)
