"""score.group_of matches the groups' path patterns without compiling a regular expression for
those made of text and ``*``: it must agree with fnmatch on every name and pattern."""

from __future__ import annotations

import random
from fnmatch import fnmatch

from workbench_plugins.testing.score import DEFAULT_GROUPS, _matches, group_of


def test_matches_agrees_with_fnmatch():
    rng = random.Random(3)
    alphabet = "ab/_.*x\n"
    patterns = [p for g in DEFAULT_GROUPS.values() for p in g["paths"]] + [
        "", "*", "**", "a*", "*a", "a*a", "*a*a*", "ab*ba", "a**b", "*/*", "a?b", "[ab]*", "*[!a]"]
    patterns += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(300)]
    names = ["", "a", "aa", "aba", "tests/test_sec_x.py", "test_sec_", "fuzz", "x/security/y", "perf_load_test",
             "tests/test_x.py::test_security", "a\nb"]
    names += ["".join(rng.choice(alphabet.replace("*", "")) for _ in range(rng.randint(0, 9))) for _ in range(300)]
    for pattern in patterns:
        for name in names:
            assert _matches(name, pattern) == fnmatch(name, pattern), (name, pattern)


def test_group_of_by_path_and_marker():
    assert group_of({"file": "tests/test_sec_login.py", "id": "t"}) == "security"
    assert group_of({"file": "tests/a.py", "id": "tests/a.py::test_load_test_x"}) == "performance"
    assert group_of({"file": "tests/a.py", "id": "tests/a.py::test_a", "markers": ["fuzz"]}) == "security"
    assert group_of({"file": "tests/a.py", "id": "tests/a.py::test_a"}) == "functional"
