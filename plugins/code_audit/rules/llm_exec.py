"""Rule B907: LLM (or tool) output executed as code or as a shell command.

Only files that import an LLM library (one of ``LLM_MODULES``, matched as
bandit's ``is_module_imported_like`` does, on the imports above the call)
are analysed. The analysis covers one module at a time: its functions, its
methods, its top-level code, and the call graph between them.

Sources of model output:

- calls to a known LLM client, recognised by the dotted name
  (``*.chat.completions.create``, ``*.messages.create``,
  ``*.generate_content``, ``ollama.chat``, ``litellm.completion``,
  langchain ``*.invoke``/``*.predict``, ...);
- calls of, or run/generate/predict/invoke/chat calls on, an object built by a
  model factory (HF ``pipeline(...)``, ``Llama``, vLLM ``LLM``, LangChain
  ``LLMChain``/``ConversationChain``/``Chat*`` models, ``init_chat_model``)
  in the same function or at module level;
- calls to a function of the same module that returns (or yields) model
  output, to a fixed point over the module's call graph.

Propagation inside a function: a variable assigned (=, :=, +=, for-target,
with-as) from an expression that contains a source or an already tainted
variable is tainted; attribute access, indexing, f-strings, concatenation
and any call that takes a tainted value keep the taint. Assignments are
iterated to a fixed point, so order inside loops does not matter. Variables
tainted by top-level code are tainted in functions that read them without
rebinding them.

Sinks:

- ``eval``, ``exec``, ``compile``, ``os.system``, ``os.popen``,
  ``subprocess.getoutput``/``getstatusoutput``, and ``subprocess.run``/
  ``call``/``check_call``/``check_output``/``Popen`` with ``shell=True``;
- ``run``/``invoke``/``_run``/``arun``/``ainvoke`` (or a call) of a LangChain
  ``PythonREPL``, ``PythonREPLTool``, ``PythonAstREPLTool``, ``BashProcess`` or
  ``ShellTool`` object, built inline or bound to a name (also through a
  ``Tool(func=repl.run)`` wrapper);
- a call to a function of the same module whose parameter reaches one of
  the sinks above (directly or through further such calls): the finding is
  on the call that passes model output in, and names the sink's line.

Reported without data flow, because the model's output is the tool's input
by construction: a LangChain pipe (``prompt | model | parser | repl.run``)
with a REPL or shell step after the first step (MEDIUM confidence when an
earlier step is a recognised model, LOW otherwise); an agent builder
(``initialize_agent``, ``create_react_agent``, ``AgentExecutor``,
``bind_tools``, ...) given one of those tools or ``load_tools(["terminal"])``;
``create_python_agent``, the pandas/csv/spark dataframe agents and ``PALChain``,
which run model-written Python; and ``LLMMathChain`` (LOW: it evaluates
model-written math with numexpr, which ran code in old langchain/numexpr
releases). An agent builder that receives the same tools as an earlier one in
the same function (``create_react_agent`` then ``AgentExecutor``) is reported
once.

Call graph: ``f(...)`` resolves to every function named ``f`` defined in the
module outside a class; ``self.m(...)``/``cls.m(...)`` to the method ``m`` of
the enclosing class. Arguments map to parameters by position and keyword;
extra ones go to the callee's ``*args``/``**kwargs``.

Not followed: other modules (imports are opaque); methods called on anything
but ``self``/``cls``, methods inherited from a base class, ``__init__`` through
``Class(...)``; arguments written as ``*seq``/``**mapping`` and any positional
argument after one; attributes of ``self`` or other objects; containers mutated
in place (``d["k"] = reply``); globals assigned inside a function; callbacks and
functions passed as values; decorators; pipes built with ``.pipe()`` or
``RunnableSequence``. It over-approximates when a tainted value only computes
something harmless (``len(reply)``), when two functions share a name, and for a
nested function, which is analysed with its parent as well as alone.
"""

from __future__ import annotations

import ast
import re

import bandit
from bandit.core import test_properties as test
from bandit.core import utils as b_utils

from ._util import imported_names, is_true, keyword, record_import, string_value
from .catalog import RULES_BY_ID

LLM_MODULES = ("openai", "anthropic", "google.generativeai", "google.genai",
               "mistralai", "cohere", "ollama", "litellm", "langchain",
               "langchain_openai", "langchain_anthropic", "langchain_core",
               "langchain_community", "langchain_experimental", "langgraph",
               "llama_cpp", "groq", "vllm", "huggingface_hub", "transformers",
               "autogen", "autogen_agentchat", "autogen_ext", "autogen_core")
LLM_CALL_SUFFIXES = (
    "chat.completions.create", "completions.create", "responses.create",
    "messages.create", "generate_content", "chat.complete", "chat_completion",
    "text_generation", "ChatCompletion.create", "Completion.create",
    "ollama.chat", "ollama.generate", "litellm.completion", ".invoke",
    ".ainvoke", ".predict", ".create_completion", ".create_chat_completion",
)
LLM_FACTORIES = ("transformers.pipeline", "pipeline", "llama_cpp.Llama", "Llama",
                 "vllm.LLM", "LLM", "init_chat_model")
