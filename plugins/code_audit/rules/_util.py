"""Small AST helpers shared by the rules."""

from __future__ import annotations

import ast


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def is_literal(node: ast.expr | None) -> bool:
    """A path written in the source (str/bytes constant) is a reviewed one."""
    return isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))


def first_arg(call: ast.Call, *names: str) -> ast.expr | None:
    """The first positional argument, or the first of the keywords ``names``."""
    if call.args:
        return call.args[0]
    for name in names:
        value = keyword(call, name)
        if value is not None:
            return value
    return None


def string_value(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
