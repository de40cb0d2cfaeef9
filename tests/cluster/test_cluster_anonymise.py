"""``workbench anonymise --ray`` on a real local Ray instance: workers count their shards' QI tuples
(with the sensitive values where l-diversity / t-closeness is asked), the driver searches the merged
table, workers generalise, transform, leak-check and render their shards. The optimum and the output
equal the local run's."""

from __future__ import annotations

import importlib.util
import random

import pytest
from worker_killer import killing_first

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra"),
              pytest.mark.enable_socket]


def _data(tmp_path, rows: int = 1500, ids: bool = True):
    rnd = random.Random(11)
    zips = [f"{rnd.randint(10, 99)}{rnd.randint(100, 999)}" for _ in range(40)]
    lines = ["rid,name,email,age,zip,sex,disease,note"]
    for i in range(rows):
        # a quoted field with a newline inside every 50th row: a shard is never cut inside it
        note = '"line one\nline two, with a comma"' if i % 50 == 0 else "ok"
        lines.append(f"{i},Person {i:05d},p{i:05d}@example.org,{rnd.randint(18, 79)},{rnd.choice(zips)},"
                     f"{rnd.choice('FM')},{rnd.choice(['flu', 'hiv', 'none', 'cold'])},{note}")
    if not ids:  # no direct identifiers for the CLI's detection to pick transforms for
        lines = [",".join(v for k, v in enumerate(line.split(",", 3)) if k not in (1, 2)) for line in lines]
    data = tmp_path / "people.csv"
    data.write_text("\n".join(lines) + "\n")
    age = tmp_path / "age.csv"
    age.write_text("\n".join(f"{a};{a // 5 * 5}-{a // 5 * 5 + 4};{a // 10 * 10}-{a // 10 * 10 + 9};*"
                             for a in range(18, 80)) + "\n")
    zh = tmp_path / "zip.csv"
    zh.write_text("\n".join(f"{z};{z[:3]}**;{z[:1]}****;*" for z in sorted(set(zips))) + "\n")
    sex = tmp_path / "sex.csv"
    sex.write_text("F;*\nM;*\n")
    return data, {"age": str(age), "zip": str(zh), "sex": str(sex)}


COLUMNS = {"name": {"role": "direct_identifier", "transform": "pseudonymise"},
           "email": {"role": "direct_identifier", "transform": "mask", "keep_first": 1, "keep_last": 4}}
KEYS = {"pseudonym": bytes(range(32))}


def _both(tmp_path, policy, shards=4, keep_order=True):
    """(local summary, cluster summary, local output bytes, cluster output bytes)."""
    from workbench_plugins.anonymise import distributed
    from workbench_plugins.anonymise.engine import anonymise_file

    from workbench.core import cluster

    policy.keep_order = keep_order
    local_out, ray_out = tmp_path / "local.csv", tmp_path / "ray.csv"
    data = str(tmp_path / "people.csv")
    local = anonymise_file(data, str(local_out), policy, dict(KEYS))
    with cluster.session("local"):
        remote = distributed.anonymise_on_cluster(data, str(ray_out), policy, dict(KEYS), shards=shards)
    return local, remote, local_out.read_bytes(), ray_out.read_bytes()


def test_cut_shards_at_record_ends(tmp_path):
    from workbench_plugins.anonymise import distributed

    data, _ = _data(tmp_path)
    raw = data.read_bytes()
    header, ranges = distributed.cut_shards(data, 7)
    assert header == raw[:raw.index(b"\n") + 1] and len(ranges) >= 5
    assert ranges[0][0] == len(header) and ranges[-1][1] == len(raw)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, nothing lost
    for start, stop, line in ranges:
        part = raw[start:stop]
        assert part.endswith(b"\n") and part.count(b'"') % 2 == 0  # never inside a quoted field
        assert raw[:start].count(b"\n") + 1 == line  # the first line's number, for error messages


@pytest.mark.parametrize("metric", ["loss", "discernibility"])
def test_k_anonymity_on_ray_equals_local(ray_cluster, tmp_path, metric):
    from workbench_plugins.anonymise.engine import Policy

    _, qi = _data(tmp_path)
    policy = Policy(columns=dict(COLUMNS), qi=qi, k=6, suppression=0.02, metric=metric)
    local, remote, lo, ro = _both(tmp_path, policy)
    assert local["levels"] != {q: 0 for q in qi}  # the data needed generalising: the test can fail
    for key in ("levels", "suppressed_rows", "rows_in", "rows_out", "formulas_neutralised", "transforms"):
        assert local[key] == remote[key], key
    assert remote["information_loss"] == pytest.approx(local["information_loss"], rel=1e-12)
    assert remote["p_reidentification"] == pytest.approx(local["p_reidentification"], rel=1e-12)
    assert remote["risk_before"]["classes"] == local["risk_before"]["classes"]
    assert remote["cluster"]["shards"] == 4 and remote["cluster"]["distinct_tuples"] < local["rows_in"]
    assert lo == ro  # the same bytes: same rows, same order, same pseudonyms and masks
    assert b"Person 00001" not in ro and b"p00001@example.org" not in ro