# LangChain classes whose objects produce model output (besides Chat* models).
LANGCHAIN_MODELS = {"LLMChain", "ConversationChain", "OpenAI", "Anthropic", "Ollama",
                    "LlamaCpp", "HuggingFacePipeline", "HuggingFaceEndpoint", "VLLM"}
LLM_OBJECT_METHODS = {"run", "arun", "generate", "chat", "predict", "invoke", "ainvoke",
                      "create_completion", "create_chat_completion", "stream", "batch",
                      "complete", "__call__"}
EVAL_SINKS = {"eval", "exec", "compile"}
SHELL_ALWAYS = {"os.system", "os.popen", "subprocess.getoutput",
                "subprocess.getstatusoutput"}
SHELL_IF_FLAG = {"subprocess.run", "subprocess.call", "subprocess.check_call",
                 "subprocess.check_output", "subprocess.Popen"}
# LangChain tools that execute their input: class -> CWE (94 code, 78 shell).
TOOL_CLASSES = {"PythonREPL": 94, "PythonREPLTool": 94, "PythonAstREPLTool": 94,
                "BashProcess": 78, "ShellTool": 78}
LOAD_TOOLS_EXEC = {"terminal": 78, "python_repl": 94}
TOOL_RUN_METHODS = {"run", "arun", "_run", "_arun", "invoke", "ainvoke", "__call__"}
TOOL_WRAPPERS = {"Tool", "StructuredTool", "from_function", "RunnableLambda", "tool"}
AGENT_BUILDERS = {"initialize_agent", "create_react_agent", "create_tool_calling_agent",
                  "create_openai_functions_agent", "create_openai_tools_agent",
                  "create_structured_chat_agent", "create_json_chat_agent", "create_xml_agent",
                  "create_agent", "AgentExecutor", "from_agent_and_tools", "bind_tools",
                  "ToolNode", "from_llm_and_tools"}
# Other agent frameworks' builders (AutoGPT.from_llm_and_tools, BabyAGI, a CrewAI Agent...): a
# call whose dotted name says "agent" and that is handed an executing tool gives it to a model.
_AGENTISH = re.compile(r"(?i)agent|autogpt|babyagi|crew|from_llm_and_tools")
# Code executors that run model-written code on this machine, not in a container.
HOST_EXECUTORS = {"LocalCommandLineCodeExecutor", "LocalJupyterCodeExecutor", "LocalCodeExecutor"}
PYTHON_AGENTS = {"create_python_agent", "create_pandas_dataframe_agent", "create_csv_agent",
                 "create_spark_dataframe_agent"}
MATH_CHAIN = "LLMMathChain"
PAL_CHAIN = "PALChain"
_MAX_ROUNDS = 10_000  # a guard only: every round adds a fact, and facts are finite


# --------------------------------------------------------------------------
# names


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _is_llm_factory(call: ast.Call, aliases) -> bool:
    name = b_utils.get_call_name(call, aliases) or ""
    if name in LLM_FACTORIES:
        return True
    last = _last(name)
    return name.startswith("langchain") and (last in LANGCHAIN_MODELS or (last.startswith("Chat") and last[4:5].isupper()))


def _is_llm_call(call: ast.Call, aliases, llm_objects) -> bool:
    name = b_utils.get_call_name(call, aliases) or ""
    if name.endswith(LLM_CALL_SUFFIXES) or name in ("ollama.chat", "ollama.generate"):
        return True
    func = call.func
    # generator = pipeline("text-generation"); generator(prompt) / llm.generate(prompts)
    if isinstance(func, ast.Name):
        return func.id in llm_objects
    if _self_attr(func) in llm_objects:  # self.llm(prompt)
        return True
    if not (isinstance(func, ast.Attribute) and func.attr in LLM_OBJECT_METHODS):
        return False
    receiver = func.value
    # llm.generate(prompts) / LLMChain(llm=llm, prompt=p).run(question) / self.llm_chain.run(q)
    return (isinstance(receiver, ast.Name) and receiver.id in llm_objects) or (
        _self_attr(receiver) in llm_objects) or (
        isinstance(receiver, ast.Call) and _is_llm_factory(receiver, aliases))


def _self_attr(expr) -> str | None:
    """``"self.x"`` for ``self.x`` / ``cls.x``: the key under which a class's attributes are held."""
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id in ("self", "cls"):
        return "self." + expr.attr
    return None


def _tool_class(call: ast.Call, aliases) -> tuple[int, str] | None:
    """(CWE, class) of an executing LangChain tool built by ``call``, else None."""
    name = _last(b_utils.get_call_name(call, aliases) or "")
    if name in TOOL_CLASSES:
        return TOOL_CLASSES[name], name
    if name == "load_tools":
        listed = call.args[0] if call.args else keyword(call, "tool_names")
        for element in getattr(listed, "elts", ()):
            cwe = LOAD_TOOLS_EXEC.get(string_value(element) or "")
            if cwe:
                return cwe, f"load_tools({string_value(element)!r})"
    return None


