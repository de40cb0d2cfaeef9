"""Rules B909 and B910: demos and debug servers reachable from the network."""

from __future__ import annotations

import bandit
from bandit.core import test_properties as test

from ._util import is_true, keyword, string_value
from .catalog import RULES_BY_ID

_ALL_INTERFACES = {"0.0.0.0", "::", "[::]"}  # nosec B104 - the values we look for


def _issue(rule_id: str, severity, confidence, detail: str):
    info = RULES_BY_ID[rule_id]
    return bandit.Issue(severity=severity, confidence=confidence,
                        cwe=info.cwe, text=f"{detail}. {info.help}")


@test.checks("Call")
@test.test_id("B909")
def gradio_public_share(context):
    if not context.is_module_imported_like("gradio"):
        return None
    name = context.call_function_name or ""
    if name not in ("launch", "queue") and not name.endswith(".launch"):
        return None
    call = context.node
    share = is_true(keyword(call, "share"))
    public = string_value(keyword(call, "server_name")) in _ALL_INTERFACES
    if not (share or public):
        return None
    if keyword(call, "auth") is not None:
        return _issue("B909", bandit.LOW, bandit.MEDIUM,
                      "Gradio app published with share/0.0.0.0 (auth set)")
    how = "share=True (public gradio.live link)" if share else "server_name='0.0.0.0'"
    return _issue("B909", bandit.MEDIUM, bandit.HIGH,
                  f"Gradio app launched with {how} and no auth")


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
