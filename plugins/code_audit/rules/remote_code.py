"""Rules B903 and B904: code fetched from a hub (or a directory) and run.

B903 looks for ``trust_remote_code=True`` written as:

- a keyword of any call (``from_pretrained``, ``pipeline``, ``load_dataset``,
  ``LLM``, and ``dict(...)``, which builds keyword arguments);
- an entry of a dict literal (``{"trust_remote_code": True}``), wherever the
  literal is used: unpacked with ``**`` into a loader, or passed as
  ``model_kwargs=``; the finding is on the literal's line;
- an item assignment ``kwargs["trust_remote_code"] = True``.

Severity follows pinning. The code is pinned when ``revision=`` (or
``code_revision=``, for modelling code kept in another repository) is a full
40-hex commit hash, written inline or through a name, in
the same call, the same mapping, or a call that unpacks the mapping with
``**name`` in the same scope (a name counts when it is bound once, in the
function or else at module level, to a string). Pinned: LOW (the commit's code still runs, but
it cannot change under you). Not pinned, including a branch, tag, short hash
or a value computed at run time: HIGH.
"""

from __future__ import annotations

import ast
import re

import bandit
from bandit.core import test_properties as test

from ._util import (argparse_defaults, assigned_values, enclosing_scope, is_literal, is_true, keyword,
                    module_of, parameter_default, parent, string_value)
from .catalog import RULES_BY_ID

_KEY = "trust_remote_code"
_REVISION_KEYS = ("code_revision", "revision")
_COMMIT = re.compile(r"[0-9a-fA-F]{40}")


def _issue(rule_id: str, severity, confidence, detail: str):
    info = RULES_BY_ID[rule_id]
    return bandit.Issue(severity=severity, confidence=confidence,
                        cwe=info.cwe, text=f"{detail}. {info.help}")


# --------------------------------------------------------------------------
# B903


def _literal_of(value, scope) -> str | None:
    """The string ``value`` is: a literal, or a name bound once (in its function, else
    at module level) to one."""
    text = string_value(value)
    if text is None and isinstance(value, ast.Name):
        bound = assigned_values(scope, value.id)
        text = string_value(bound[0]) if len(bound) == 1 else None
    return text


def _commit_of(value, scope) -> str | None:
    """The commit hash ``value`` pins to, when it is a full 40-hex one."""
    text = _literal_of(value, scope)
    return text if text is not None and _COMMIT.fullmatch(text) else None


def _dict_entry(mapping: ast.Dict, key: str) -> ast.expr | None:
    for k, v in zip(mapping.keys, mapping.values):
        if k is not None and string_value(k) == key:
            return v
    return None


def _revision_values(node) -> list[ast.expr]:
    """revision=/code_revision= values written in a call's keywords or a dict literal."""
    out = []
    for key in _REVISION_KEYS:
        value = _dict_entry(node, key) if isinstance(node, ast.Dict) else keyword(node, key)
        if value is not None:
            out.append(value)
    return out


def _bound_name(node) -> str | None:
    """``x`` when ``node`` is the whole value of ``x = node``."""
    up = parent(node)
    if isinstance(up, ast.Assign) and up.value is node and len(up.targets) == 1:
        target = up.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if isinstance(up, ast.AnnAssign) and up.value is node and isinstance(up.target, ast.Name):
        return up.target.id
    return None


def _unpacking_calls(scope, name: str) -> list[ast.Call]:
    """Calls in ``scope`` that pass ``**name`` on."""
    return [n for n in ast.walk(scope) if isinstance(n, ast.Call)
            and any(kw.arg is None and isinstance(kw.value, ast.Name) and kw.value.id == name
                    for kw in n.keywords)]


def _subscript_revisions(scope, name: str) -> list[ast.expr]:
    """Values of ``name["revision"] = ...`` in ``scope``."""
    out = []
    for n in ast.walk(scope):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name
                        and string_value(t.slice) in _REVISION_KEYS):
                    out.append(n.value)
    return out


def _call_label(call: ast.Call) -> str:
    try:
        return ast.unparse(call.func)
    except Exception:  # pragma: no cover - unparse handles every expression node
        return "call"