# --------------------------------------------------------------------------
# units: one per function, plus the module's top-level code


def _targets(node) -> list[str]:
    return [t.id for t in ast.walk(node) if isinstance(t, ast.Name)]


def _bindings(nodes):
    """(target names, value expression) for every binding among ``nodes``."""
    for node in nodes:
        if isinstance(node, ast.Assign):
            yield [n for t in node.targets for n in _targets(t)], node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value is not None:
            yield _targets(node.target), node.value
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            yield _targets(node.target), node.iter
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    yield _targets(item.optional_vars), item.context_expr


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


_SHELL_FLAG_NAMES = {_last(q) for q in SHELL_IF_FLAG}
_DIRECT_NAMES = EVAL_SINKS | {_last(q) for q in SHELL_ALWAYS} | PYTHON_AGENTS | HOST_EXECUTORS | {
    MATH_CHAIN, PAL_CHAIN, "from_math_prompt", "from_colored_object_prompt"}


def _sink_shaped(call: ast.Call) -> bool:
    """Whether ``call`` could be a sink by its name alone (before any resolution)."""
    name = _call_name(call)
    if name in _DIRECT_NAMES or any(kw.arg == "code_execution_config" for kw in call.keywords):
        return True
    if name == "from_llm":  # LLMMathChain.from_llm
        return MATH_CHAIN in ast.unparse(call.func)
    return name in _SHELL_FLAG_NAMES and any(kw.arg == "shell" for kw in call.keywords)


class _Index:
    """One pass over a module: the nodes of each function and of the top-level code.

    A function's nodes include those of functions nested in it (as ``ast.walk``
    of the function would); the top-level code excludes function, lambda and
    class bodies. Also collects the names of all functions, whether a tool class
    is named anywhere, and the imports (filling ``imported_names``' cache).
    """

    def __init__(self, module):
        self.nodes: dict[ast.AST, list] = {}
        self.top: list = []
        self.class_of: dict[ast.AST, ast.ClassDef] = {}  # method -> its class
        self.functions: list = []
        self.def_names: set[str] = set()
        self.tool_named = False  # a LangChain tool class (or load_tools) is named somewhere
        self.has_sink = False  # some call looks like eval/exec/a shell/a code-running chain
        imports: dict[str, str] = {}
        todo = [(c, (), False) for c in reversed(list(ast.iter_child_nodes(module)))]
        while todo:
            node, owners, hidden = todo.pop()
            for owner in owners:
                self.nodes[owner].append(node)
            if not owners and not hidden:
                self.top.append(node)
            inner, inner_hidden = owners, hidden
            if isinstance(node, _FUNCTIONS):
                self.nodes[node] = []
                self.functions.append(node)
                self.def_names.add(node.name)
                inner = owners + (node,)
            elif isinstance(node, (ast.Lambda, ast.ClassDef)):
                inner_hidden = True
                if isinstance(node, ast.ClassDef):
                    for stmt in node.body:
                        if isinstance(stmt, _FUNCTIONS):
                            self.class_of[stmt] = node
            elif isinstance(node, ast.Name):
                self.tool_named = self.tool_named or node.id in TOOL_CLASSES or node.id == "load_tools"
            elif isinstance(node, ast.Call) and not self.has_sink:
                self.has_sink = _sink_shaped(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                record_import(node, imports)
            todo.extend((c, inner, inner_hidden) for c in reversed(list(ast.iter_child_nodes(node))))
        if getattr(module, "_wb_imported_names", None) is None:
            module._wb_imported_names = imports


def _index(module) -> _Index:
    index = getattr(module, "_wb_llm_index", None)
    if index is None:
        index = module._wb_llm_index = _Index(module)
    return index


class _Unit:
    def __init__(self, node, nodes, cls=None):
        self.node = node
        self.cls = cls
        is_func = isinstance(node, _FUNCTIONS)
        self.label = f"{node.name}()" if is_func else "module code"
        self.bindings = list(_bindings(nodes))
        self.bound = {n for targets, _ in self.bindings for n in targets}
        self.calls = [n for n in nodes if isinstance(n, ast.Call)]
        self.results = [n.value for n in nodes if isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom))
                        and n.value is not None]
        args = node.args if is_func else None
        self.positional = [a.arg for a in (args.posonlyargs + args.args)] if args else []
        self.vararg = args.vararg.arg if args and args.vararg else None
        self.kwonly = [a.arg for a in args.kwonlyargs] if args else []
        self.kwarg = args.kwarg.arg if args and args.kwarg else None
        self.params = self.positional + ([self.vararg] if self.vararg else []) + self.kwonly + \
            ([self.kwarg] if self.kwarg else [])
        self.bound.update(self.params)
        self.llm_objects: set[str] = set()
        self.tools: dict[str, tuple[int, str]] = {}  # name -> (CWE, tool class)
        self.taint: set[str] = set()


def _named_tool(expr) -> tuple[int, str] | None:
    """A tool class named in an annotation or a default_factory: ``BashProcess``,
    ``Field(default_factory=PythonREPL)``."""
    for node in ast.walk(expr):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name in TOOL_CLASSES:
            return TOOL_CLASSES[name], name
    return None


