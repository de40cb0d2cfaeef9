"""The cheaper masking pass (literal pre-check, one AST walk per file, lines split once) gives
exactly what the plain computation gives."""

from __future__ import annotations

import ast
import random
import sysconfig
from pathlib import Path

from workbench_plugins.code_audit import masking

TOKENS = ["ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", "github_pat_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3",
          "glpat-" + "Xy12Zw34Vu56Ts78Rq90", "sk-ant-" + "api03-" + "Q" * 30, "sk-proj-" + "Ab3De5Fg7Hi9Jk1Lm3No5",
          "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "hf_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xYz",
          "AKIA" + "ZDEMOFAKE7EXAMPL", "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "xoxb-" + "1234567890-abcdef",
          "npm_" + "A" * 36, "r8_" + "B" * 37, "gsk_" + "C" * 48, "pplx-" + "D" * 40, "xai-" + "E" * 60,
          "wandb_v1_" + "F" * 40]


def _plain_token_values(text: str) -> set[str]:
    return {m.group(0) for _, rx in masking.TOKEN_SHAPES for m in rx.finditer(text)}


def test_every_token_shape_has_a_literal_it_always_contains():
    assert set(masking._TOKEN_LITERALS) == {name for name, _ in masking.TOKEN_SHAPES}
    for token in TOKENS:
        names = [name for name, rx in masking.TOKEN_SHAPES if rx.search(token)]
        assert names, token
        for name in names:
            assert any(lit in token for lit in masking._TOKEN_LITERALS[name]), (name, token)


def test_token_values_equal_plain_search():
    rng = random.Random(7)
    texts = [f'x = "{t}"  # {rng.choice(TOKENS)[:10]}\ny = {t!r}' for t in TOKENS]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(stdlib.glob("*.py"))[:60]]
    for text in texts:
        assert masking.token_values(text) == _plain_token_values(text)
    assert all(masking.token_values(f"k = '{t}'") for t in TOKENS)


SOURCE = '''
password = "Zq8#rT001xLm2!vB9"
DB = {"password": "s3cr3t-one", "user": "app"}
def connect(user, passwd="dflt-pass-é", *, token="tok-\\u00e9-2"):
    if passwd == "literal-cmp":
        pass
    call(password="kw-pass", other="x")
    cfg["pwd"] = (
        "multi"
        "line-pass"
    )
    secret = """triple
quoted"""
'''


def test_one_walk_per_file_equals_a_walk_per_range():
    tree = ast.parse(SOURCE)
    lines = SOURCE.count("\n") + 1
    for first in range(1, lines + 1):
        for last in range(first, min(first + 4, lines + 1)):
            fresh = ast.parse(SOURCE)  # not walked before: computed from scratch
            expect = [(c.lineno, c.col_offset, c.value) for c in masking.password_literals(fresh, first, last)]
            got = [(c.lineno, c.col_offset, c.value) for c in masking.password_literals(tree, first, last)]
            assert got == expect
    every = masking.password_literals(ast.parse(SOURCE), 1, lines)
    assert {c.value for c in every} >= {"Zq8#rT001xLm2!vB9", "s3cr3t-one", "dflt-pass-é", "literal-cmp", "kw-pass"}


def test_segments_equal_get_source_segment():
    tree = ast.parse(SOURCE)
    segment = masking._segments(SOURCE)
    nodes = [n for n in ast.walk(tree) if hasattr(n, "lineno")]
    assert len(nodes) > 20
    for node in nodes:
        assert segment(node) == ast.get_source_segment(SOURCE, node)
