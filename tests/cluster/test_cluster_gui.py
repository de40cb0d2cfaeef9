"""Settings → Cluster reaches the window's jobs: an audit started from the window runs its chunks on a
real local Ray instance (two CPUs), finds what a local run finds, and the jobs dock lists the node."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra"),
              pytest.mark.enable_socket]

_VOLATILE = {"id", "run_id", "created", "created_at", "time", "triage_status", "triage_by", "triage_at"}


def _findings(project_path) -> list[str]:
    from workbench.core.project import Project

    with Project.open(project_path) as project:
        rows = project.findings(plugin="code_audit")
    out = []
    for r in rows:
        r = {k: v for k, v in dict(r).items() if k not in _VOLATILE}
        (r.get("evidence") or {}).pop("secret_hmac", None)  # keyed per project, by design
        if "masked" in (r.get("evidence") or {}):
            r.pop("fingerprint")  # a secret's fingerprint is keyed per project as well
        out.append(json.dumps(r, sort_keys=True, default=str))
    return sorted(out)


def _tree(root):
    from workbench_plugins.code_audit import engine

    engine.prepare_demo(str(root))
    for i in range(6):  # several files: more than one chunk travels
        (root / f"extra{i}.py").write_text("import pickle, subprocess\n\n"
                                           f"def f(d):\n    subprocess.call('run{i} ' + d, shell=True)\n"
                                           f"    return pickle.loads(d)\n")
    return root


def test_window_audit_runs_on_the_cluster_setting(ray_cluster, window, tmp_path, qtbot):
    import ray

    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import JobSpec
    from workbench.core.project import Project
    from workbench.gui.cluster_dialog import SETTING
    from workbench.gui.jobs_dock import JobRow

    tree = _tree(tmp_path / "tree")
    spec = JobSpec("code_audit", "audit", {"target": str(tree)}, title="audit", target=str(tree))
    with Project.create(tmp_path / "local.wbproj", plugins=window.registry.plugins) as local:
        assert run_in_process(local, spec, registry=window.registry)[1] == "done"

    address = ray.get_runtime_context().gcs_address  # the fixture's instance, as a remote one is reached
    window.settings.setValue(SETTING, address)
    assert window.new_project(tmp_path / "gui.wbproj")
    seen: list[str] = []  # what the dock showed about the cluster while the job ran

    def look(job) -> None:
        for row in window.jobs_widget.findChildren(JobRow):
            if row.job is job and row.nodes.isVisibleTo(row):
                seen.append(row.nodes.text())
                if os.environ.get("WB_SHOTS") and len(seen) == 1:
                    window.jobs_dock.grab().save(os.path.join(os.environ["WB_SHOTS"], "jobs_dock_cluster.png"))

    window.jobs.updated.connect(look)
    job = window.start_job(spec)
    assert job.cluster_address == address
    qtbot.waitUntil(lambda: job.finished, timeout=180_000)
    look(job)
    assert job.status == "done", job.result
    assert job.cluster and job.cluster["address"] == address
    assert job.cluster["tasks"] >= 1  # the chunks went to the cluster
    assert [(n["address"], n["cpus"], n["gpus"]) for n in job.cluster["nodes"]] == [("127.0.0.1", 2, 0)]
    assert seen and "127.0.0.1 (2 CPUs, 0 GPUs)" in seen[-1] and address in seen[-1]
    window.close_project()
    a, b = _findings(tmp_path / "local.wbproj"), _findings(tmp_path / "gui.wbproj")
    assert len(a) >= 5 and a == b


def test_window_anonymise_runs_on_the_cluster_setting(ray_cluster, window, tmp_path, qtbot):
    """Anonymisation started from the window with the Cluster setting: the workers count and render the
    shards (the job reports tasks sent to the cluster) and the output equals a local run's."""
    import random

    import ray

    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import JobSpec
    from workbench.core.project import Project
    from workbench.gui.cluster_dialog import SETTING

    rnd = random.Random(3)
    zips = [f"{rnd.randint(10, 99)}{rnd.randint(100, 999)}" for _ in range(30)]
    rows = ["age,zip,sex,disease"] + [f"{rnd.randint(18, 79)},{rnd.choice(zips)},{rnd.choice('FM')},"
                                      f"{rnd.choice(['flu', 'none', 'cold'])}" for _ in range(600)]
    data = tmp_path / "people.csv"
    data.write_text("\n".join(rows) + "\n")
    (tmp_path / "age.csv").write_text("\n".join(f"{a};{a // 10 * 10}-{a // 10 * 10 + 9};*"
                                                for a in range(18, 80)) + "\n")
    (tmp_path / "zip.csv").write_text("\n".join(f"{z};{z[:2]}***;*" for z in sorted(set(zips))) + "\n")
    (tmp_path / "sex.csv").write_text("F;*\nM;*\n")
    policy = {"qi": {c: str(tmp_path / f"{c}.csv") for c in ("age", "zip", "sex")}, "k": 5,
              "suppression": 0.04, "keep_order": True}

    def spec(out):
        return JobSpec("anonymise", "anonymise", {"target": str(data), "output": str(out), "policy": policy},
                       title="anonymise", target=str(data))

    with Project.create(tmp_path / "local.wbproj", plugins=window.registry.plugins) as local:
        _, status, summary = run_in_process(local, spec(tmp_path / "local-out.csv"), registry=window.registry)
        assert status == "done", summary

    window.settings.setValue(SETTING, ray.get_runtime_context().gcs_address)
    assert window.new_project(tmp_path / "gui.wbproj")
    job = window.start_job(spec(tmp_path / "gui-out.csv"))
    qtbot.waitUntil(lambda: job.finished, timeout=180_000)
    assert job.status == "done", job.result
    assert job.cluster and job.cluster["tasks"] >= 1 and job.cluster["nodes"][0]["cpus"] == 2
    for key in ("levels", "suppressed_rows", "information_loss"):
        assert job.result[key] == summary[key], key
    assert (tmp_path / "gui-out.csv").read_bytes() == (tmp_path / "local-out.csv").read_bytes()


def test_without_a_cluster_setting_a_window_job_never_imports_ray(tmp_path):
    """A window job's worker with no Cluster setting runs locally, and Ray stays out of it (the
    worker's main function run here in a fresh interpreter, to look at its modules afterwards)."""
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project

    path = tmp_path / "p.wbproj"
    Project.create(path, plugins=load_plugins().plugins).close()
    target = tmp_path / "t"
    target.mkdir()
    (target / "a.py").write_text("import pickle\npickle.loads(b'')\n")
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import os, queue, sys, threading
        from workbench.core import jobs
        from workbench.core.plugins import JobSpec
        from workbench.core.project import Project

        spec = JobSpec("code_audit", "audit", {{"target": {str(target)!r}}}, target={str(target)!r})
        with Project.open({str(path)!r}) as p:
            run_id = p.create_run(spec.plugin, spec.job, spec.params, target=spec.target)
        q = queue.Queue()
        jobs._worker_main({str(path)!r}, run_id, spec, q, threading.Event(), os.getppid(), cluster_address=None)
        kinds = [m[0] for m in list(q.queue)]
        print("LAST", kinds[-1], "cluster" in kinds)
        print("RAY", "ray" in sys.modules, "workbench.core.cluster" in sys.modules)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert "LAST done False" in out.stdout, out.stdout + out.stderr
    assert "RAY False False" in out.stdout, out.stdout