def _named_model(expr) -> bool:
    """A model or chain class named in a class field's annotation (``llm_chain: LLMChain``)."""
    for node in ast.walk(expr):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name and (name in LANGCHAIN_MODELS or name in ("BaseLanguageModel", "BaseChatModel", "BaseLLM")
                     or (name.startswith("Chat") and name[4:5].isupper())):
            return True
    return False


class _Sink:
    """Where a value ends up executed: ``kind`` (e.g. "exec") on ``line`` of ``unit``."""

    def __init__(self, kind: str, cwe: int, unit: _Unit, line: int,
                 chain: tuple[tuple[str, str], ...] = ()):
        # chain: (function, parameter) hops from the call site to the function holding the sink
        self.kind, self.cwe, self.unit, self.line, self.chain = kind, cwe, unit, line, chain

    def describe(self) -> str:
        return f"{self.kind} in {self.unit.label} (line {self.line})"


class _ModuleFlow:
    """The whole-module analysis, built once per file on the first candidate sink."""

    def __init__(self, module):
        index = _index(module)
        self.aliases = imported_names(module)
        self.module_unit = _Unit(module, index.top)
        self.units: dict[ast.AST, _Unit] = {}
        self.by_name: dict[str, list[_Unit]] = {}
        self.methods: dict[tuple[ast.AST, str], _Unit] = {}
        for node in index.functions:
            cls = index.class_of.get(node)
            unit = self.units[node] = _Unit(node, index.nodes[node], cls=cls)
            if cls is not None:
                self.methods[(cls, node.name)] = unit
            else:
                self.by_name.setdefault(node.name, []).append(unit)
        self._llm_calls: dict = {}  # (call, unit) -> (is an LLM call, callees)
        self._expr_parts: dict = {}
        self._param_flows: dict = {}  # (unit, param) -> names the parameter reaches
        self.returns_taint: set[_Unit] = set()
        self.sink_params: dict[_Unit, dict[str, _Sink]] = {u: {} for u in self.units.values()}
        self._objects()
        self._solve()

    # -- objects built by factories -------------------------------------------------

    def _objects(self):
        top = self.module_unit
        top.llm_objects = self._llm_objects(top, set())
        top.tools = self._tools(top, {})
        for unit in self.units.values():
            unit.llm_objects = self._llm_objects(unit, top.llm_objects - unit.bound)
            unit.tools = self._tools(unit, {k: v for k, v in top.tools.items() if k not in unit.bound})
        # What a class holds in self.<attr>: set in any of its methods, or declared as a class field
        # (LLMBashChain-style: bash_process: BashProcess = Field(default_factory=BashProcess)).
        held_tools: dict = {}
        held_models: dict = {}
        for unit in self.units.values():
            if unit.cls is None:
                continue
            tools, models = held_tools.setdefault(unit.cls, {}), held_models.setdefault(unit.cls, set())
            for node in ast.walk(unit.node):
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                        key = _self_attr(target)
                        if key is None:
                            continue
                        found = self.tool_of(node.value, unit.tools)
                        if found:
                            tools.setdefault(key, found)
                        if self.mentions(node.value, unit.llm_objects, unit, sources=False) or any(
                                _is_llm_factory(c, self.aliases) for c in self._parts(node.value)[1]):
                            models.add(key)
        for cls in {u.cls for u in self.units.values() if u.cls is not None}:
            tools, models = held_tools.setdefault(cls, {}), held_models.setdefault(cls, set())
            for stmt in cls.body:
                target = stmt.target if isinstance(stmt, ast.AnnAssign) else (
                    stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None)
                if not isinstance(target, ast.Name):
                    continue
                parts = [getattr(stmt, "annotation", None), stmt.value]
                for part in parts:
                    if part is None:
                        continue
                    found = self.tool_of(part, top.tools) or _named_tool(part)
                    if found:
                        tools.setdefault("self." + target.id, found)
                    if any(_is_llm_factory(c, self.aliases) for c in self._parts(part)[1]) or \
                            _named_model(part):
                        models.add("self." + target.id)
        for unit in self.units.values():
            if unit.cls is not None:
                for key, found in held_tools.get(unit.cls, {}).items():
                    unit.tools.setdefault(key, found)
                unit.llm_objects |= held_models.get(unit.cls, set())

    def _llm_objects(self, unit, inherited: set[str]) -> set[str]:
        names = set(inherited)
        for targets, value in unit.bindings:
            # llm = ChatOpenAI(...); llm = ChatOpenAI(...).bind(stop=["x"])
            if any(_is_llm_factory(n, self.aliases) for n in self._parts(value)[1]):
                names.update(targets)
        # chain = prompt | llm | StrOutputParser(): a pipe through a model is a model
        changed = True
        while changed:
            changed = False
            for targets, value in unit.bindings:
                if (isinstance(value, ast.BinOp) and isinstance(value.op, ast.BitOr)
                        and not set(targets) <= names
                        and any(isinstance(step, ast.Name) and step.id in names for step in _pipe_steps(value))):
                    names.update(targets)
                    changed = True
        return names

    def tool_of(self, expr, tools) -> tuple[int, str] | None:
        """(CWE, class) of the executing tool that ``expr`` is, holds or wraps, else None.

        A tool is: a tool class built inline; a name bound to one; ``x.run`` of
        one; a list/tuple/set or ``+`` of lists holding one; ``Tool(func=repl.run)``,
        ``Tool.from_function``/``StructuredTool.from_function``/``RunnableLambda``
        wrapping one; ``load_tools`` naming "terminal" or "python_repl". Anything
        else built from a tool (an agent, a chain) is not itself a tool.
        """
        if isinstance(expr, ast.Name):
            return tools.get(expr.id)
        if isinstance(expr, ast.Attribute):
            held = _self_attr(expr)
            if held in tools:  # self.shell = ShellTool() in __init__, or a class field holding one
                return tools[held]
            return self.tool_of(expr.value, tools) if expr.attr in TOOL_RUN_METHODS else None
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            return next((c for c in (self.tool_of(e, tools) for e in expr.elts) if c), None)
        if isinstance(expr, ast.Starred):
            return self.tool_of(expr.value, tools)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return self.tool_of(expr.left, tools) or self.tool_of(expr.right, tools)
        if isinstance(expr, ast.Call):
            found = _tool_class(expr, self.aliases)
            if found:
                return found
            if _last(b_utils.get_call_name(expr, self.aliases) or "") in TOOL_WRAPPERS:
                for arg in list(expr.args) + [kw.value for kw in expr.keywords]:
                    found = self.tool_of(arg, tools)
                    if found:
                        return found
        return None

    def _tools(self, unit, inherited):
        tools = dict(inherited)
        changed = True
        while changed:
            changed = False
            for targets, value in unit.bindings:
                if all(t in tools for t in targets):
                    continue
                found = self.tool_of(value, tools)
                if found:
                    for t in targets:
                        tools.setdefault(t, found)
                    changed = True
        return tools

    # -- call graph ---------------------------------------------------------------

    def callees(self, call: ast.Call, unit: _Unit) -> list[tuple[_Unit, bool]]:
        """Functions of this module that ``call`` may run, with "called through self/cls"."""
        func = call.func
        if isinstance(func, ast.Name):
            return [(u, False) for u in self.by_name.get(func.id, ())]
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in ("self", "cls") and unit.cls is not None):
            target = self.methods.get((unit.cls, func.attr))
            return [(target, True)] if target is not None else []
        return []

    @staticmethod
    def arguments(call: ast.Call, callee: _Unit, bound_method: bool) -> list[tuple[str, ast.expr]]:
        """(parameter name, argument expression) pairs, for what can be mapped statically;
        every extra argument pairs with the callee's ``*args`` or ``**kwargs``."""
        out: list[tuple[str, ast.expr]] = []
        positional = callee.positional[1:] if bound_method else callee.positional
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                break
            if i < len(positional):
                out.append((positional[i], arg))
            elif callee.vararg:
                out.append((callee.vararg, arg))
        for kw in call.keywords:
            if kw.arg is None:
                continue
            if kw.arg in positional or kw.arg in callee.kwonly:
                out.append((kw.arg, kw.value))
            elif callee.kwarg:
                out.append((callee.kwarg, kw.value))
        return out

    # -- taint ---------------------------------------------------------------------

    def is_source(self, call: ast.Call, unit: _Unit) -> bool:
        key = (call, unit)
        static = self._llm_calls.get(key)
        if static is None:
            static = self._llm_calls[key] = (_is_llm_call(call, self.aliases, unit.llm_objects),
                                             [c for c, _ in self.callees(call, unit)])
        return static[0] or any(callee in self.returns_taint for callee in static[1])

    def _parts(self, expr):
        """(names, calls) inside ``expr``, computed once per expression."""
        parts = self._expr_parts.get(expr)
        if parts is None:
            names, calls = set(), []
            for n in ast.walk(expr):
                if isinstance(n, ast.Name):
                    names.add(n.id)
                elif isinstance(n, ast.Call):
                    calls.append(n)
            parts = self._expr_parts[expr] = (names, calls)
        return parts

    def mentions(self, expr, tainted: set[str], unit: _Unit, sources: bool = True) -> bool:
        names, calls = self._parts(expr)
        if not names.isdisjoint(tainted):
            return True
        return sources and any(self.is_source(c, unit) for c in calls)

    def propagate(self, unit: _Unit, seed: set[str], sources: bool = True) -> set[str]:
        tainted = set(seed)
        changed = True
        while changed:
            changed = False
            for targets, value in unit.bindings:
                if set(targets) <= tainted:
                    continue
                if self.mentions(value, tainted, unit, sources):
                    tainted.update(targets)
                    changed = True
        return tainted

    # -- sinks ---------------------------------------------------------------------

    def sinks(self, call: ast.Call, unit: _Unit):
        """(argument expression, sink) pairs: what would be executed if it were model output."""
        qual = b_utils.get_call_name(call, self.aliases) or ""
        kind = _direct_sink(call, qual)
        if kind is not None:
            sink = _Sink(kind, 94 if kind in EVAL_SINKS else 78, unit, call.lineno)
            for arg in list(call.args) + [kw.value for kw in call.keywords if kw.arg != "shell"]:
                yield arg, sink
            return
        func = call.func
        receiver = None
        if isinstance(func, ast.Attribute) and func.attr in TOOL_RUN_METHODS:
            receiver, method = func.value, func.attr
        elif isinstance(func, ast.Name) and func.id in unit.tools:
            receiver, method = func, "__call__"
        if receiver is not None:
            found = self.tool_of(receiver, unit.tools)
            if found:
                cwe, label = found
                shown = ast.unparse(receiver)
                kind = f"{label}.{method}" if shown.startswith(label) else f"{label}.{method} ({shown})"
                sink = _Sink(kind, cwe, unit, call.lineno)
                for arg in list(call.args) + [kw.value for kw in call.keywords]:
                    yield arg, sink
                return
        for callee, bound_method in self.callees(call, unit):
            params = self.sink_params.get(callee) or {}
            if not params:
                continue
            for name, arg in self.arguments(call, callee, bound_method):
                inner = params.get(name)
                if inner is not None:
                    yield arg, _Sink(inner.kind, inner.cwe, inner.unit, inner.line,
                                     ((callee.label, name),) + inner.chain)

    def _solve(self):
        """Fixed point of "returns model output" and "parameter reaches a sink".

        Both only grow, so this ends; a unit is looked at again only when one of
        the functions it calls changed in the previous round.
        """
        top = self.module_unit
        units = list(self.units.values())
        calls_into = {u: {c for call in u.calls for c, _ in self.callees(call, u)} for u in units + [top]}
        candidates = [u for u in units if any(True for c in u.calls for _ in self._sink_shapes(c, u))]
        new_returns: set[_Unit] | None = None  # None: first round, look at everything
        new_sinks: set[_Unit] | None = None
        for _ in range(_MAX_ROUNDS):
            added_returns: set[_Unit] = set()
            added_sinks: set[_Unit] = set()
            globals_changed = False
            if new_returns is None or calls_into[top] & new_returns:
                before = top.taint
                top.taint = self.propagate(top, set())
                globals_changed = top.taint != before
            for unit in units:
                if new_returns is None or globals_changed or calls_into[unit] & new_returns:
                    unit.taint = self.propagate(unit, top.taint - unit.bound)
                    if unit not in self.returns_taint and any(
                            self.mentions(r, unit.taint, unit) for r in unit.results):
                        self.returns_taint.add(unit)
                        added_returns.add(unit)
            for unit in candidates:
                if new_sinks is not None and not calls_into[unit] & new_sinks:
                    continue
                known = self.sink_params[unit]
                for param in unit.params:
                    if param in known:
                        continue
                    flow = self._param_flows.get((unit, param))
                    if flow is None:
                        flow = self._param_flows[(unit, param)] = self.propagate(unit, {param}, sources=False)
                    for call in unit.calls:
                        hit = next((s for a, s in self.sinks(call, unit)
                                    if self.mentions(a, flow, unit, sources=False)), None)
                        if hit is not None:
                            known[param] = hit
                            added_sinks.add(unit)
                            break
            if not (added_returns or added_sinks):
                return
            new_returns, new_sinks = added_returns, added_sinks

    def _sink_shapes(self, call, unit):
        """Cheap pre-filter: calls that can be sinks at all (sink_params may grow later)."""
        qual = b_utils.get_call_name(call, self.aliases) or ""
        if _direct_sink(call, qual) is not None:
            yield call
        elif isinstance(call.func, ast.Attribute) and call.func.attr in TOOL_RUN_METHODS:
            yield call
        elif self.callees(call, unit) or (isinstance(call.func, ast.Name) and call.func.id in unit.tools):
            yield call

    def unit_of(self, node) -> _Unit:
        parent = getattr(node, "_bandit_parent", None)
        while parent is not None:
            if isinstance(parent, _FUNCTIONS):
                return self.units.get(parent, self.module_unit)
            parent = getattr(parent, "_bandit_parent", None)
        return self.module_unit


