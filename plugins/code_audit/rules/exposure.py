"""Rules B909 and B910: demos and debug servers reachable from the network."""

from __future__ import annotations

import ast

import bandit
from bandit.core import test_properties as test

from ._util import (assigned_values, enclosing_scope, imported_names, imports_module, is_true,
                    keyword, module_of, root_name, string_value)
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


def _public_host(expr, scope, module, depth: int = 0) -> tuple[str, bool] | None:
    """How ``expr`` (a server_name value) can be all interfaces, and whether that is
    certain (a literal) rather than a default that the deployment may override."""
    if expr is None or depth > 3:
        return None
    text = string_value(expr)
    if text is not None:
        return (repr(text), True) if text in _ALL_INTERFACES else None
    shown = ast.unparse(expr)
    if isinstance(expr, ast.Call) and ast.unparse(expr.func) in _ENV_GETTERS:
        default = expr.args[1] if len(expr.args) > 1 else keyword(expr, "default")
        if string_value(default) in _ALL_INTERFACES:
            return f"{shown} (all interfaces unless the environment says otherwise)", False
        return None
    if isinstance(expr, ast.BoolOp):  # os.environ.get("HOST") or "0.0.0.0"
        if any(_public_host(v, scope, module, depth + 1) for v in expr.values):
            return f"{shown} (falls back to all interfaces)", False
        return None
    if isinstance(expr, ast.IfExp):
        if _public_host(expr.body, scope, module, depth + 1) or _public_host(expr.orelse, scope, module, depth + 1):
            return f"{shown} (can be all interfaces)", False
        return None
    if isinstance(expr, ast.Name):
        for value in assigned_values(scope, expr.id):
            hit = _public_host(value, scope, module, depth + 1)
            if hit:
                return f"{expr.id}, set to {hit[0]}", hit[1]
        return None
    if isinstance(expr, ast.Attribute):  # args.host from parser.add_argument("--host", default="0.0.0.0")
        default = _argparse_default(module, expr.attr)
        if default in _ALL_INTERFACES:
            return f"{shown} (a command-line option, default {default!r})", False
    return None


def _argparse_default(module, dest: str) -> str | None:
    for node in ast.walk(module):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            continue
        names = [string_value(a) or "" for a in node.args]
        dests = {string_value(keyword(node, "dest"))} | {n.lstrip("-").replace("-", "_") for n in names}
        if dest in dests:
            return string_value(keyword(node, "default"))
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


def _auth_set(call) -> bool:
    for name in ("auth", "auth_dependency"):
        value = keyword(call, name)
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            return True
    return False


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
    share = is_true(keyword(call, "share"))
    host = _public_host(keyword(call, "server_name"), scope, module)
    if not (share or host):
        return None
    built = f" built in another module ({origin})" if origin else ""
    if _auth_set(call):
        return _issue("B909", bandit.LOW, bandit.MEDIUM,
                      f"Gradio app{built} published with share/0.0.0.0 (auth set)")
    how = "share=True (public gradio.live link)" if share else f"server_name={host[0]}"
    certain = origin is None and (share or host[1])
    return _issue("B909", bandit.MEDIUM, bandit.HIGH if certain else bandit.MEDIUM,
                  f"Gradio app{built} launched with {how} and no auth")


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
