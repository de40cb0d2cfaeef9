"""Rules B909 and B910: demos and debug servers reachable from the network."""

from __future__ import annotations

import ast

import bandit
from bandit.core import test_properties as test

from ._util import (argparse_defaults, assigned_values, enclosing_scope, imported_names, imports_module,
                    is_true, keyword, module_of, package_modules, parameter_default, parameter_defaults,
                    root_name, sibling_module, string_value, top_level_values)
from .catalog import RULES_BY_ID

_ALL_INTERFACES = {"0.0.0.0", "::", "[::]"}  # nosec B104  # the values we look for


def _issue(rule_id: str, severity, confidence, detail: str):
    info = RULES_BY_ID[rule_id]
    return bandit.Issue(severity=severity, confidence=confidence,
                        cwe=info.cwe, text=f"{detail}. {info.help}")


# Every keyword of gradio's Blocks.launch() across releases 3 to 5: a call that
# uses any other keyword is some other library's launch().
_GRADIO_LAUNCH_KWARGS = frozenset("""
    inline inbrowser share debug enable_queue max_threads auth auth_message
    prevent_thread_lock show_error server_name server_port show_tips height width
    encrypt favicon_path ssl_keyfile ssl_certfile ssl_keyfile_password ssl_verify
    quiet show_api file_directories allowed_paths blocked_paths root_path _frontend
    app_kwargs state_session_capacity share_server_address share_server_protocol
    share_server_tls_certificate auth_dependency max_file_size enable_monitoring
    strict_cors node_server_name node_port ssr_mode pwa mcp_server i18n theme css
    js head css_paths head_paths footer_links
""".split())
_ENV_GETTERS = ("os.environ.get", "environ.get", "os.getenv", "getenv")


class _Where:
    """Where an expression is read: its function (or module), its module, and the file (the
    package's other modules are looked at for defaults set there)."""

    def __init__(self, scope, module, filename: str | None):
        self.scope, self.module, self.filename = scope, module, filename

    def elsewhere(self, module) -> "_Where":
        return _Where(module, module, self.filename)

    def package(self) -> list:
        return package_modules(self.filename)


def _imported_module(where: _Where, name: str):
    """The sibling module that ``name`` was imported from (``from .settings import HOST``), or the
    sibling module ``name`` is (``from . import settings``)."""
    origin = imported_names(where.module).get(name)
    if origin is None:
        return None, None
    home, _, attr = origin.rpartition(".")
    module = sibling_module(where.filename, home) if home.strip(".") else None
    if module is not None and attr == name:
        return module, name
    own = sibling_module(where.filename, origin)
    return (own, None) if own is not None else (None, None)


def _values_of(expr, where: _Where, depth: int) -> list[tuple[ast.expr, _Where, str]]:
    """What a name, option or setting can hold, and where that was found: (value, its place, how).

    A name: its assignments in the function (else the module), or the sibling module it was
    imported from; a parameter: its default, then the defaults of parameters of that name in the
    package (settings passed down from a ``main(server_name="0.0.0.0", auth=None)``). ``x.attr``:
    an argparse option's default in the package, or a sibling module's setting. ``kwargs["k"]`` /
    ``kwargs.get("k")``: the package's defaults for ``k``.
    """
    out: list = []
    if depth > 3:
        return out
    if isinstance(expr, ast.Name):
        for value in assigned_values(where.scope, expr.id):
            out.append((value, where, f"{expr.id} = {ast.unparse(value)}"))
        if out:
            return out
        module, name = _imported_module(where, expr.id)
        if module is not None and name:
            return [(v, where.elsewhere(module), f"{expr.id}, set in a sibling module to {ast.unparse(v)}")
                    for v in top_level_values(module, name)]
        is_param, default = parameter_default(where.scope, expr.id)
        if is_param:
            if default is not None:
                out.append((default, where, f"{expr.id}, a parameter defaulting to {ast.unparse(default)}"))
            return out + _package_defaults(expr.id, where, own_module=True)
        return out
    key = None
    if isinstance(expr, ast.Attribute):
        base = expr.value
        if isinstance(base, ast.Name):
            module, _ = _imported_module(where, base.id)
            if module is not None:
                return [(v, where.elsewhere(module), f"{ast.unparse(expr)}, set in a sibling module to "
                                                     f"{ast.unparse(v)}") for v in top_level_values(module, expr.attr)]
        key = expr.attr
    elif isinstance(expr, ast.Subscript):
        key = string_value(expr.slice)
    elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get" and expr.args:
        key = string_value(expr.args[0])
        fallback = expr.args[1] if len(expr.args) > 1 else keyword(expr, "default")
        out.append((fallback if fallback is not None else ast.Constant(value=None), where,
                    f"{ast.unparse(expr)} when the key is missing"))
    if key:
        out += _package_defaults(key, where, own_module=True)
    return out