def _direct_sink(call: ast.Call, qual: str) -> str | None:
    if qual == "compile" and any("PyCF_ONLY_AST" in ast.unparse(a) for a in
                                 list(call.args[3:]) + [kw.value for kw in call.keywords if kw.arg == "flags"]):
        return None  # compile(..., ast.PyCF_ONLY_AST) only parses: an AST-only validator runs nothing
    if qual in EVAL_SINKS or qual in SHELL_ALWAYS:
        return qual
    if qual in SHELL_IF_FLAG and is_true(keyword(call, "shell")):
        return f"{qual}(shell=True)"
    return None


# --------------------------------------------------------------------------
# the single-function view (kept: it documents the propagation on its own)


def tainted_names(func, aliases) -> set[str]:
    """Names holding LLM output in ``func`` alone (no module context), to a fixed point."""
    unit = _Unit(func, [n for n in ast.walk(func) if n is not func])
    llm_objects = {n for targets, value in unit.bindings
                   if isinstance(value, ast.Call) and (b_utils.get_call_name(value, aliases) or "") in LLM_FACTORIES
                   for n in targets}
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for targets, value in unit.bindings:
            if set(targets) <= tainted:
                continue
            if any((isinstance(n, ast.Name) and n.id in tainted)
                   or (isinstance(n, ast.Call) and _is_llm_call(n, aliases, llm_objects))
                   for n in ast.walk(value)):
                tainted.update(targets)
                changed = True
    return tainted


