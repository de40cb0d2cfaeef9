"""``--summary-json`` of a command whose job was done but a later step failed (an export to a folder
that does not exist): the run is stored, so its summary is written before the error is reported."""

from __future__ import annotations

import argparse
import json

import pytest


def test_audit_with_an_unwritable_sarif_still_writes_its_summary(tmp_path, capsys):
    from workbench.cli import main
    from workbench.core.project import Project

    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("import subprocess\nsubprocess.call('ls', shell=True)\n", encoding="utf-8")
    summary, project = tmp_path / "summary.json", tmp_path / "p.wbproj"
    code = main(["audit", str(src), "-p", str(project), "--sarif", str(tmp_path / "no-such-folder" / "a.sarif"),
                 "--summary-json", str(summary)])
    assert code != 0 and "no-such-folder" in capsys.readouterr().err  # the export's error is still told
    written = json.loads(summary.read_text(encoding="utf-8"))
    with Project.open(project, readonly=True) as p:
        (run,) = p.store("code_audit").runs()
    assert run.status == "done" and written == run.summary and written["files"] == 1


def _command(tmp_path, jobs: int, fail: bool):
    from wb_core_testjobs import plugin  # tests/core, on the path (tests/conftest.py)

    from workbench.api import CliError, job_command, open_project, run_job
    from workbench.core.cli_kit import Commands

    parser = argparse.ArgumentParser(prog="workbench")
    cli = Commands(parser.add_subparsers(dest="command"))

    def run(args):
        with open_project(args.project, create=True) as project:
            for i in range(jobs):
                run_job(project, plugin.job_spec("write_batches", batches=1, size=i + 1, pause=0))
        if fail:
            raise CliError("the export failed")
        return 0, {"whole": True}

    job_command(cli, "thing", "run a job", run)
    out = tmp_path / "s.json"
    return parser.parse_args(["thing", "-p", str(tmp_path / "p.wbproj"), "--summary-json", str(out)]), out


def test_the_kit_writes_the_done_jobs_summary_when_the_command_then_fails(tmp_path):
    from workbench.api import CliError

    args, out = _command(tmp_path, jobs=1, fail=True)
    with pytest.raises(CliError, match="the export failed"):
        args.func(args)
    assert json.loads(out.read_text()) == {"batches": 1, "findings": 1}


def test_nothing_is_written_for_several_jobs_or_none(tmp_path):
    from workbench.api import CliError

    args, out = _command(tmp_path, jobs=2, fail=True)  # which of two summaries? neither
    with pytest.raises(CliError):
        args.func(args)
    assert not out.exists()
    args, out = _command(tmp_path, jobs=0, fail=True)
    with pytest.raises(CliError):
        args.func(args)
    assert not out.exists()
    args, out = _command(tmp_path, jobs=2, fail=False)  # what the command returns, as before
    assert args.func(args) == 0 and json.loads(out.read_text()) == {"whole": True}