def _mapping_context(node, name: str | None, scope) -> tuple[str, list[ast.expr]]:
    """(how the mapping is used, revision values found where it is used)."""
    revisions: list[ast.expr] = []
    up = parent(node)
    if isinstance(up, ast.keyword) and isinstance(parent(up), ast.Call):
        call = parent(up)
        revisions += _revision_values(call)
        how = (f"passed with ** to {_call_label(call)}()" if up.arg is None
               else f"passed as {up.arg}= to {_call_label(call)}()")
        return how, revisions
    if name is None:
        return "", revisions
    revisions += _subscript_revisions(scope, name)
    calls = _unpacking_calls(scope, name)
    for call in calls:
        revisions += _revision_values(call)
    if calls:
        return f"passed on with **{name} to {_call_label(calls[0])}()", revisions
    return f"in {name}", revisions


def _b903_issue(where: str, revisions: list[ast.expr], scope):
    pins = [c for c in (_commit_of(v, scope) for v in revisions) if c]
    if pins:
        return _issue("B903", bandit.LOW, bandit.HIGH,
                      f"{where} runs Python code from the model hub, pinned to commit "
                      f"{pins[0][:12]}: that commit's code runs (review it once; pin code_revision= "
                      "too if the code lives in another repository)")
    why = "no revision= pins it to a commit"
    if revisions:
        shown = ast.unparse(revisions[0])
        known = _literal_of(revisions[0], scope)
        if known is not None and not is_literal(revisions[0]):
            shown = f"{shown} ({known!r})"
        why = (f"revision={shown} is not a full 40-hex commit hash" if known is not None
               else f"revision={shown} is decided at run time, not a literal commit hash")
    return _issue("B903", bandit.HIGH, bandit.HIGH,
                  f"{where} executes Python code downloaded from the model hub; {why}")


def _true_by_default(value, scope, module) -> str | None:
    """How a non-literal ``trust_remote_code=`` value is True unless a caller says otherwise: a
    parameter defaulting to True (``def load(name, trust_remote_code=True)``), a name bound to
    True, or a command-line option whose default is True."""
    if isinstance(value, ast.Name):
        is_param, default = parameter_default(scope, value.id)
        if is_param:
            return (f"{value.id} is a parameter of {scope.name}() that defaults to True"
                    if is_true(default) else None)
        if any(is_true(v) for v in assigned_values(scope, value.id)):
            return f"{value.id} is set to True"
        return None
    if isinstance(value, ast.Attribute):
        if any(is_true(v) for v in argparse_defaults(module, value.attr)) or _store_false_option(module, value.attr):
            return f"{ast.unparse(value)} is a command-line option that defaults to True"
    return None


def _store_false_option(module, dest: str) -> bool:
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument" \
                and string_value(keyword(node, "action")) == "store_false" and keyword(node, "default") is None:
            names = {(string_value(a) or "").lstrip("-").replace("-", "_") for a in node.args}
            if dest in names | {string_value(keyword(node, "dest"))}:
                return True
    return False


_KEY_LOOKUPS = (ast.In, ast.NotIn)