# --------------------------------------------------------------------------
# the bandit plugin


def _module_root(node):
    while getattr(node, "_bandit_parent", None) is not None:
        node = node._bandit_parent
    return node


def _is_llm_file(context, module) -> bool:
    """Whether bandit has seen an LLM import in this file so far.

    bandit's import list grows while it walks the file, so the answer is kept
    per module together with the list's size and recomputed when it grows.
    """
    imports = getattr(context, "_context", {}).get("imports")
    if imports is None:  # a bandit without the list: no caching
        return any(context.is_module_imported_like(m) for m in LLM_MODULES)
    cached = getattr(module, "_wb_llm_file", None)
    if cached is None or cached[0] != len(imports):
        cached = (len(imports), any(context.is_module_imported_like(m) for m in LLM_MODULES))
        module._wb_llm_file = cached
    return cached[1]


def _flow(module) -> _ModuleFlow:
    flow = getattr(module, "_wb_llm_flow", None)
    if flow is None:
        flow = module._wb_llm_flow = _ModuleFlow(module)
    return flow


_SINK_NAMES = (EVAL_SINKS | TOOL_RUN_METHODS | AGENT_BUILDERS | PYTHON_AGENTS | {
    "system", "popen", "getoutput", "getstatusoutput", "Popen", "call", "check_call",
    "check_output", "from_llm", "from_math_prompt", "from_colored_object_prompt",
    MATH_CHAIN, PAL_CHAIN})


