"""Rules B903 and B904: code fetched from a hub and run."""

from __future__ import annotations

import bandit
from bandit.core import test_properties as test

from ._util import is_true, keyword
from .catalog import RULES_BY_ID


def _issue(rule_id: str, severity, confidence, detail: str):
    info = RULES_BY_ID[rule_id]
    return bandit.Issue(severity=severity, confidence=confidence,
                        cwe=info.cwe, text=f"{detail}. {info.help}")


@test.checks("Call")
@test.test_id("B903")
def trust_remote_code(context):
    # Any call: from_pretrained, pipeline, load_dataset, AutoConfig... all
    # share the keyword and the hazard.
    if not is_true(keyword(context.node, "trust_remote_code")):
        return None
    name = context.call_function_name_qual or "call"
    return _issue("B903", bandit.HIGH, bandit.HIGH,
                  f"{name}(trust_remote_code=True) executes Python code "
                  "downloaded from the model hub")


@test.checks("Call")
@test.test_id("B904")
def torch_hub_load(context):
    if context.call_function_name_qual not in ("torch.hub.load",
                                                 "torch.hub.load_state_dict_from_url"):
        return None
    if context.call_function_name_qual == "torch.hub.load_state_dict_from_url":
        # Weights only, but unpickled: flag unless weights_only=True is passed.
        if is_true(keyword(context.node, "weights_only")):
            return None
        return _issue("B904", bandit.MEDIUM, bandit.MEDIUM,
                      "torch.hub.load_state_dict_from_url() unpickles a "
                      "downloaded file without weights_only=True")
    if is_true(keyword(context.node, "trust_repo")):
        return _issue("B904", bandit.HIGH, bandit.HIGH,
                      "torch.hub.load(trust_repo=True) imports a remote "
                      "repository without asking")
    return _issue("B904", bandit.MEDIUM, bandit.HIGH,
                  "torch.hub.load() imports and runs hubconf.py from a "
                  "remote repository")