def _package_defaults(key: str, where: _Where, own_module: bool) -> list:
    """Defaults of options and parameters called ``key`` in this module and the package's others."""
    out = []
    modules = ([where.module] if own_module else []) + where.package()
    for module in modules:
        place = "" if module is where.module else " in a sibling module"
        for v in argparse_defaults(module, key):
            out.append((v, where.elsewhere(module), f"a command-line option{place}, default {ast.unparse(v)}"))
        for v in parameter_defaults(module, key):
            out.append((v, where.elsewhere(module), f"a parameter {key}{place}, default {ast.unparse(v)}"))
    return out


def _public_host(expr, where: _Where, depth: int = 0) -> tuple[str, bool] | None:
    """How ``expr`` (a server_name value) can be all interfaces, and whether that is
    certain (a literal) rather than a default that the deployment may override."""
    if expr is None or depth > 4:
        return None
    text = string_value(expr)
    if text is not None:
        return (repr(text), True) if text in _ALL_INTERFACES else None
    shown = ast.unparse(expr)
    if isinstance(expr, ast.Call) and ast.unparse(expr.func) in _ENV_GETTERS:
        default = expr.args[1] if len(expr.args) > 1 else keyword(expr, "default")
        # the default may itself be a conditional: os.getenv("HOST", "[::]" if ipv6 else "0.0.0.0")
        if _public_host(default, where, depth + 1):
            return f"{shown} (all interfaces unless the environment says otherwise)", False
        return None
    if isinstance(expr, ast.BoolOp):  # os.environ.get("HOST") or "0.0.0.0"
        if any(_public_host(v, where, depth + 1) for v in expr.values):
            return f"{shown} (falls back to all interfaces)", False
        return None
    if isinstance(expr, ast.IfExp):
        if _public_host(expr.body, where, depth + 1) or _public_host(expr.orelse, where, depth + 1):
            return f"{shown} (can be all interfaces)", False
        return None
    if isinstance(expr, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        for value, place, how in _values_of(expr, where, depth):
            hit = _public_host(value, place, depth + 1)
            if hit:
                certain = hit[1] and isinstance(expr, ast.Name) and place is where
                return (f"{expr.id}, set to {hit[0]}" if isinstance(expr, ast.Name) and place is where
                        else f"{shown} ({how})"), certain
    return None


def _may_be_none(expr, where: _Where, depth: int = 0) -> str | None:
    """How ``expr`` (an ``auth=`` value) can be None, or None when it cannot be seen to: a literal
    None, a conditional or ``or`` with a None branch, a name or option whose value or default
    is None (``auth = None`` unless a command-line option sets it)."""
    if expr is None or depth > 4:
        return None
    if isinstance(expr, ast.Constant):
        return "None" if expr.value is None else None
    if isinstance(expr, ast.IfExp):
        return _may_be_none(expr.body, where, depth + 1) or _may_be_none(expr.orelse, where, depth + 1)
    if isinstance(expr, ast.BoolOp):
        last = _may_be_none(expr.values[-1], where, depth + 1)
        return f"{ast.unparse(expr)} ({last})" if last else None
    if isinstance(expr, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        for value, place, how in _values_of(expr, where, depth):
            if _may_be_none(value, place, depth + 1):
                return f"{ast.unparse(expr)} is None unless set otherwise ({how})"
    return None


def _app_from_elsewhere(receiver, scope, module) -> str | None:
    """Where the app comes from when it is imported (or built by something imported)."""
    imports = imported_names(module)
    root = root_name(receiver)
    if root is None:
        return None

    def origin(name: str) -> str:
        dotted = imports[name]
        home = dotted[: -len(name) - 1] if dotted.endswith("." + name) else ""
        return f"{name} from {home}" if home else f"{name}, an imported module"

    if root.id in imports:
        return origin(root.id)
    for value in assigned_values(scope, root.id):
        built = root_name(value)
        if built is not None and built.id in imports:
            return f"{root.id} = {ast.unparse(value)}, {origin(built.id)}"
    return None


def _auth_state(call, where: _Where) -> tuple[bool, str | None]:
    """(auth is set, why it may still be missing). ``auth_dependency`` counts as set; ``auth=``
    counts only when it cannot be None."""
    dependency = keyword(call, "auth_dependency")
    if dependency is not None and not (isinstance(dependency, ast.Constant) and dependency.value is None):
        return True, None
    value = keyword(call, "auth")
    if value is None or (isinstance(value, ast.Constant) and value.value is None):
        return False, None
    why = _may_be_none(value, where)
    return (False, why) if why else (True, None)


@test.checks("Call")
@test.test_id("B909")
def gradio_public_share(context):
    """Gradio's launch(share=True) or launch(server_name=<all interfaces>) without auth.

    Which calls are Gradio's. In a file that imports gradio (anywhere in it), any
    ``launch``/``queue`` call counts, as before. In a file that does not, a call
    counts only when all three hold: it is a method call ``X.launch(...)``; ``X``
    is imported from another module or built by something imported (``from app
    import demo``; ``ui = build_ui()`` with ``build_ui`` imported; ``X`` may be
    ``demo.queue()``); and every keyword is a parameter of gradio's
    ``Blocks.launch`` (``share``, ``server_name``, ``auth``...), so that
    ``browser.launch(headless=True)`` of playwright or pyppeteer, a local
    class's ``launch``, or ``rocket.launch(share=True, countdown=10)`` are left
    alone. These findings carry MEDIUM confidence.

    Which hosts are all interfaces: a literal ``"0.0.0.0"``/``"::"``; the default
    of ``os.environ.get``/``os.getenv`` (``os.getenv("HOST", "0.0.0.0")``); an
    ``or`` fallback or a conditional with such a branch; a name assigned one of
    these in the function (else at module level; a parameter is unknown); and
    ``args.x`` where ``parser.add_argument("--x", default="0.0.0.0")`` is in the
    file. All but the literal get MEDIUM confidence: the deployment may set
    another host. ``auth=``/``auth_dependency=`` other than ``None`` lowers the
    finding to LOW; ``**kwargs`` are not looked into.
    """
    name = context.call_function_name or ""
    if name not in ("launch", "queue") and not name.endswith(".launch"):
        return None
    call = context.node
    module = module_of(call)
    scope = enclosing_scope(call)
    origin = None
    if not (context.is_module_imported_like("gradio") or imports_module(module, "gradio")):
        if name != "launch" or not isinstance(call.func, ast.Attribute):
            return None
        if any(kw.arg is not None and kw.arg not in _GRADIO_LAUNCH_KWARGS for kw in call.keywords):
            return None
        origin = _app_from_elsewhere(call.func.value, scope, module)
        if origin is None:
            return None
    where = _Where(scope, module, getattr(context, "filename", None))
    share = is_true(keyword(call, "share"))
    host = _public_host(keyword(call, "server_name"), where)
    if not (share or host):
        return None
    built = f" built in another module ({origin})" if origin else ""
    auth_set, auth_missing = _auth_state(call, where)
    if auth_set:
        return _issue("B909", bandit.LOW, bandit.MEDIUM,
                      f"Gradio app{built} published with share/0.0.0.0 (auth set)")
    how = "share=True (public gradio.live link)" if share else f"server_name={host[0]}"
    certain = origin is None and (share or host[1])
    auth = f"auth={auth_missing}" if auth_missing else "no auth"
    return _issue("B909", bandit.MEDIUM, bandit.HIGH if certain else bandit.MEDIUM,
                  f"Gradio app{built} launched with {how} and {auth}")


@test.checks("Call")
@test.test_id("B910")
def debug_server_public(context):
    qual = context.call_function_name_qual or ""
    call = context.node
    host = string_value(keyword(call, "host"))
    if qual == "uvicorn.run":
        if host in _ALL_INTERFACES and (is_true(keyword(call, "reload"))
                                        or string_value(keyword(call, "log_level")) == "debug"):
            return _issue("B910", bandit.MEDIUM, bandit.HIGH,
                          "uvicorn.run(reload=True) on all interfaces")
        return None
    if context.call_function_name != "run" and not qual.endswith(".run"):
        return None
    if not (context.is_module_imported_like("flask")
            or context.is_module_imported_like("fastapi")):
        return None
    if host in _ALL_INTERFACES and is_true(keyword(call, "debug")):
        return _issue("B910", bandit.HIGH, bandit.HIGH,
                      "Debug web server (interactive debugger) bound to "
                      "all interfaces")
    return None
