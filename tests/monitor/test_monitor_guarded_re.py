"""Log rules without google-re2: Python's re under a deadline, so a catastrophic pattern cannot stall."""

from __future__ import annotations

import sys

import pytest

RULES = """\
version: 1
rules:
  - id: evil
    pattern: '^(a+)+$'
  - id: oom
    pattern: 'CUDA out of memory'
    key: 'client=(?P<key>\\S+)'
"""


@pytest.fixture
def no_re2(monkeypatch):
    monkeypatch.setitem(sys.modules, "re2", None)   # "import re2" now raises ImportError
    yield
    from workbench_plugins.monitor import guarded_re

    guarded_re.shutdown()


@pytest.mark.timeout(60)
def test_catastrophic_pattern_is_given_up_and_matching_goes_on(no_re2):
    from workbench_plugins.monitor.guarded_re import GuardedPattern
    from workbench_plugins.monitor.logrules import parse_rules

    rules = parse_rules(RULES, "svc.yaml")
    evil = rules.rules[0]
    assert isinstance(evil._rx, GuardedPattern)           # the fallback, not RE2
    # 2**40 ways to split the a's before the final "!" fails: unguarded, this never returns
    hostile = "a" * 40 + "!"
    hits, alerts = rules.feed(1.0, "svc.log", 0, hostile)
    assert [h.rule for h in hits] == []
    msgs = rules.timeouts()
    assert len(msgs) == 1 and "svc.yaml" in msgs[0] and "evil" in msgs[0] and "41 characters" in msgs[0]
    assert rules.timeouts() == []                          # reported once
    # the helper was replaced: the next lines match as usual, keys included
    hits, alerts = rules.feed(2.0, "svc.log", 42, "aaaa")
    assert [h.rule for h in hits] == ["evil"]
    hits, alerts = rules.feed(3.0, "svc.log", 47, "client=10.0.0.7 CUDA out of memory")
    assert [(h.rule, h.key) for h in hits] == [("oom", "10.0.0.7")] and len(alerts) == 1
    assert evil._rx.timeouts == 1


def test_invalid_utf8_and_long_lines_pass_the_fallback(no_re2):
    from workbench_plugins.monitor.logrules import parse_rules

    rules = parse_rules(RULES, "svc.yaml")
    line = b"client=x \xff\xfe CUDA out of memory".decode("utf-8", "surrogateescape")
    hits, _ = rules.feed(1.0, "svc.log", 0, line)
    assert [h.rule for h in hits] == ["oom"]
    # cut to max_chars before matching: a match beyond the cut is not seen, and nothing stalls
    hits, _ = rules.feed(2.0, "svc.log", 0, "x" * 100_000 + " CUDA out of memory")
    assert hits == []


def test_a_bad_pattern_names_the_file_without_re2(no_re2):
    from workbench_plugins.monitor.logrules import LogRuleError, parse_rules

    with pytest.raises(LogRuleError, match=r"bad\.yaml.*not a valid regular expression"):
        parse_rules("version: 1\nrules:\n  - id: x\n    pattern: '(unclosed'\n", "bad.yaml")
