"""Rules B901, B902, B905, B906: loaders that run code from the file."""

from __future__ import annotations

import bandit
from bandit.core import test_properties as test

from ._util import first_arg, is_false, is_literal, is_true, keyword
from .catalog import RULES_BY_ID

# Loaders that unpickle: a path written in the source is treated as a
# reviewed artifact; anything computed at run time may come from a user.
_PICKLE_LOADERS = {
    "joblib.load": ("filename",),
    "cloudpickle.load": ("file",),
    "cloudpickle.loads": ("data",),
    "dill.load": ("file",),
    "dill.loads": ("str",),
    "pandas.read_pickle": ("filepath_or_buffer",),
    "sklearn.externals.joblib.load": ("filename",),
}
_JIT_LOADERS = {"torch.jit.load": ("f",), "torch.export.load": ("f",)}
_KERAS_LOADERS_SUFFIX = ("keras.models.load_model", "keras.saving.load_model")


def _issue(rule_id: str, severity, confidence, detail: str):
    info = RULES_BY_ID[rule_id]
    return bandit.Issue(
        severity=severity,
        confidence=confidence,
        cwe=info.cwe,
        text=f"{detail}. {info.help}",
    )


@test.checks("Call")
@test.test_id("B901")
def ml_unsafe_pickle_load(context):
    qual = context.call_function_name_qual
    names = _PICKLE_LOADERS.get(qual)
    if names is None:
        return None
    target = first_arg(context.node, *names)
    if target is None or is_literal(target):
        return None
    return _issue("B901", bandit.MEDIUM, bandit.HIGH,
                  f"{qual}() deserialises a pickle from a non-literal source")


@test.checks("Call")
@test.test_id("B902")
def numpy_load_allow_pickle(context):
    if context.call_function_name_qual != "numpy.load":
        return None
    if not is_true(keyword(context.node, "allow_pickle")):
        return None
    return _issue("B902", bandit.MEDIUM, bandit.HIGH,
                  "numpy.load(allow_pickle=True) unpickles object arrays")


@test.checks("Call")
@test.test_id("B905")
def torch_jit_export_load(context):
    qual = context.call_function_name_qual
    names = _JIT_LOADERS.get(qual)
    if names is None:
        return None
    target = first_arg(context.node, *names)
    if target is None or is_literal(target):
        return None
    return _issue("B905", bandit.MEDIUM, bandit.MEDIUM,
                  f"{qual}() of a non-literal path runs the archive's code")


@test.checks("Call")
@test.test_id("B906")
def keras_unsafe_load(context):
    qual = context.call_function_name_qual or ""
    if not (qual.endswith(_KERAS_LOADERS_SUFFIX) or qual == "load_model"):
        return None
    if is_false(keyword(context.node, "safe_mode")):
        return _issue("B906", bandit.HIGH, bandit.HIGH,
                      "load_model(safe_mode=False) deserialises arbitrary lambdas")
    if keyword(context.node, "custom_objects") is not None:
        # The file's config picks which of these classes or functions to build, with its own
        # arguments: code of ours, run as the file says.
        return _issue("B906", bandit.MEDIUM, bandit.MEDIUM,
                      "load_model(custom_objects=...) lets the model file choose code to run from the "
                      "objects handed over")
    return None
