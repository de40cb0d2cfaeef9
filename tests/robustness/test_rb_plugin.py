"""The plugin: jobs through the real runner on a real project file (streamed points, cancel keeps
what finished, metrics, report, score), and the commands in a real subprocess."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from workbench_plugins.robustness import plugin
from workbench_plugins.robustness import store as S

from .conftest import robustness_registry


def _store(project):
    from workbench.api import PluginStore

    return PluginStore(project, "robustness")


def test_plugin_object_and_params_checks():
    from workbench.api import ParamsError
    from workbench.core.plugins import check_plugin

    check_plugin(plugin)
    spec = plugin.job_spec("robustness", target="demo", eps=["0.05", "0.10"])
    assert spec.params["eps"] == ["0.05", "0.10"] and spec.target == "demo"
    with pytest.raises(ParamsError, match="epsilon 'x' is not a number"):
        plugin.job_spec("robustness", target="demo", eps=["x"])
    with pytest.raises(ParamsError, match="unknown attack or corruption 'fab'"):
        plugin.job_spec("robustness", target="demo", attacks=["fab"])
    with pytest.raises(ParamsError, match="needs its data"):
        plugin.job_spec("robustness", target="/some/model.safetensors")
    with pytest.raises(ParamsError, match="amp must be bf16 or fp16"):
        plugin.job_spec("harden", target="demo", amp="int4")


def test_sweep_job_stores_points_metrics_report_and_score(project):
    from workbench.core.jobs import run_in_process

    spec = plugin.job_spec("robustness", target="demo", attacks=["fgsm", "pgd"], eps=["0.05", "0.10"],
                           limit=300, demo_epochs=6, threads=1)
    progress = []
    run_id, status, summary = run_in_process(project, spec, registry=robustness_registry(),
                                             on_progress=lambda d, t, m: progress.append((d, t)))
    assert status == "done", summary
    assert set(summary["robust_accuracy"]) == {"fgsm", "pgd"}
    assert set(summary["robust_accuracy"]["pgd"]) == {"0.05", "0.10"}  # as written, not 0.1
    assert summary["robust_accuracy"]["pgd"]["0.10"] < summary["clean_accuracy"]
    assert progress[-1] == (4, 4) and [d for d, _ in progress] == [1, 2, 3, 4]
    store = _store(project)
    pts = S.points(store, run_id)
    assert [(p["attack"], p["eps_label"]) for p in pts] == [("fgsm", "0.05"), ("fgsm", "0.10"), ("pgd", "0.05"),
                                                          ("pgd", "0.10")]
    rows = S.samples(store, run_id, "original", "pgd", "0.10")
    assert len(rows) == 300
    assert sum(r["adv_pred"] == r["label"] for r in rows) / 300 == pytest.approx(summary["robust_accuracy"]["pgd"]["0.10"])
    assert store.metrics("robust_accuracy/original/pgd", run_id=run_id) == [
        (0.05, pytest.approx(summary["robust_accuracy"]["pgd"]["0.05"])),
        (0.1, pytest.approx(summary["robust_accuracy"]["pgd"]["0.10"]))]
    assert plugin.score(store) == pytest.approx(round(summary["score"], 1))
    shown = S.examples(store, run_id, "original", "pgd", "0.10")
    assert len(shown) == 8  # the gallery's adversarial examples, stored as raw float32
    for ex in shown:
        assert ex["adv_pred"] != ex["label"] == ex["clean_pred"]
        assert ex["x"].shape == (1, 8, 8) and float(abs(ex["x_adv"] - ex["x"]).max()) <= 0.10 + 1e-6
        assert rows[ex["idx"]]["adv_pred"] == ex["adv_pred"]
    # R: the mean over the protocol's epsilons of the worst case per sample over fgsm and pgd
    wc = summary["worst_case_accuracy"]
    assert set(wc) == {"0.05", "0.10"}
    for label in wc:
        assert wc[label] <= min(summary["robust_accuracy"][a][label] for a in ("fgsm", "pgd")) + 1e-12
    assert summary["score"] == pytest.approx(100 * (wc["0.05"] + wc["0.10"]) / 2)
    assert summary["protocol"]["norm"] == "linf" and summary["protocol"]["eps"] == [0.05, 0.1]
    assert summary["protocol"]["attacks"] == ["fgsm", "pgd"] and summary["protocol"]["comparable"]
    assert S.protocol(store)["attacks"] == ["fgsm", "pgd"]  # the first run set the project's protocol
    (section,) = plugin.report_sections(store, {})
    kinds = [type(b).__name__ for b in section.blocks]
    assert "LineChart" in kinds and "Table" in kinds
    chart = next(b for b in section.blocks if type(b).__name__ == "LineChart")
    assert chart.series["pgd"][0] == (0.0, pytest.approx(summary["clean_accuracy"]))
    assert section.blocks[0].text.startswith("Protocol: L∞, ε ∈ {0.05, 0.1}")
    assert "worst case per sample" in section.blocks[-1].text


def test_cancel_keeps_the_points_that_finished(project):
    from workbench.core.jobs import run_in_process

    store = _store(project)
    spec = plugin.job_spec("robustness", target="demo", attacks=["fgsm", "pgd"], eps=["0.05", "0.1", "0.2"],
                           limit=200, demo_epochs=6, threads=1)

    def cancel():
        done = store.query_one("SELECT COUNT(*) AS n FROM robustness_points")
        return done["n"] >= 2

    run_id, status, _ = run_in_process(project, spec, registry=robustness_registry(), cancel_check=cancel)
    assert status == "cancelled"
    assert project.run(run_id)["status"] == "cancelled"
    kept = S.points(store, run_id)
    assert [(p["attack"], p["eps_label"]) for p in kept] == [("fgsm", "0.05"), ("fgsm", "0.1")]
    assert len(store.metrics("robust_accuracy/original/fgsm", run_id=run_id)) == 2
    assert S.clean(store, run_id)[0]["samples"] == 200



def test_score_is_not_assessed_without_runs(project):
    store = _store(project)
    assert plugin.score(store) is None
    (section,) = plugin.report_sections(store, {})
    assert "Not assessed" in section.blocks[0].text


# ------------------------------------------------------------------ the commands, in a subprocess
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(robustness_registered):
    return robustness_registered


def _workbench(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or REPO, timeout=300)


def test_cli_robustness_demo_writes_the_summary(cli_env, tmp_path):
    proj, out = tmp_path / "cli.wbproj", tmp_path / "summary.json"
    res = _workbench(cli_env, "robustness", "-p", str(proj), "--demo", "--attack", "fgsm,pgd,square-l2",
                     "--eps", "0.03,0.1", "--eps-l2", "0.5", "--queries", "20", "--p-init", "0.5",
                     "--no-random-start", "--limit", "200", "--device", "cpu", "--threads", "1",
                     "--demo-epochs", "6", "--summary-json", str(out))
    assert res.returncode == 0, res.stderr
    summary = json.loads(out.read_text())
    assert 0.9 < summary["clean_accuracy"] <= 1.0
    assert set(summary["robust_accuracy"]) == {"fgsm", "pgd", "square-l2"}
    assert list(summary["robust_accuracy"]["pgd"]) == ["0.03", "0.1"]
    assert list(summary["robust_accuracy"]["square-l2"]) == ["0.5"]
    assert summary["device"]["device"] == "cpu" and summary["seeds"] == {"seed": 0, "shard_size": 1024}
    # R under the protocol this first run set: L-inf, its epsilons, fgsm and pgd with their budgets
    assert list(summary["worst_case_accuracy"]) == ["0.03", "0.1"]
    assert summary["protocol"]["attacks"] == ["fgsm", "pgd"] and summary["protocol"]["norm"] == "linf"
    assert summary["protocol"]["budget"]["pgd"]["random_start"] is False
    assert summary["score"] == pytest.approx(50 * sum(summary["worst_case_accuracy"].values()))
    assert summary["worst_case_by_norm"]["l2"] == summary["robust_accuracy"]["square-l2"]
    assert "robustness score R" in res.stdout and "under the protocol: L∞, ε ∈ {0.03, 0.1}" in res.stdout
    with sqlite3.connect(proj) as conn:
        assert conn.execute("SELECT COUNT(*) FROM robustness_points").fetchone()[0] == 5
        assert conn.execute("SELECT COUNT(*) FROM robustness_samples").fetchone()[0] == 1000
        params = json.loads(conn.execute("SELECT params FROM runs").fetchone()[0])
    assert params["square_queries"] == 20 and params["p_init"] == 0.5 and params["random_start"] is False


def _hostile_inputs(tmp_path, marker):
    """Every hostile model file and bad data file of the issue, with the refusal each must give."""
    import pickle
    import struct

    import numpy as np
    import torch

    from workbench_plugins.robustness import models

    good = tmp_path / "good.safetensors"
    models.save_safetensors(models.digits_cnn(), str(good), "digits_cnn")
    raw = good.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "liar.safetensors").write_bytes(struct.pack("<Q", 50_000) + b'{"a": 1}')
    (tmp_path / "huge.safetensors").write_bytes(struct.pack("<Q", 2 * 1024 ** 3) + b"{}")
    (tmp_path / "png.safetensors").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (tmp_path / "junk.pt").write_bytes(b"junk")

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    payload = pickle.dumps(Evil())
    (tmp_path / "evil.pt").write_bytes(payload)
    (tmp_path / "evil.pkl").write_bytes(payload)
    torch.save({"w": torch.zeros(2), "payload": Evil()}, tmp_path / "evil_zip.pt")
    onnx_path = _onnx_reading_outside(tmp_path)

    np.savez(tmp_path / "d.npz", x=np.zeros((4, 1, 8, 8), dtype=np.float32), y=np.arange(4))
    nan_x = np.zeros((4, 1, 8, 8), dtype=np.float32)
    nan_x[2, 0, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", x=nan_x, y=np.arange(4))
    np.savez(tmp_path / "label.npz", x=np.zeros((4, 1, 8, 8), dtype=np.float32), y=np.array([0, 1, 12, 3]))
    np.savez(tmp_path / "shape.npz", x=np.zeros((4, 1, 8, 8), dtype=np.float32), y=np.arange(3))
    model_cases = [("cut.safetensors", r"cut\.safetensors: tensor .* ends at byte .*truncated"),
                   ("liar.safetensors", r"header claims 50,000 bytes but the file has only 8"),
                   ("huge.safetensors", r"header claims 2,147,483,648 bytes"),
                   ("png.safetensors", r"png\.safetensors: safetensors header claims"),
                   ("junk.pt", r"junk\.pt: not a PyTorch state dict"),
                   ("evil.pt", r"evil\.pt: refused: the pickle inside imports"),
                   ("evil.pkl", r"evil\.pkl: refused: the pickle inside imports"),
                   ("evil_zip.pt", r"evil_zip\.pt: refused: the pickle inside imports"),
                   (str(onnx_path), r"m\.onnx: refused: tensor 'w' reads external data from '\.\./secret\.bin'")]
    data_cases = [("nan.npz", r"nan\.npz: .*sample 2"), ("label.npz", r"label 2 is 12, outside the classes 0\.\.9"),
                  ("shape.npz", r"shape\.npz: .*4 .*3")]
    return [(tmp_path / m, tmp_path / "d.npz", pat) for m, pat in model_cases] + \
        [(good, tmp_path / d, pat) for d, pat in data_cases]


def _onnx_reading_outside(tmp_path):
    from onnx import TensorProto, helper

    (tmp_path / "secret.bin").write_bytes(b"\x00" * 16)
    (tmp_path / "onnx").mkdir()
    weight = TensorProto()
    weight.name, weight.data_type, weight.data_location = "w", TensorProto.FLOAT, TensorProto.EXTERNAL
    weight.dims.extend([4])
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], initializer=[weight])
    path = tmp_path / "onnx" / "m.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return path


# Runs the CLI's main() once per case in ONE fresh process (torch is imported once, not twelve
# times); each case's stderr goes to its own file. An exception escaping main() ends the process
# with a traceback, which the test sees.
_DRIVER = """
import contextlib, json, sys
from workbench.cli import main
codes = []
for i, argv in enumerate(json.loads(sys.argv[1])):
    with open(sys.argv[2] + f".{i}", "w") as err, contextlib.redirect_stderr(err):
        try:
            codes.append(main(argv))
        except SystemExit as exc:
            codes.append(exc.code)