def _only_lists_keys(mapping: ast.Dict, name: str | None, scope) -> bool:
    """A dict of option names to True that is only asked which keys it has (``if k in ALLOWED``,
    ``ALLOWED.get(k)``, ``for k in ALLOWED``): a list of allowed keyword names, not keyword
    arguments that are passed to a loader."""
    if name is None or len(mapping.keys) < 2 or not all(is_true(v) for v in mapping.values):
        return False
    module = module_of(mapping)
    parents = getattr(module, "_wb_parents", None)
    if parents is None:
        parents = {c: p for p in ast.walk(module) for c in ast.iter_child_nodes(p)}
        module._wb_parents = parents
    uses = [n for n in ast.walk(module) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
    if not uses:
        return False
    for use in uses:
        up = parents.get(use)
        if isinstance(up, ast.Compare) and use in up.comparators and all(isinstance(o, _KEY_LOOKUPS) for o in up.ops):
            continue
        if isinstance(up, (ast.For, ast.comprehension)) and up.iter is use:
            continue
        if isinstance(up, ast.Attribute) and up.attr in ("keys", "get", "__contains__"):
            call = parents.get(up)
            if isinstance(call, ast.Call) and all(not is_literal(a) or a is None for a in call.args[:1]):
                continue
        if isinstance(up, ast.Call) and isinstance(up.func, ast.Name) \
                and up.func.id in ("set", "frozenset", "sorted", "list"):
            continue
        return False
    return True


@test.checks("Call", "Dict", "Assign")
@test.test_id("B903")
def trust_remote_code(context):
    node = context.node
    if isinstance(node, ast.Call):
        # Any call: from_pretrained, pipeline, load_dataset, AutoConfig, dict(...)...
        # all share the keyword and the hazard.
        value = keyword(node, _KEY)
        scope = enclosing_scope(node)
        name = context.call_function_name_qual or "call"
        if not is_true(value):
            default = _true_by_default(value, scope, module_of(node)) if value is not None else None
            if default is None:
                return None
            issue = _b903_issue(f"{name}(trust_remote_code={ast.unparse(value)})", _revision_values(node), scope)
            issue.text = issue.text.replace(" executes Python code", f" ({default}) executes Python code", 1)
            issue.confidence = bandit.MEDIUM  # a caller may pass False
            return issue
        revisions = _revision_values(node)
        where = f"{name}(trust_remote_code=True)"
        if name == "dict":
            how, more = _mapping_context(node, _bound_name(node), scope)
            revisions += more
            where = f"dict(trust_remote_code=True) {how}".rstrip()
        return _b903_issue(where, revisions, scope)
    if isinstance(node, ast.Dict):
        if not is_true(_dict_entry(node, _KEY)):
            return None
        scope = enclosing_scope(node)
        if _only_lists_keys(node, _bound_name(node), scope):
            return None
        how, more = _mapping_context(node, _bound_name(node), scope)
        where = f"{{'trust_remote_code': True}} {how}".rstrip()
        return _b903_issue(where, _revision_values(node) + more, scope)
    if isinstance(node, ast.Assign) and is_true(node.value):
        for target in node.targets:
            if (isinstance(target, ast.Subscript) and string_value(target.slice) == _KEY
                    and isinstance(target.value, ast.Name)):
                name = target.value.id
                scope = enclosing_scope(node)
                how, revisions = _mapping_context(target.value, name, scope)
                return _b903_issue(f"{name}['trust_remote_code'] = True {how}".rstrip(),
                                   revisions, scope)
    return None


# --------------------------------------------------------------------------
# B904


@test.checks("Call")
@test.test_id("B904")
def torch_hub_load(context):
    if context.call_function_name_qual not in ("torch.hub.load",
                                                 "torch.hub.load_state_dict_from_url"):
        return None
    call = context.node
    if context.call_function_name_qual == "torch.hub.load_state_dict_from_url":
        # Weights only, but unpickled: flag unless weights_only=True is passed.
        if is_true(keyword(call, "weights_only")):
            return None
        return _issue("B904", bandit.MEDIUM, bandit.MEDIUM,
                      "torch.hub.load_state_dict_from_url() unpickles a "
                      "downloaded file without weights_only=True")
    source = keyword(call, "source")
    if source is not None and string_value(source) != "github":
        # source= is keyword-only in torch.hub.load; trust_repo is ignored for 'local'.
        where = call.args[0] if call.args else keyword(call, "repo_or_dir")
        if string_value(source) == "local":
            if is_literal(where):
                return _issue("B904", bandit.LOW, bandit.HIGH,
                              f"torch.hub.load(source='local') imports and runs hubconf.py "
                              f"from the local directory {string_value(where)!r}: nothing is "
                              "downloaded, but that directory's code runs")
            return _issue("B904", bandit.MEDIUM, bandit.MEDIUM,
                          "torch.hub.load(source='local') imports and runs hubconf.py from a "
                          "directory chosen at run time: whoever controls the path controls "
                          "the code that runs")
        return _issue("B904", bandit.MEDIUM, bandit.MEDIUM,
                      f"torch.hub.load(source={ast.unparse(source)}) imports and runs hubconf.py "
                      "from a remote repository or a local directory, decided at run time")
    if is_true(keyword(call, "trust_repo")):
        return _issue("B904", bandit.HIGH, bandit.HIGH,
                      "torch.hub.load(trust_repo=True) imports a remote "
                      "repository without asking")
    return _issue("B904", bandit.MEDIUM, bandit.HIGH,
                  "torch.hub.load() imports and runs hubconf.py from a "
                  "remote repository")