def _could_matter(call: ast.Call, module) -> bool:
    """Cheap test, in an LLM file, before the module analysis is built."""
    name = _call_name(call)
    if name in _SINK_NAMES or name in HOST_EXECUTORS or _AGENTISH.search(name) \
            or any(kw.arg == "code_execution_config" for kw in call.keywords):
        return True
    index = _index(module)
    # a bound tool called directly, repl(code), is only possible where a tool class is named
    return name in index.def_names or (isinstance(call.func, ast.Name) and index.tool_named)


def _issue(severity, confidence, cwe: int, detail: str):
    info = RULES_BY_ID["B907"]
    return bandit.Issue(severity=severity, confidence=confidence, cwe=cwe,
                        text=f"{detail}. {info.help}")


def _builder_name(call: ast.Call, flow: _ModuleFlow) -> str:
    qual = b_utils.get_call_name(call, flow.aliases) or ""
    return _last(qual) or (call.func.attr if isinstance(call.func, ast.Attribute) else "")


def _tool_argument(call: ast.Call, flow: _ModuleFlow, unit: _Unit) -> tuple[int, str] | None:
    """(CWE, text) of the first argument of ``call`` that is an executing tool."""
    for arg in list(call.args) + [kw.value for kw in call.keywords]:
        found = flow.tool_of(arg, unit.tools)
        if found:
            return found[0], f"{found[1]} ({ast.unparse(arg)})"
    return None


def _is_builder(call: ast.Call, flow: _ModuleFlow) -> bool:
    name = _builder_name(call, flow)
    if name in AGENT_BUILDERS:
        return True
    if name in TOOL_WRAPPERS or name in TOOL_CLASSES or name in TOOL_RUN_METHODS:
        return False
    qual = b_utils.get_call_name(call, flow.aliases) or ""
    return bool(_AGENTISH.search(qual))


def _in_fallback(call: ast.Call) -> bool:
    """Is ``call`` in an ``except`` handler whose ``try`` builds a Docker executor (a fallback)?"""
    node, up = call, getattr(call, "_bandit_parent", None)
    while up is not None:
        if isinstance(up, ast.ExceptHandler):
            attempt = getattr(up, "_bandit_parent", None)
            if isinstance(attempt, ast.Try) and any("Docker" in ast.unparse(stmt) for stmt in attempt.body):
                return True
        node, up = up, getattr(up, "_bandit_parent", None)
    return False


def _host_execution(call: ast.Call, flow: _ModuleFlow):
    """A code executor that runs model-written code on this machine (autogen's
    LocalCommandLineCodeExecutor; ``code_execution_config={"use_docker": False}``)."""
    name = _builder_name(call, flow)
    if name in HOST_EXECUTORS:
        fallback = (" as the fallback when the Docker executor cannot start (only a warning says so)"
                    if _in_fallback(call) else "")
        return _issue(bandit.HIGH, bandit.MEDIUM, 94,
                      f"{name}() runs model-written code on this machine, not in a container{fallback}")
    config = keyword(call, "code_execution_config")
    if isinstance(config, ast.Dict):
        for k, v in zip(config.keys, config.values):
            if k is not None and string_value(k) == "use_docker" and isinstance(v, ast.Constant) and v.value is False:
                return _issue(bandit.HIGH, bandit.MEDIUM, 94,
                              f"{name}(code_execution_config={{'use_docker': False}}) runs model-written code "
                              "on this machine, not in a container")
    return None


