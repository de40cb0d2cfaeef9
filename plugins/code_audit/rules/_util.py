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


# --------------------------------------------------------------------------
# scopes: bandit links every visited node to its parent (``_bandit_parent``);
# the module node itself is the root and has no parent.

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def parent(node) -> ast.AST | None:
    return getattr(node, "_bandit_parent", None)


def module_of(node) -> ast.AST:
    """The root of ``node``'s tree (the ``ast.Module`` when bandit parsed it)."""
    while parent(node) is not None:
        node = parent(node)
    return node


def enclosing_scope(node) -> ast.AST:
    """The nearest enclosing function (or lambda), else the module."""
    up = parent(node)
    while up is not None:
        if isinstance(up, _SCOPES):
            return up
        node, up = up, parent(up)
    return node


def imported_names(module) -> dict[str, str]:
    """Local name -> dotted origin for every import in ``module`` (at any depth).

    ``from .app import demo`` gives ``{"demo": ".app.demo"}``; ``import a.b``
    binds ``a``. Computed from the tree, so it does not depend on how far
    bandit's visitor has got (its import list grows as it walks the file).
    """
    cached = getattr(module, "_wb_imported_names", None)
    if cached is not None:
        return cached
    out: dict[str, str] = {}
    for node in ast.walk(module):
        record_import(node, out)
    try:
        module._wb_imported_names = out
    except AttributeError:  # pragma: no cover - a foreign node type
        pass
    return out


def record_import(node, out: dict[str, str]) -> None:
    """Add the names an Import/ImportFrom ``node`` binds to ``out`` (see imported_names)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                out[alias.asname] = alias.name
            else:
                out[alias.name.split(".")[0]] = alias.name.split(".")[0]
    elif isinstance(node, ast.ImportFrom):
        base = "." * node.level + (node.module or "")
        for alias in node.names:
            sep = "" if base.endswith(".") or not base else "."
            out[alias.asname or alias.name] = f"{base}{sep}{alias.name}"


def imports_module(module, prefix: str) -> bool:
    """True when ``module`` imports ``prefix`` or something under it."""
    for origin in imported_names(module).values():
        if origin == prefix or origin.startswith(prefix + "."):
            return True
    return False


def root_name(expr) -> ast.Name | None:
    """``a`` of ``a.b().c[0].d``: the name an attribute/call/subscript chain starts from."""
    while True:
        if isinstance(expr, ast.Name):
            return expr
        if isinstance(expr, (ast.Attribute, ast.Subscript)):
            expr = expr.value
        elif isinstance(expr, ast.Call):
            expr = expr.func
        else:
            return None


def assigned_values(scope, name: str) -> list[ast.expr]:
    """Values bound to ``name`` by plain or annotated assignment in ``scope``,
    falling back to the module's top level when ``scope`` binds nothing and
    ``name`` is not one of its parameters."""

    def collect(nodes):
        out = []
        for n in nodes:
            if isinstance(n, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id == name for t in n.targets):
                    out.append(n.value)
            elif isinstance(n, (ast.AnnAssign, ast.NamedExpr)) and n.value is not None:
                if isinstance(n.target, ast.Name) and n.target.id == name:
                    out.append(n.value)
        return out

    if isinstance(scope, ast.Module):
        return collect(walk_top_level(scope))
    found = collect(ast.walk(scope))
    if found:
        return found
    args = getattr(scope, "args", None)
    if args is not None and name in {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}:
        return []  # a parameter: whatever the caller passes
    module = module_of(scope)
    return collect(walk_top_level(module)) if isinstance(module, ast.Module) else []


def walk_top_level(module):
    """Every node of ``module`` outside function, lambda and class bodies."""
    todo = list(ast.iter_child_nodes(module))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))


# --------------------------------------------------------------------------
# the rest of the package: settings whose defaults live in a sibling module

#: Other files a rule read while auditing the current one (path -> sha256 of what was read). The
#: runner resets it per file and keeps it with the file's cached result, which is reused only
#: while those files are unchanged.
CONSULTED: dict[str, str] = {}
_PACKAGE_FILES = 200  # at most this many sibling modules are read, each at most:
_PACKAGE_FILE_BYTES = 2 * 1024 * 1024
_PARSED: dict[tuple, ast.AST | None] = {}


def _parse_sibling(path: str):
    """The parsed module at ``path`` (read bounded, regular files only), or None; recorded in
    ``CONSULTED``."""
    import hashlib
    import os

    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _PARSED:
        tree = None
        from ..reading import read_limited

        data, _ = read_limited(path, _PACKAGE_FILE_BYTES)
        if data is not None:
            try:
                tree = ast.parse(data)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = None
            _PARSED[key] = (tree, hashlib.sha256(data).hexdigest())
        else:
            _PARSED[key] = (None, "")
    tree, sha = _PARSED[key]
    if sha:
        CONSULTED[path] = sha
    return tree


def package_modules(filename: str | None) -> list:
    """The parsed modules of the package that holds ``filename`` (its folder's ``.py`` files,
    itself excluded), in name order; empty when the file is not on disk."""
    import os

    if not filename or not os.path.isfile(filename):
        return []
    folder = os.path.dirname(os.path.abspath(filename))
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
    except OSError:
        return []
    own = os.path.basename(filename)
    out = []
    for name in names[:_PACKAGE_FILES]:
        if name != own:
            tree = _parse_sibling(os.path.join(folder, name))
            if tree is not None:
                out.append(tree)
    return out


def sibling_module(filename: str | None, dotted: str):
    """The parsed module that ``from <dotted> import x`` names, when it is a file of the same
    package: ``.settings``, ``settings`` or ``pkg.settings`` next to ``filename``."""
    import os

    if not filename or not dotted:
        return None
    stem = dotted.lstrip(".").rsplit(".", 1)[-1]
    if not stem:
        return None
    folder = os.path.dirname(os.path.abspath(filename))
    path = os.path.join(folder, stem + ".py")
    return _parse_sibling(path) if os.path.isfile(path) else None


def top_level_values(module, name: str) -> list:
    """Values assigned to ``name`` at the top level of ``module``."""
    out = []
    for n in walk_top_level(module):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets):
            out.append(n.value)
        elif isinstance(n, ast.AnnAssign) and n.value is not None and isinstance(n.target, ast.Name) \
                and n.target.id == name:
            out.append(n.value)
    return out


def parameter_defaults(module, name: str) -> list:
    """Default values of every parameter called ``name`` of a function in ``module``."""
    out = []
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            out += [d for a, d in pairs if a.arg == name]
    return out


def parameter_default(scope, name: str):
    """(True, default or None) when ``name`` is a parameter of function ``scope``, else (False, None)."""
    args = getattr(scope, "args", None)
    if args is None:
        return False, None
    positional = args.posonlyargs + args.args
    defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    names = {a.arg for a in positional + args.kwonlyargs}
    if name in names:
        return True, defaults.get(name)
    return False, None


def argparse_defaults(module, dest: str) -> list:
    """``default=`` of ``add_argument`` calls whose destination is ``dest``; an option without a
    default gives ``None`` (argparse's), as the constant node ``None``."""
    out = []
    for node in ast.walk(module):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            continue
        names = [string_value(a) or "" for a in node.args]
        explicit = string_value(keyword(node, "dest"))
        dests = {explicit} if explicit else {n.lstrip("-").replace("-", "_") for n in names if n.startswith("-")}
        if dest in dests:
            default = keyword(node, "default")
            action = string_value(keyword(node, "action"))
            if default is None and action not in ("store_true", "store_false"):
                default = ast.Constant(value=None)
            if default is not None:
                out.append(default)
    return out
