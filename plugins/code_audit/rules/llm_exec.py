"""Rule B907: LLM (or tool) output executed as code or as a shell command.

What it catches, within ONE function (no inter-procedural analysis):

- sources: calls to a known LLM client, recognised by the dotted name
  (``*.chat.completions.create``, ``*.messages.create``,
  ``*.generate_content``, ``ollama.chat``, ``litellm.completion``,
  langchain ``*.invoke``/``*.predict``, HF ``pipeline(...)`` objects called
  as ``generator(...)`` when created in the same function, ...), in a file
  that imports an LLM library;
- propagation: a variable assigned (=, :=, +=, for-target, with-as) from an
  expression that contains a source or an already tainted variable is
  tainted; attribute access, indexing, f-strings, concatenation and method
  calls on tainted values keep the taint. Assignments are iterated to a
  fixed point, so order inside loops does not matter;
- sinks: ``eval``, ``exec``, ``compile``, ``os.system``, ``os.popen``,
  ``subprocess.getoutput``/``getstatusoutput``, and ``subprocess.run``/
  ``call``/``check_call``/``check_output``/``Popen`` with ``shell=True``,
  when an argument is a source or mentions a tainted variable.

It does not follow values through other functions, attributes of self,
containers mutated in place, or returns; it may over-approximate when a
tainted variable is only used to compute something harmless.
"""

from __future__ import annotations

import ast

import bandit
from bandit.core import test_properties as test
from bandit.core import utils as b_utils

from ._util import is_true, keyword
from .catalog import RULES_BY_ID

LLM_MODULES = ("openai", "anthropic", "google.generativeai", "google.genai",
               "mistralai", "cohere", "ollama", "litellm", "langchain",
               "langchain_openai", "langchain_anthropic", "langchain_core",
               "langchain_community", "llama_cpp", "groq", "vllm",
               "huggingface_hub", "transformers")
LLM_CALL_SUFFIXES = (
    "chat.completions.create", "completions.create", "responses.create",
    "messages.create", "generate_content", "chat.complete", "chat_completion",
    "text_generation", "ChatCompletion.create", "Completion.create",
    "ollama.chat", "ollama.generate", "litellm.completion", ".invoke",
    ".ainvoke", ".predict", ".create_completion", ".create_chat_completion",
)
LLM_FACTORIES = ("transformers.pipeline", "pipeline", "llama_cpp.Llama", "Llama",
                 "vllm.LLM", "LLM")
EVAL_SINKS = {"eval", "exec", "compile"}
SHELL_ALWAYS = {"os.system", "os.popen", "subprocess.getoutput",
                "subprocess.getstatusoutput"}
SHELL_IF_FLAG = {"subprocess.run", "subprocess.call", "subprocess.check_call",
                 "subprocess.check_output", "subprocess.Popen"}


def _enclosing_function(node):
    parent = getattr(node, "_bandit_parent", None)
    while parent is not None:
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return parent
        parent = getattr(parent, "_bandit_parent", None)
    return None


def _is_llm_call(call: ast.Call, aliases, llm_objects: set[str]) -> bool:
    name = b_utils.get_call_name(call, aliases) or ""
    if name.endswith(LLM_CALL_SUFFIXES) or name in ("ollama.chat", "ollama.generate"):
        return True
    # generator = pipeline("text-generation"); generator(prompt)
    return isinstance(call.func, ast.Name) and call.func.id in llm_objects


def _targets(node) -> list[str]:
    out = []
    for t in ast.walk(node):
        if isinstance(t, ast.Name):
            out.append(t.id)
    return out


def _assignments(func):
    """(target names, value expression) for every binding in ``func``."""
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            yield [n for t in node.targets for n in _targets(t)], node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value is not None:
            yield _targets(node.target), node.value
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            yield _targets(node.target), node.iter
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    yield _targets(item.optional_vars), item.context_expr


def _llm_objects(func, aliases) -> set[str]:
    names = set()
    for targets, value in _assignments(func):
        if isinstance(value, ast.Call) and (b_utils.get_call_name(value, aliases) or "") in LLM_FACTORIES:
            names.update(targets)
    return names


def _mentions_taint(expr, tainted: set[str], aliases, llm_objects) -> bool:
    for n in ast.walk(expr):
        if isinstance(n, ast.Name) and n.id in tainted:
            return True
        if isinstance(n, ast.Call) and _is_llm_call(n, aliases, llm_objects):
            return True
    return False


def tainted_names(func, aliases) -> set[str]:
    """Names holding LLM output in ``func``, to a fixed point."""
    llm_objects = _llm_objects(func, aliases)
    bindings = list(_assignments(func))
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for targets, value in bindings:
            if set(targets) <= tainted:
                continue
            if _mentions_taint(value, tainted, aliases, llm_objects):
                tainted.update(targets)
                changed = True
    return tainted


def _sink_kind(call: ast.Call, qual: str) -> str | None:
    if qual in EVAL_SINKS:
        return qual
    if qual in SHELL_ALWAYS:
        return qual
    if qual in SHELL_IF_FLAG and is_true(keyword(call, "shell")):
        return f"{qual}(shell=True)"
    return None


def _imports_llm_library(context) -> bool:
    return any(context.is_module_imported_like(m) for m in LLM_MODULES)


@test.checks("Call")
@test.test_id("B907")
def llm_output_to_exec(context):
    call = context.node
    kind = _sink_kind(call, context.call_function_name_qual or "")
    if kind is None or not _imports_llm_library(context):
        return None
    func = _enclosing_function(call)
    if func is None:
        return None
    aliases = context.import_aliases
    # Cached on the function node: one analysis per function, not per sink.
    tainted = getattr(func, "_wb_llm_tainted", None)
    if tainted is None:
        tainted = tainted_names(func, aliases)
        func._wb_llm_tainted = tainted
        func._wb_llm_objects = _llm_objects(func, aliases)
    args = list(call.args) + [kw.value for kw in call.keywords if kw.arg != "shell"]
    if not any(_mentions_taint(a, tainted, aliases, func._wb_llm_objects) for a in args):
        return None
    info = RULES_BY_ID["B907"]
    cwe = 94 if kind in EVAL_SINKS else 78
    return bandit.Issue(
        severity=bandit.HIGH, confidence=bandit.MEDIUM, cwe=cwe,
        text=f"LLM output reaches {kind} in {func.name}(). {info.help}",
    )