print(json.dumps(codes))
"""


def _cli_args(tmp_path, i, model, data):
    return ["robustness", "-p", str(tmp_path / f"h{i}.wbproj"), "--model", str(model), "--data", str(data),
            "--attack", "square" if model.suffix == ".onnx" else "fgsm", "--device", "cpu", "--threads", "1"]


def test_cli_refuses_hostile_models_and_bad_data_without_traceback(cli_env, tmp_path):
    """Every hostile file of the issue through the command: exit 1, the reason naming the file, no traceback.

    Two cases run as `python -m workbench` exactly as a user types it; all of them run through the
    CLI's main() in one separate process, to keep the test short.
    """
    import re

    pytest.importorskip("onnx")
    marker = tmp_path / "PWNED"
    cases = _hostile_inputs(tmp_path, marker)
    argvs = [_cli_args(tmp_path, i, model, data) for i, (model, data, _) in enumerate(cases)]
    picked = [i for i, (m, d, _) in enumerate(cases) if m.name == "evil_zip.pt" or d.name == "nan.npz"]
    # Their own project files: running beside the driver, they must not meet its lock.
    real = [subprocess.Popen([sys.executable, "-m", "workbench",
                              *_cli_args(tmp_path, 100 + i, cases[i][0], cases[i][1])], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=cli_env, cwd=REPO) for i in picked]
    driver = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(argvs), str(tmp_path / "stderr")],
                            capture_output=True, text=True, env=cli_env, cwd=REPO, timeout=300)
    assert driver.returncode == 0 and "Traceback" not in driver.stderr, driver.stderr
    codes = json.loads(driver.stdout.strip().splitlines()[-1])
    results = [(case, code, (tmp_path / f"stderr.{i}").read_text()) for i, (case, code) in enumerate(zip(cases, codes))]
    for i, proc in zip(picked, real):
        _, err = proc.communicate(timeout=300)
        results.append((cases[i], proc.returncode, err))
    assert len(results) == len(cases) + 2
    for (model, data, pattern), code, err in results:
        assert code == 1, (model.name, data.name, err)
        assert re.search(pattern, err), (model.name, data.name, err)
        assert "Traceback" not in err, err
    assert not marker.exists()


def test_cli_harden_demo_exports_a_model_that_reloads(cli_env, tmp_path):
    proj, out, weights = tmp_path / "hd.wbproj", tmp_path / "h.json", tmp_path / "hard.safetensors"
    res = _workbench(cli_env, "harden", "-p", str(proj), "--demo", "--method", "fgsm", "--epochs", "2",
                     "--attack", "pgd", "--eps", "0.1", "--limit", "200", "--device", "cpu", "--threads", "1",
                     "--demo-epochs", "6",
                     "-o", str(weights), "--summary-json", str(out))
    assert res.returncode == 0, res.stderr
    summary = json.loads(out.read_text())
    assert summary["robust_accuracy"]["pgd"]["0.1"] > summary["before"]["robust_accuracy"]["pgd"]["0.1"]
    assert [h["epoch"] for h in summary["history"]] == [0, 1]
    from workbench_plugins.robustness import models

    again = models.load_model(str(weights))
    assert again.arch == "digits_cnn"
    with sqlite3.connect(proj) as conn:
        assert conn.execute("SELECT COUNT(*) FROM robustness_epochs").fetchone()[0] == 2
        versions = {r[0] for r in conn.execute("SELECT model_version FROM robustness_points")}
        assert versions == {"original", "hardened"}
        series = {r[0] for r in conn.execute("SELECT DISTINCT series FROM metrics WHERE plugin='robustness'")}
        assert {"harden/loss", "harden/accuracy", "robust_accuracy/original/pgd",
                "robust_accuracy/hardened/pgd"} <= series


def test_tabular_job_from_csv_with_bounds_and_immutable_features(project, tmp_path):
    import numpy as np
    import torch

    from workbench.core.jobs import run_in_process
    from workbench_plugins.robustness import models
    from workbench_plugins.robustness.data import Dataset

    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, size=(300, 3)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64)
    torch.manual_seed(0)
    net = models.train(models.tabular_mlp(3, 2), Dataset(x, y, "tabular", "t"), epochs=40)
    models.save_safetensors(net, str(tmp_path / "credit.safetensors"), "tabular_mlp",
                            {"in_features": 3, "num_classes": 2})
    lines = ["age,income,debt,approved"] + [f"{a:.4f},{b:.4f},{c:.4f},{int(t)}" for (a, b, c), t in zip(x, y)]
    (tmp_path / "credit.csv").write_text("\n".join(lines) + "\n")
    spec = plugin.job_spec("robustness", target=str(tmp_path / "credit.safetensors"), data=str(tmp_path / "credit.csv"),
                           target_column="approved", attacks=["pgd", "feature_noise"], eps=["0.5", "1.0"],
                           lower=[-2.0, -2.0, -2.0], upper=[2.0, 2.0, 2.0], immutable=[0], threads=1)
    run_id, status, summary = run_in_process(project, spec, registry=robustness_registry())
    assert status == "done", summary
    assert summary["format"] == "safetensors" and summary["clean_accuracy"] > 0.9
    assert summary["robust_accuracy"]["pgd"]["1.0"] < summary["clean_accuracy"]
    # the same attack with feature 0 mutable is at least as strong: immutability really binds
    free = plugin.job_spec("robustness", target=str(tmp_path / "credit.safetensors"), data=str(tmp_path / "credit.csv"),
                           target_column="approved", attacks=["pgd"], eps=["1.0"], lower=[-2.0] * 3,
                           upper=[2.0] * 3, threads=1)
    _, status, free_summary = run_in_process(project, free, registry=robustness_registry())
    assert status == "done"
    assert free_summary["robust_accuracy"]["pgd"]["1.0"] < summary["robust_accuracy"]["pgd"]["1.0"]
