"""The demo's anonymisation on a machine with no keyring: unkeyed transforms, still assessed."""

from __future__ import annotations

import csv

import keyring
from keyring.backends import fail


def test_demo_job_without_a_keyring_redacts_keyed_columns_and_runs(tmp_path, monkeypatch, settings_dir):
    from workbench.core.demo import copy_samples
    from workbench.core.jobs import run_in_process
    from workbench.core.plugins import load_plugins
    from workbench.core.project import Project
    from workbench_plugins.anonymise import KEYED_TRANSFORMS

    previous = keyring.get_keyring()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    keyring.set_keyring(fail.Keyring())
    try:
        registry = load_plugins()
        plugin = registry.get("anonymise")
        samples = copy_samples(tmp_path)
        (spec,) = plugin.demo_jobs(samples)
        transforms = {c: s.get("transform") for c, s in spec.params["policy"]["columns"].items()}
        assert not set(transforms.values()) & set(KEYED_TRANSFORMS)
        assert transforms["full_name"] == "redact" and transforms["email"] == "redact"
        with Project.create(tmp_path / "d.wbproj", plugins=registry.plugins) as project:
            _, status, result = run_in_process(project, spec)
            assert status == "done", result
            assert plugin.score(project.store("anonymise")) is not None
        with open(samples / "people.csv", newline="") as fh:
            emails = [row["email"] for row in csv.DictReader(fh)]
        written = (samples / "people-anonymised.csv").read_text()
        assert emails and not any(e in written for e in emails)
    finally:
        keyring.set_keyring(previous)