def test_l_diversity_and_t_closeness_on_ray_equal_local(ray_cluster, tmp_path):
    """The shards send the sensitive values with their QI tuples; the merged table gives the local optimum."""
    from workbench_plugins.anonymise.engine import Policy

    _, qi = _data(tmp_path)
    for models in ({"l_diversity": {"disease": "distinct:3"}}, {"l_diversity": {"disease": "entropy:2.5"}},
                   {"t_closeness": {"disease": "equal:0.15"}}):
        policy = Policy(columns=dict(COLUMNS), qi=qi, sensitive=["disease"], k=2, suppression=0.05, **models)
        local, remote, lo, ro = _both(tmp_path, policy, shards=3)
        assert local["levels"] != {q: 0 for q in qi}, models
        for key in ("levels", "suppressed_rows", "rows_out"):
            assert local[key] == remote[key], (models, key)
        assert remote["information_loss"] == pytest.approx(local["information_loss"], rel=1e-12)
        assert lo == ro, models


def test_auto_hierarchies_and_entropy_on_ray_equal_local(ray_cluster, tmp_path):
    """'auto' hierarchies are built on the driver from the merged distinct values."""
    from workbench_plugins.anonymise.engine import Policy

    _data(tmp_path)
    policy = Policy(columns=dict(COLUMNS), qi={"age": "auto", "zip": "auto"}, k=5, suppression=0.02,
                    metric="entropy")
    local, remote, lo, ro = _both(tmp_path, policy)
    assert local["levels"] != {"age": 0, "zip": 0}
    assert (local["levels"], local["suppressed_rows"]) == (remote["levels"], remote["suppressed_rows"])
    assert lo == ro
    assert local["hierarchies"]["age"]["example"] == remote["hierarchies"]["age"]["example"]