def _check_call(call: ast.Call, flow: _ModuleFlow):
    dangerous = keyword(call, "allow_dangerous_code")
    if isinstance(dangerous, ast.Constant) and dangerous.value is False:
        return None  # the library refuses to build it: nothing model-written runs
    unit = flow.unit_of(call)
    where = "module code" if unit is flow.module_unit else unit.label
    for arg, sink in flow.sinks(call, unit):
        if not flow.mentions(arg, unit.taint, unit):
            continue
        if not sink.chain:
            text = f"LLM output reaches {sink.kind} in {where}"
        else:
            hops = ", which hands it to ".join(f"{label} as '{param}'" for label, param in sink.chain)
            text = f"LLM output reaches {sink.describe()}: {where} passes it to {hops}"
        return _issue(bandit.HIGH, bandit.MEDIUM, sink.cwe, text)
    qual = b_utils.get_call_name(call, flow.aliases) or ""
    name = _builder_name(call, flow)
    if name in PYTHON_AGENTS:
        return _issue(bandit.HIGH, bandit.MEDIUM, 94,
                      f"{name}() builds an agent whose Python REPL runs model-written code")
    host = _host_execution(call, flow)
    if host is not None:
        return host
    if _is_builder(call, flow):
        given = _tool_argument(call, flow, unit)
        if given is not None:
            # One finding per tool set: create_react_agent(llm, tools) and then
            # AgentExecutor(agent=..., tools=tools) wire the same tools once.
            first = min((c for c in unit.calls + [call] if _is_builder(c, flow)
                         and (_tool_argument(c, flow, unit) or (None, None))[1] == given[1]),
                        key=lambda c: (c.lineno, c.col_offset))
            if first is not call:
                return None
            cwe, label = given
            what = "Python REPL (model output runs as code)" if cwe == 94 else \
                "shell tool (model output runs as shell commands)"
            return _issue(bandit.HIGH, bandit.MEDIUM, cwe, f"{name}() gives the model a {what}: {label}")
    # LLMMathChain(...), LLMMathChain.from_llm(...), PALChain.from_math_prompt(...)
    parts = qual.split(".") if qual else [name]
    if PAL_CHAIN in parts:
        return _issue(bandit.HIGH, bandit.MEDIUM, 94,
                      "PALChain runs model-written Python (its AST checks are a filter, not a "
                      "sandbox; CVE-2023-36095)")
    if MATH_CHAIN in parts:
        return _issue(bandit.LOW, bandit.LOW, 94,
                      "LLMMathChain evaluates model-written expressions with numexpr, which ran "
                      "arbitrary code in old langchain/numexpr releases (CVE-2023-29374, "
                      "CVE-2023-39631); keep both current or compute with a parser you control")
    return None


def _pipe_steps(node) -> list[ast.expr]:
    """The operands of ``a | b | c`` in order (iterative: long chains are left-nested)."""
    steps, todo = [], [node]
    while todo:
        n = todo.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            todo += [n.right, n.left]
        else:
            steps.append(n)
    return steps


def _check_pipe(node: ast.BinOp, flow: _ModuleFlow):
    steps = _pipe_steps(node)
    unit = flow.unit_of(node)
    for i, step in enumerate(steps[1:], start=1):
        found = flow.tool_of(step, unit.tools)
        if not found:
            continue
        cwe = found[0]
        model_before = any(flow.mentions(s, unit.llm_objects, unit) or
                           any(isinstance(n, ast.Call) and _is_llm_factory(n, flow.aliases) for n in ast.walk(s))
                           for s in steps[:i])
        what = "a Python REPL" if cwe == 94 else "a shell"
        handed = "model output" if model_before else "the output of its earlier steps"
        return _issue(bandit.HIGH, bandit.MEDIUM if model_before else bandit.LOW, cwe,
                      f"A LangChain chain hands {handed} to {what}: {ast.unparse(step)}")
    return None


@test.checks("Call", "BinOp")
@test.test_id("B907")
def llm_output_to_exec(context):
    node = context.node
    if isinstance(node, ast.BinOp):
        # Only the outermost "|" of a pipe; its inner BinOps are parts of it.
        parent = getattr(node, "_bandit_parent", None)
        if not isinstance(node.op, ast.BitOr) or (
                isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.BitOr)):
            return None
        module = _module_root(node)
        if not _is_llm_file(context, module) or not _index(module).tool_named:
            return None
        return _check_pipe(node, _flow(module))
    module = _module_root(node)
    if not _is_llm_file(context, module):
        return None
    index = _index(module)
    # Nothing in the file can run code: no sink-shaped call and no LangChain tool.
    if not (index.has_sink or index.tool_named) or not _could_matter(node, module):
        return None
    return _check_call(node, _flow(module))
