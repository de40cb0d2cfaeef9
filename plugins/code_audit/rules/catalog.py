"""Metadata of the AI/ML rule pack, importable without bandit.

The ids B901..B911 are ours: bandit itself stops at B7xx (1.9.x), and the
range is checked by a test against bandit's loaded plugins and blacklists.
Bump PACK_VERSION whenever a rule's behaviour changes: it is part of the
per-file cache key, so a changed rule re-audits every file.
"""

from __future__ import annotations

from dataclasses import dataclass

# 6: issue 17 rule misses, value-free identity of B105-B107/B908
PACK_VERSION = "6"  # 5: B908 skips placeholder keys; 4: B903 pinning/dict literals, B904 local, B907 call graph, B909


@dataclass(frozen=True)
class RuleInfo:
    id: str
    name: str  # bandit test name (the plugin function name)
    module: str  # module under workbench_plugins.code_audit.rules
    cwe: int
    title: str
    help: str  # the safe alternative


RULES: tuple[RuleInfo, ...] = (
    RuleInfo("B901", "ml_unsafe_pickle_load", "deserialization", 502,
             "Pickle-based load of a non-literal path or payload",
             "joblib/cloudpickle/dill/pandas.read_pickle run code from the file; "
             "load only files you produced, verify a hash first, or use "
             "safetensors / skops.io / parquet."),
    RuleInfo("B902", "numpy_load_allow_pickle", "deserialization", 502,
             "numpy.load with allow_pickle=True",
             "Keep allow_pickle=False (the default) and store object arrays "
             "in a non-pickle format."),
    RuleInfo("B903", "trust_remote_code", "remote_code", 94,
             "trust_remote_code=True runs code from the model hub",
             "Leave trust_remote_code=False, or pin revision= to a reviewed "
             "commit hash and vendor the modelling code."),
    RuleInfo("B904", "torch_hub_load", "remote_code", 494,
             "torch.hub.load imports and runs a repository's hubconf.py",
             "Vendor the model code and load weights with "
             "torch.load(weights_only=True) or safetensors; never pass "
             "trust_repo=True."),
    RuleInfo("B905", "torch_jit_export_load", "deserialization", 502,
             "torch.jit.load / torch.export.load of a non-literal path",
             "Load only artifacts you built and verified (hash check), or "
             "use safetensors for weights."),
    RuleInfo("B906", "keras_unsafe_load", "deserialization", 502,
             "Keras load_model with safe_mode=False or custom_objects",
             "Keep safe_mode=True (the default) so that lambda layers are "
             "not deserialised from the file, and hand over custom_objects only "
             "for files you built and verified (hash check)."),
    RuleInfo("B907", "llm_output_to_exec", "llm_exec", 94,
             "LLM output reaches eval/exec, a shell or a code-running tool",
             "Never execute model output: parse it into a fixed set of "
             "allowed actions, or run it in a sandbox without shell=True."),
    RuleInfo("B908", "hardcoded_ai_api_key", "api_keys", 798,
             "Hard-coded API key of an AI provider or model hub",
             "Read the key from the environment or a secret store "
             "(keyring); revoke the exposed key."),
    RuleInfo("B909", "gradio_public_share", "exposure", 668,
             "Gradio demo exposed publicly",
             "Drop share=True / server_name='0.0.0.0', or put the demo "
             "behind authentication (auth=...)."),
    RuleInfo("B910", "debug_server_public", "exposure", 489,
             "Debug/reload web server bound to all interfaces",
             "Bind to 127.0.0.1 and turn debug/reload off outside "
             "development; serve with a production server."),
    RuleInfo("B911", "ml_download_tls_disabled", "tls", 295,
             "TLS verification disabled for model or dataset downloads",
             "Keep certificate verification on; point REQUESTS_CA_BUNDLE / "
             "SSL_CERT_FILE at your corporate CA instead of disabling it."),
)

# Reported by our runner itself, not a bandit plugin (no module).
NOSEC_RULE = RuleInfo("B900", "nosec_unknown_test", "", 0,
                      "'# nosec' names an unknown test",
                      "Name the test ids to silence (e.g. '# nosec B602') and write "
                      "any explanation after a second '#'.")

# Reported by the engine for a file that a scanner could not read or parse: the audit did not
# see it, so a --fail-on gate must not pass it (see engine.not_audited_findings).
NOT_AUDITED_RULE = RuleInfo("AUDIT001", "file_not_audited", "", 0,
                            "File not audited",
                            "Make the file readable and parseable (or exclude it on purpose with -x), "
                            "then audit again; until then its content is unknown.")

RULES_BY_ID = {r.id: r for r in RULES + (NOSEC_RULE, NOT_AUDITED_RULE)}


def entry_points() -> list[str]:
    """The `bandit.plugins` entry-point lines for pyproject.toml."""
    return [
        f'{r.name} = "workbench_plugins.code_audit.rules.{r.module}:{r.name}"'
        for r in RULES
    ]