def test_shuffled_output_holds_the_same_rows(ray_cluster, tmp_path):
    """Without --keep-order the rows are shuffled across shards (buckets): the same rows as a local run's."""
    from workbench_plugins.anonymise.engine import Policy
    from workbench_plugins.anonymise.reader import read_table

    _, qi = _data(tmp_path)
    policy = Policy(columns=dict(COLUMNS), qi=qi, k=6, suppression=0.02)
    local, remote, lo, ro = _both(tmp_path, policy, keep_order=False)
    assert remote["cluster"]["tasks"] == 3 * 4
    assert lo != ro  # shuffled (1500 rows: the same order by chance is impossible)
    rows = [sorted(tuple(r.values()) for r in read_table(tmp_path / f).data.to_pylist())
            for f in ("local.csv", "ray.csv")]
    assert rows[0] == rows[1] and len(rows[0]) == local["rows_out"]
    order = [int(r["rid"]) for r in read_table(tmp_path / "ray.csv").data.to_pylist()]
    # the first quarter of the output holds rows of every quarter of the input: not shard after shard
    assert len({rid * 4 // 1500 for rid in order[:len(order) // 4]}) == 4


def test_leak_found_on_a_worker_blocks_the_output(ray_cluster, tmp_path):
    from workbench_plugins.anonymise import distributed
    from workbench_plugins.anonymise.engine import Policy
    from workbench_plugins.anonymise.errors import VerificationError

    from workbench.core import cluster

    data, qi = _data(tmp_path)
    # the email kept as is although it is a direct identifier: every row leaks
    policy = Policy(columns={"email": {"role": "direct_identifier", "transform": "keep"}}, qi=qi, k=6,
                    suppression=0.02, keep_order=True)
    with cluster.session("local"), pytest.raises(VerificationError, match="email"):
        distributed.anonymise_on_cluster(str(data), str(tmp_path / "out.csv"), policy, {}, shards=3)
    assert not (tmp_path / "out.csv").exists()


def test_refused_on_ray_with_the_reason(ray_cluster, tmp_path):
    from workbench_plugins.anonymise import distributed
    from workbench_plugins.anonymise.engine import Policy
    from workbench_plugins.anonymise.errors import AnonymiseError

    from workbench.core import cluster

    data, qi = _data(tmp_path)
    policy = Policy(columns={"name": {"transform": "surrogate"}}, qi=qi, k=2)
    with cluster.session("local"), pytest.raises(AnonymiseError, match="surrogate names keep one"):
        distributed.anonymise_on_cluster(str(data), str(tmp_path / "o.csv"), policy, {})


def test_keys_are_never_written_by_ray(ray_cluster, tmp_path):
    """The pseudonym key reaches the workers as a task argument: no file of the Ray session (logs,
    spilled objects) holds it."""
    import os

    import ray

    from workbench_plugins.anonymise.engine import Policy

    _, qi = _data(tmp_path)
    secret = os.urandom(32)
    KEYS["pseudonym"], saved = secret, KEYS["pseudonym"]
    try:
        _both(tmp_path, Policy(columns=dict(COLUMNS), qi=qi, k=6, suppression=0.02))
    finally:
        KEYS["pseudonym"] = saved
    session = ray._private.worker._global_node.get_session_dir_path()
    seen = 0
    for folder, _, files in os.walk(session):
        for f in files:
            path = os.path.join(folder, f)
            try:
                with open(path, "rb") as fh:
                    blob = fh.read(64 << 20)
            except OSError:
                continue
            seen += 1
            assert secret not in blob and secret.hex().encode() not in blob, path
    assert seen > 0


def test_anonymise_command_on_ray_equals_local(ray_cluster, tmp_path):
    import json

    from workbench.cli import main

    data, qi = _data(tmp_path, ids=False)
    common = ["anonymise", str(data), "--k", "6", "--suppression", "0.02", "--keep-order"]
    common += [f"--qi={col}={path}" for col, path in qi.items()]
    assert main([*common, "-o", str(tmp_path / "local.csv"), "--summary-json", str(tmp_path / "l.json")]) == 0
    tasks = ray_cluster.tasks_submitted
    assert main([*common, "-o", str(tmp_path / "ray.csv"), "--summary-json", str(tmp_path / "r.json"),
                 "--ray", "local"]) == 0
    assert ray_cluster.tasks_submitted - tasks == 2 * 4  # count and apply, 4 shards (2 per CPU)
    local, remote = json.loads((tmp_path / "l.json").read_text()), json.loads((tmp_path / "r.json").read_text())
    for key in ("levels", "suppressed_rows", "rows_out"):
        assert local[key] == remote[key], key
    for key in ("information_loss", "p_reidentification"):
        assert local[key] == pytest.approx(remote[key], rel=1e-12), key
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "ray.csv").read_bytes()


def test_worker_killed_mid_anonymise_same_output(ray_cluster, tmp_path):
    """A worker applying the generalisation to its shard is killed (SIGKILL): Ray reruns that task and
    the output still equals the local run's byte for byte."""
    from workbench_plugins.anonymise import distributed
    from workbench_plugins.anonymise.engine import Policy, anonymise_file

    from workbench.core import cluster

    data, qi = _data(tmp_path, rows=40000)
    policy = Policy(columns=dict(COLUMNS), qi=qi, k=6, suppression=0.02, keep_order=True)
    with cluster.session("local"), killing_first("ray::apply_task", every=0.01) as killed:
        remote = distributed.anonymise_on_cluster(str(data), str(tmp_path / "ray.csv"), policy, dict(KEYS), shards=4)
    assert killed, "no worker was seen applying a shard"
    local = anonymise_file(str(data), str(tmp_path / "local.csv"), policy, dict(KEYS))
    assert (local["rows_out"], local["levels"]) == (remote["rows_out"], remote["levels"])
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "ray.csv").read_bytes()


def test_bad_record_in_a_shard_names_the_file_and_line(ray_cluster, tmp_path):
    """A ragged record far into the file fails its worker's task; the error names the input and the
    record's own line, not the shard's."""
    from workbench_plugins.anonymise import distributed
    from workbench_plugins.anonymise.engine import Policy
    from workbench_plugins.anonymise.errors import InputError

    from workbench.core import cluster

    data, qi = _data(tmp_path)
    lines = data.read_text().split("\n")
    bad = next(i for i in range(1200, 1300) if '"' not in lines[i])  # a line that is a whole record
    lines[bad] += ",one,too,many"
    data.write_text("\n".join(lines))
    policy = Policy(columns=dict(COLUMNS), qi=qi, k=6, suppression=0.02, keep_order=True)
    with cluster.session("local"), pytest.raises(InputError) as err:
        distributed.anonymise_on_cluster(str(data), str(tmp_path / "out.csv"), policy, dict(KEYS), shards=4)
    assert f"people.csv, line {bad + 1}: the record has 11 fields" in str(err.value), str(err.value)
    assert not (tmp_path / "out.csv").exists()
