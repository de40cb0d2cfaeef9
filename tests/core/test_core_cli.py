"""The command line: help, exit codes, new + info."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from wb_core_helpers import run_cli
from workbench import cli
from workbench.core.project import SCHEMA_VERSION, Project

CORE_COMMANDS = ["gui", "new", "info", "plugins", "report", "demo", "secret"]


def test_top_level_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in CORE_COMMANDS:
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    from workbench import __version__

    assert __version__ in result.stdout


def _subcommands() -> list[str]:
    parser = cli.build_parser(cli._registry())
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_every_core_command_is_registered():
    assert set(CORE_COMMANDS) <= set(_subcommands())


@pytest.mark.parametrize("command", _subcommands())
def test_each_subcommand_help_exits_0(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: workbench " + command)


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "workbench"
    assert script.exists()


def test_new_then_info_json(tmp_path):
    result = run_cli("new", tmp_path / "engagement", "--name", "Engagement Y")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "engagement.wbproj"  # the suffix is added
    assert path.is_file()
    assert str(path) in result.stdout
    info = run_cli("info", path, "--json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["name"] == "Engagement Y"
    assert data["schema"] == SCHEMA_VERSION == 2
    assert data["counts"]["events"] == 1 and data["counts"]["runs"] == 0
    assert len(data["state_sha256"]) == 64
    with Project.open(path, readonly=True) as project:
        assert data["project_id"] == project.project_id
        assert data["state_sha256"] == project.state_sha256()
        assert data["project_id"] in result.stdout


def test_info_text(tmp_path):
    path = tmp_path / "p.wbproj"
    with Project.create(path, name="Texty") as project:
        run_id = project.create_run("testplugin", "scan", {}, title="a scan")
        project.finish_run(run_id, "done")
    result = run_cli("info", path)
    assert result.returncode == 0, result.stderr
    assert "Texty" in result.stdout and "a scan" in result.stdout and "done" in result.stdout


def test_new_refuses_an_existing_file(tmp_path):
    path = tmp_path / "p.wbproj"
    path.write_text("mine")
    result = run_cli("new", path)
    assert result.returncode == 1
    assert str(path) in result.stderr and "already exists" in result.stderr
    assert path.read_text() == "mine"


def test_unknown_command_exits_2():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_bad_option_exits_2(tmp_path):
    assert run_cli("info", tmp_path / "x.wbproj", "--no-such-option").returncode == 2


def test_secret_without_name_exits_2(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path).close()
    result = run_cli("secret", "get", path)
    assert result.returncode == 2
    assert "needs a NAME" in result.stderr
