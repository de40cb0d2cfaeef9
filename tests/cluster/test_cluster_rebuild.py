"""What a Ray worker does with a model sent as --arch source plus safetensors weights (called here,
no cluster needed): the same outputs as the driver's model, and no copy of the user's file left."""

from __future__ import annotations

import tempfile

from tiny_arch_source import ARCH


def test_rebuilt_model_answers_alike_and_leaves_no_arch_file(tmp_path, monkeypatch):
    import torch

    from workbench_plugins.robustness import data, models
    from workbench_plugins.robustness.distributed import _model_spec, _rebuild
    from workbench_plugins.robustness.models import LoadedModel

    arch = tmp_path / "tinynet.py"
    arch.write_text(ARCH)
    train, test = data.digits(seed=0)
    module = models.build_arch(f"{arch}:TinyNet", {"hidden": 8})
    torch.manual_seed(0)
    models.train(module, train, epochs=1, seed=0)
    module.eval()
    loaded = LoadedModel(module=module, source=str(arch), format="safetensors", arch=f"{arch}:TinyNet",
                         arch_kwargs={"hidden": 8})
    spec, weights = _model_spec(loaded)
    assert spec["source"] == ARCH and spec["arch"] == "TinyNet"
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(worker_tmp))  # the worker's temporary folder, ours alone
    rebuilt = _rebuild(spec, weights)
    assert list(worker_tmp.iterdir()) == []  # the source's folder is gone
    x = torch.as_tensor(test.x[:32])
    with torch.no_grad():
        assert torch.equal(rebuilt(x), module(x))
