"""One skeleton for every plugin (params, engine, store, score, report, cli, tab), the SDK's
``job_command`` and ``Plugin.method``."""

from __future__ import annotations

import argparse
import importlib
import json
import unicodedata

import pytest

from workbench.core.plugins import load_plugins

BUILT_INS = ("anonymise", "code_audit", "monitor", "robustness", "testing")
SKELETON = ("params", "engine", "store", "score", "report", "cli", "tab")


@pytest.mark.parametrize("plugin_id", BUILT_INS)
def test_each_builtin_plugin_has_the_skeleton(plugin_id):
    package = f"workbench_plugins.{plugin_id}"
    for role in SKELETON:
        importlib.import_module(f"{package}.{role}")  # raises if the module is missing
    plugin = load_plugins().get(plugin_id)
    # the plugin object points each role at its module: jobs into engine, params from params, ...
    for name, jobdef in plugin.jobs.items():
        module, _, _ = jobdef.function.partition(":")
        assert module.startswith(package) and module.endswith(".engine"), (name, jobdef.function)
        assert jobdef.params.__module__.endswith(".params"), (name, jobdef.params)
    assert plugin.commands == f"{package}.cli:add_cli"
    assert plugin.report.startswith(f"{package}.report:")
    # the pillar scorer lives in score.py beside its formula, defined there (not imported from report.py)
    module, _, name = plugin.scorer.partition(":")
    assert module == f"{package}.score", plugin.scorer
    assert getattr(importlib.import_module(module), name).__module__ == module, plugin.scorer
    assert plugin.tab.startswith(f"{package}.tab:")
    assert plugin.method.strip(), "the report's Method section needs the plugin's own words"
    for old in ("job", "jobs"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"{package}.{old}")


def _commands():
    from workbench.core.cli_kit import Commands

    parser = argparse.ArgumentParser(prog="workbench")
    return parser, Commands(parser.add_subparsers(dest="command"))


def test_job_command_declares_project_and_writes_the_returned_summary(tmp_path):
    from workbench.api import job_command

    parser, cli = _commands()
    seen = []

    def run(args):
        seen.append(args.project)
        return (3 if args.gate else 0), {"files": 2, "gate": args.gate}

    p = job_command(cli, "thing", "do a thing", run)
    p.add_argument("--gate", action="store_true")
    out = tmp_path / "s.json"
    args = parser.parse_args(["thing", "-p", "x.wbproj", "--gate", "--summary-json", str(out)])
    assert args.func(args) == 3  # a gate's exit code still comes with its summary
    assert json.loads(out.read_text()) == {"files": 2, "gate": True} and seen == ["x.wbproj"]
    with pytest.raises(SystemExit):  # -p is required unless the command says what it does without one
        parser.parse_args(["thing"])
    help_text = p.format_help()
    assert "-p PROJECT, --project PROJECT" in help_text and "created if it does not exist" in help_text
    assert "--summary-json FILE" in help_text


def test_job_command_with_an_optional_project_and_a_plain_exit_code(tmp_path):
    from workbench.api import job_command

    parser, cli = _commands()
    p = job_command(cli, "maybe", "maybe a project", lambda args: 0, without_project="nothing is recorded")
    out = tmp_path / "s.json"
    args = parser.parse_args(["maybe", "--summary-json", str(out)])
    assert args.project is None and args.func(args) == 0
    assert not out.exists()  # no summary returned, none written
    assert "without it, nothing is recorded" in " ".join(p.format_help().split())


def _kit_project_action(**how):
    from workbench.core.cli_kit import project_argument

    scratch = argparse.ArgumentParser()
    project_argument(scratch, **how)
    return next(a for a in scratch._actions if "--project" in a.option_strings)


def test_every_plugin_command_declares_project_through_the_kit():
    """The same -p everywhere: each plugin command that takes -p got it from the SDK, none by hand."""
    import ast
    from pathlib import Path

    from workbench.cli import build_parser
    from workbench.core.cli_kit import PROJECT_HELP

    parser = build_parser(load_plugins())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions = {}
    for name, command in sub.choices.items():
        for action in command._actions:
            if "--project" in action.option_strings:
                actions[name] = action
    for name in ("audit", "deps", "monitor", "robustness", "harden", "test", "test-import", "fuzz", "probe", "load",
                 "anonymise", "detokenise", "anonymise-decrypt", "anonymise-revoke", "anonymise-rotate-key"):
        action, text = actions[name], actions[name].help
        # what project_argument builds for this command's own words (a hand-written -p has no metavar)
        create = "; created if it does not exist" in text
        rest = text[len(PROJECT_HELP) + (len("; created if it does not exist") if create else 0):]
        about, _, without = rest.removeprefix("; ").partition("without it, ")
        about = about.removesuffix("; ") or None
        kit = _kit_project_action(create=create, about=about, without=without or None)
        assert (text, action.metavar, action.required, action.option_strings) == (
            kit.help, kit.metavar, kit.required, kit.option_strings), name
    # and no plugin declares -p itself
    root = Path(__file__).resolve().parents[2]
    by_hand = []
    for source in [*root.glob("plugins/**/*.py"), *root.glob("docs/example_plugin/**/*.py")]:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
                    and any(isinstance(a, ast.Constant) and a.value in ("-p", "--project") for a in node.args)):
                by_hand.append(f"{source.relative_to(root)}:{node.lineno}")
    assert by_hand == []


def test_a_third_party_plugins_method_is_in_the_pdf_report(example_site, tmp_path):
    from report.test_report_content import pdf_text

    from workbench.cli import main
    from workbench.core.project import Project
    from workbench.core.report import GENERIC_METHOD

    plugin = load_plugins().get("example")
    assert plugin.method and plugin.method != GENERIC_METHOD
    with Project.create(tmp_path / "p.wbproj", plugins=load_plugins().plugins):
        pass
    out = tmp_path / "r.pdf"
    assert main(["report", str(tmp_path / "p.wbproj"), "-o", str(out), "--template", "executive"]) == 0
    # NFKC: the PDF's text has the ligatures of its font (ﬁ for fi); spaces dropped: a table cell
    # wraps its text at any space or hyphen
    text = unicodedata.normalize("NFKC", pdf_text(out))
    method = "".join(text.split("Method Each pillar", 1)[1].split("Appendix", 1)[0].split())
    assert "".join(plugin.method.split()) in method
    # and every built-in pillar in its own words, beside its title
    for pid in BUILT_INS:
        builtin = load_plugins().get(pid)
        assert "".join(f"{builtin.title} {builtin.method}".split()) in method, pid


def test_a_plugin_without_method_gets_the_generic_line():
    from workbench.core.plugins import Plugin
    from workbench.core.report import GENERIC_METHOD, PillarScore, method_section

    class Bare(Plugin):
        id, title = "bare", "Bare"

    class Said(Plugin):
        id, title, method = "said", "Said", "Counted the widgets."

    scores = [PillarScore("bare", "Bare", None, 1.0), PillarScore("said", "Said", 80.0, 1.0)]
    table = next(b for b in method_section(scores, [Bare(), Said()]).blocks if hasattr(b, "rows"))
    assert [row[1] for row in table.rows] == [GENERIC_METHOD, "Counted the widgets."]


def test_a_method_that_is_not_text_is_refused_when_the_plugin_loads():
    from workbench.core.plugins import Plugin, check_plugin

    class Listed(Plugin):
        id, title, version, method = "listed", "Listed", "1", ["counted", "widgets"]

    with pytest.raises(TypeError, match="plugin 'listed': method must be a str"):
        check_plugin(Listed())
    Listed.method = "Counted the widgets."
    check_plugin(Listed())
