import argparse

from transformers import AutoModelForCausalLM, AutoTokenizer

SUPPORTED_OPTIONS = {"trust_remote_code": True, "revision": True, "torch_dtype": True}


def load(name, trust_remote_code=True):
    return AutoModelForCausalLM.from_pretrained(name, trust_remote_code=trust_remote_code)


def load_safe(name, trust_remote_code=False):
    return AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)


def filter_options(options):
    return {k: v for k, v in options.items() if k in SUPPORTED_OPTIONS}


def cli():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trust-remote-code", default=True)
    args = parser.parse_args()
    return AutoModelForCausalLM.from_pretrained("m", trust_remote_code=args.trust_remote_code)


def pinned(name, trust_remote_code=True):
    return AutoModelForCausalLM.from_pretrained(name, trust_remote_code=trust_remote_code,
                                                revision="0123456789abcdef0123456789abcdef01234567")


LOADER_KWARGS = {"trust_remote_code": True, "low_cpu_mem_usage": True}
model = AutoModelForCausalLM.from_pretrained("m", **LOADER_KWARGS)
