"""trust_remote_code=True handed over in keyword-argument mappings, pinned or not."""

from transformers import AutoModelForCausalLM, pipeline
from vllm import LLM

PINNED = "4f0c3d9a8b7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"


def engine(model):
    engine_args = {"model": model, "trust_remote_code": True}
    return LLM(**engine_args)


def engine_pinned(model):
    engine_args = {"model": model, "trust_remote_code": True}
    return LLM(**engine_args, revision=PINNED)


def causal_pinned(model):
    kwargs = dict(trust_remote_code=True, revision="0123456789abcdef0123456789abcdef01234567")
    return AutoModelForCausalLM.from_pretrained(model, **kwargs)


def generator(model):
    return pipeline("text-generation", model=model, model_kwargs={"trust_remote_code": True})


def options(model):
    opts = {}
    opts["trust_remote_code"] = True
    return AutoModelForCausalLM.from_pretrained(model, **opts)


def branch(model):
    return AutoModelForCausalLM.from_pretrained(model, trust_remote_code=True, revision="main")


def pinned_inline(model):
    return AutoModelForCausalLM.from_pretrained(model, trust_remote_code=True, revision=PINNED)


def pinned_at_run_time(model, revision):
    return AutoModelForCausalLM.from_pretrained(model, trust_remote_code=True, revision=revision)
