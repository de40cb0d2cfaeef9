"""The AI/ML rule pack: one positive and one negative example per rule."""

from __future__ import annotations

import pytest

from .conftest import EXAMPLES

PACK_IDS = [f"B9{n:02d}" for n in range(0, 12)]


def audit_one(path, **config):
    from workbench_plugins.code_audit import bandit_config, bandit_runner

    cfg = bandit_config.load_config(str(path.parent), **config)
    result = bandit_runner.audit_file(str(path), path.name, cfg)
    assert result.skipped is None, result.skipped
    return result, [i for i in bandit_runner.selected_issues(result, cfg)]


@pytest.mark.parametrize("rule_id", PACK_IDS)
def test_positive_example_fires(rule_id):
    _, issues = audit_one(EXAMPLES / f"{rule_id}_positive.py")
    assert rule_id in {i["test_id"] for i in issues}


@pytest.mark.parametrize("rule_id", PACK_IDS)
def test_negative_example_is_quiet(rule_id):
    _, issues = audit_one(EXAMPLES / f"{rule_id}_negative.py")
    assert rule_id not in {i["test_id"] for i in issues}


def test_every_positive_call_is_caught():
    # Several hazardous calls per positive file: each one is reported.
    _, issues = audit_one(EXAMPLES / "B901_positive.py")
    assert sorted(i["line"] for i in issues if i["test_id"] == "B901") == [8, 9, 10, 11]
    _, issues = audit_one(EXAMPLES / "B907_positive.py")
    assert sorted(i["line"] for i in issues if i["test_id"] == "B907") == [15, 21]


def test_rule_ids_are_not_bandits_own():
    from bandit.core import extension_loader
    from workbench_plugins.code_audit.rules.catalog import RULES

    extman = extension_loader.MANAGER
    ours = {r.id for r in RULES}
    builtin = {p.plugin._test_id for p in extman.plugins if not p.plugin.__module__.startswith("workbench")}
    assert not ours & (builtin | set(extman.blacklist_by_id))


def test_rules_have_cwe_and_safe_alternative():
    from workbench_plugins.code_audit.rules.catalog import RULES, entry_points

    for rule in RULES:
        assert rule.cwe > 0 and len(rule.help) > 20
    assert len(entry_points()) == len(RULES)


def test_pack_is_loadable_by_plain_bandit_api():
    """The decorated functions are real bandit plugins (ids, checks)."""
    import importlib

    from workbench_plugins.code_audit.rules.catalog import RULES

    for rule in RULES:
        fn = getattr(importlib.import_module(f"workbench_plugins.code_audit.rules.{rule.module}"), rule.name)
        assert fn._test_id == rule.id and fn._checks


def test_api_key_message_is_masked():
    _, issues = audit_one(EXAMPLES / "B908_positive.py")
    texts = " ".join(i["text"] for i in issues if i["test_id"] == "B908")
    assert "sk-ant-api03-FAKEdemo" not in texts and "sk-ant-****" in texts


def test_unknown_nosec_name_is_reported_and_known_one_is_not():
    _, issues = audit_one(EXAMPLES / "B900_positive.py")
    b900 = [i for i in issues if i["test_id"] == "B900"]
    assert len(b900) == 1 and "'alice'" in b900[0]["text"]
    # bandit treats the unknown names as a blanket nosec: B602 is suppressed.
    assert [i["suppressed"] for i in issues if i["test_id"] == "B602"] == [True]


def test_llm_taint_helper_follows_assignments():
    import ast

    from workbench_plugins.code_audit.rules.llm_exec import tainted_names

    func = ast.parse(
        "def f(c):\n"
        "    r = c.chat.completions.create(model='m', messages=[])\n"
        "    text = r.choices[0].message.content\n"
        "    cmd = 'sh -c ' + text\n"
        "    safe = len('abc')\n"
        "    for line in cmd.splitlines():\n"
        "        last = line\n"
    ).body[0]
    assert tainted_names(func, {}) == {"r", "text", "cmd", "line", "last"}


def test_keras_custom_objects_are_flagged_below_safe_mode_false():
    _, issues = audit_one(EXAMPLES / "B906_custom_objects.py")
    found = [(i["line"], i["severity"]) for i in issues if i["test_id"] == "B906"]
    assert found == [(8, "MEDIUM")]
    _, issues = audit_one(EXAMPLES / "B906_positive.py")
    assert [i["severity"] for i in issues if i["test_id"] == "B906"] == ["HIGH"]
