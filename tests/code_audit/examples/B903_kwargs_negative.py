"""Mappings that do not turn remote code on."""

from transformers import AutoModelForCausalLM
from vllm import LLM


def engine(model):
    engine_args = {"model": model, "trust_remote_code": False}
    return LLM(**engine_args)


def causal(model):
    settings = {"revision": "main", "remote": True}
    kwargs = dict(trust_remote_code=False)
    opts = {}
    opts["trust_remote_code"] = False
    return AutoModelForCausalLM.from_pretrained(model, **kwargs, **settings, **opts)


def described():
    return {"trust_remote_code": "set it per model, after review"}
