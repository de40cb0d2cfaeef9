"""Rule B911: certificate checks turned off to fetch models or data sets.

Catches the three recipes seen in ML code:
- ``ssl._create_default_https_context = ssl._create_unverified_context``
  (the torchvision/keras dataset download work-around);
- emptying ``CURL_CA_BUNDLE`` / ``REQUESTS_CA_BUNDLE`` or setting
  ``HF_HUB_DISABLE_SSL_VERIFICATION`` in ``os.environ`` (Hugging Face);
- ``verify=False`` / ``ssl_verify=False`` / an unverified ``context=`` on a
  known model or data-set downloader (hf_hub_download, snapshot_download,
  load_dataset, download_url_to_file, urlretrieve, gdown, wget).
"""

from __future__ import annotations

import ast

import bandit
from bandit.core import test_properties as test

from ._util import is_false, keyword, string_value
from .catalog import RULES_BY_ID

_CA_ENV = {"CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}
_DISABLE_ENV = {"HF_HUB_DISABLE_SSL_VERIFICATION"}
_DOWNLOADERS = (
    "hf_hub_download", "snapshot_download", "load_dataset", "from_pretrained",
    "download_url_to_file", "load_state_dict_from_url", "urlretrieve",
    "urlopen", "gdown.download", "wget.download", "download_url",
    "get_file",  # keras.utils.get_file
)


def _issue(severity, confidence, detail: str):
    info = RULES_BY_ID["B911"]
    return bandit.Issue(severity=severity, confidence=confidence,
                        cwe=info.cwe, text=f"{detail}. {info.help}")


def _is_unverified_context(node) -> bool:
    text = ast.unparse(node) if node is not None else ""
    return "_create_unverified_context" in text or "CERT_NONE" in text


def _environ_key(target) -> str | None:
    # os.environ["X"] = ... ; the subscript's value must be os.environ
    if isinstance(target, ast.Subscript) and ast.unparse(target.value).endswith("environ"):
        return string_value(target.slice)
    return None


@test.checks("Assign", "Call")
@test.test_id("B911")
def ml_download_tls_disabled(context):
    node = context.node
    if isinstance(node, ast.Call):
        return _check_download_call(context)
    for target in node.targets:
        if isinstance(target, ast.Attribute) and target.attr == "_create_default_https_context":
            if _is_unverified_context(node.value):
                return _issue(bandit.HIGH, bandit.HIGH,
                              "Process-wide HTTPS certificate checks disabled "
                              "(ssl._create_unverified_context)")
        key = _environ_key(target)
        value = string_value(node.value)
        if key in _CA_ENV and value == "":
            return _issue(bandit.HIGH, bandit.MEDIUM,
                          f"os.environ[{key!r}] emptied: requests/huggingface_hub "
                          "downloads skip certificate checks")
        if key in _DISABLE_ENV and value not in (None, "", "0", "false", "False"):
            return _issue(bandit.HIGH, bandit.HIGH,
                          f"{key} set: Hugging Face downloads skip certificate checks")
    return None


def _check_download_call(context):
    qual = context.call_function_name_qual or ""
    name = context.call_function_name or ""
    if not (name in _DOWNLOADERS or qual.endswith(_DOWNLOADERS)):
        return None
    call = context.node
    if is_false(keyword(call, "verify")) or is_false(keyword(call, "ssl_verify")):
        return _issue(bandit.HIGH, bandit.HIGH,
                      f"{qual or name}(verify=False) downloads a model or data set "
                      "without certificate checks")
    if _is_unverified_context(keyword(call, "context")):
        return _issue(bandit.HIGH, bandit.HIGH,
                      f"{qual or name}() with an unverified SSL context")
    return None
