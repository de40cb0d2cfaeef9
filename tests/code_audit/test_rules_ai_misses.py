"""The AI rules' misses of issue 8: B903 mappings and pinning, B904 source='local',
B909 hosts from the environment and apps built elsewhere, B907 across functions
and through LangChain REPL/shell tools. Real files audited by the real runner."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from .conftest import EXAMPLES, bandit_exe
from .test_rules import audit_one


def found(path, rule_id):
    """{line: (severity, confidence, cwe, text)} of one rule's findings in ``path``."""
    _, issues = audit_one(path)
    out = {}
    for i in issues:
        if i["test_id"] == rule_id:
            assert i["line"] not in out, f"two {rule_id} findings on line {i['line']}"
            out[i["line"]] = (i["severity"], i["confidence"], i["cwe"], i["text"])
    return out


def levels(hits):
    return {line: (sev, conf) for line, (sev, conf, _, _) in hits.items()}


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


NEGATIVES = ["B903_kwargs", "B904_local", "B907_callgraph", "B907_langchain", "B909_env", "B909_imported"]


@pytest.mark.parametrize("stem", NEGATIVES)
def test_new_negative_examples_are_quiet(stem):
    rule_id = stem.split("_")[0]
    assert found(EXAMPLES / f"{stem}_negative.py", rule_id) == {}


# --------------------------------------------------------------------------- B903


def test_b903_mappings_are_caught_and_pinning_lowers_severity():
    hits = found(EXAMPLES / "B903_kwargs_positive.py", "B903")
    assert levels(hits) == {
        10: ("HIGH", "HIGH"),  # {"trust_remote_code": True} then LLM(**engine_args)
        15: ("LOW", "HIGH"),  # same, LLM(**engine_args, revision=PINNED)
        20: ("LOW", "HIGH"),  # dict(trust_remote_code=True, revision="<40 hex>")
        25: ("HIGH", "HIGH"),  # model_kwargs={"trust_remote_code": True}
        30: ("HIGH", "HIGH"),  # opts["trust_remote_code"] = True
        35: ("HIGH", "HIGH"),  # revision="main"
        39: ("LOW", "HIGH"),  # revision=PINNED (module constant)
        43: ("HIGH", "HIGH"),  # revision=<parameter>
    }
    assert "**engine_args to LLM()" in hits[10][3] and "no revision= pins it" in hits[10][3]
    assert "pinned to commit 4f0c3d9a8b7e" in hits[15][3] and "downloaded" not in hits[15][3]
    assert "pinned to commit 0123456789ab" in hits[20][3]
    assert "model_kwargs= to pipeline()" in hits[25][3]
    assert "revision='main' is not a full 40-hex commit hash" in hits[35][3]
    assert "decided at run time" in hits[43][3]
    assert {cwe for _, _, cwe, _ in hits.values()} == {94}


def test_b903_short_hash_and_branch_stay_high():
    # The original example pins revision="3f1c2a9": a short hash is not a pin.
    hits = found(EXAMPLES / "B903_positive.py", "B903")
    assert levels(hits) == {5: ("HIGH", "HIGH"), 6: ("HIGH", "HIGH")}
    assert "'3f1c2a9' is not a full 40-hex commit hash" in hits[5][3]


def test_b903_hostile_revisions(tmp_path):
    path = write(tmp_path, "revisions.py", '''\
        from transformers import AutoModel

        TWICE = "0123456789abcdef0123456789abcdef01234567"
        TWICE = "main"
        UPPER = "0123456789ABCDEF0123456789ABCDEF01234567"


        def short(m):
            return AutoModel.from_pretrained(m, trust_remote_code=True, revision="0123456789abcdef0123456789abcdef0123456")


        def rebound(m):
            return AutoModel.from_pretrained(m, trust_remote_code=True, revision=TWICE)


        def upper(m):
            return AutoModel.from_pretrained(m, trust_remote_code=True, revision=UPPER)


        def code_only(m):
            return AutoModel.from_pretrained(m, trust_remote_code=True,
                                             code_revision="0123456789abcdef0123456789abcdef01234567")


        def other_mapping(m):
            pinned = {"revision": "0123456789abcdef0123456789abcdef01234567"}
            loose = {"trust_remote_code": True}
            return AutoModel.from_pretrained(m, **loose), pinned


        def nested(m):
            return {"engine": {"trust_remote_code": True}}
        ''')
    assert levels(found(path, "B903")) == {
        9: ("HIGH", "HIGH"),  # 39 hex digits
        13: ("HIGH", "HIGH"),  # a constant bound twice is not a known value
        17: ("LOW", "HIGH"),
        21: ("LOW", "HIGH"),  # code_revision pins the code
        27: ("HIGH", "HIGH"),  # a revision in another mapping does not pin this one
        32: ("HIGH", "HIGH"),
    }


# --------------------------------------------------------------------------- B904


def test_b904_local_source_says_local():
    hits = found(EXAMPLES / "B904_local_positive.py", "B904")
    assert levels(hits) == {7: ("LOW", "HIGH"), 8: ("MEDIUM", "MEDIUM")}
    for _, _, cwe, text in hits.values():
        assert "source='local'" in text and "remote repository" not in text and cwe == 494
    assert "local directory './third_party/yolo'" in hits[7][3]
    assert "chosen at run time" in hits[8][3]


def test_b904_remote_messages_unchanged():
    hits = found(EXAMPLES / "B904_positive.py", "B904")
    assert levels(hits) == {5: ("HIGH", "HIGH")} and "remote repository" in hits[5][3]


# --------------------------------------------------------------------------- B909


def test_b909_host_from_environment_defaulting_to_all_interfaces():
    hits = found(EXAMPLES / "B909_env_positive.py", "B909")
    assert levels(hits) == {11: ("MEDIUM", "MEDIUM"), 16: ("MEDIUM", "MEDIUM"), 20: ("LOW", "MEDIUM")}
    assert "os.environ.get('HOST', '0.0.0.0')" in hits[11][3] and "no auth" in hits[11][3]
    assert "os.getenv('GRADIO_HOST', '0.0.0.0')" in hits[16][3]
    assert "(auth set)" in hits[20][3]


def test_b909_app_built_in_another_module():
    hits = found(EXAMPLES / "B909_imported_positive.py", "B909")
    assert levels(hits) == {10: ("MEDIUM", "MEDIUM"), 15: ("MEDIUM", "MEDIUM")}
    assert "built in another module (demo from app)" in hits[10][3] and "share=True" in hits[10][3]
    assert "build_ui from webui.builder" in hits[15][3] and "server_name='0.0.0.0'" in hits[15][3]


def test_b909_literal_share_keeps_high_confidence():
    assert levels(found(EXAMPLES / "B909_positive.py", "B909")) == {4: ("MEDIUM", "HIGH")}


def test_b909_hostile_hosts(tmp_path):
    path = write(tmp_path, "hosts.py", '''\
        import argparse
        import os

        import gradio as gr

        parser = argparse.ArgumentParser()
        parser.add_argument("--server-name", default="0.0.0.0")
        args = parser.parse_args()
        demo = gr.Blocks()
        fallback = os.environ.get("HOST") or "0.0.0.0"
        loop = loop if False else "127.0.0.1"
        demo.launch(server_name=args.server_name)
        demo.launch(server_name=fallback)
        demo.launch(server_name="::" if os.environ.get("V6") else "127.0.0.1")
        demo.launch(server_name=loop)
        demo.launch(server_name=os.getenv("HOST", default="0.0.0.0"), auth=None)
        demo.launch(**{"share": True})
        ''')
    hits = found(path, "B909")
    assert levels(hits) == {12: ("MEDIUM", "MEDIUM"), 13: ("MEDIUM", "MEDIUM"),
                            14: ("MEDIUM", "MEDIUM"), 16: ("MEDIUM", "MEDIUM")}
    assert "command-line option" in hits[12][3] and "falls back" in hits[13][3]


# --------------------------------------------------------------------------- B907


def test_b907_follows_model_output_across_functions():
    hits = found(EXAMPLES / "B907_callgraph_positive.py", "B907")
    assert levels(hits) == {33: ("HIGH", "MEDIUM"), 37: ("HIGH", "MEDIUM"),
                            41: ("HIGH", "MEDIUM"), 50: ("HIGH", "MEDIUM")}
    # Reported where model output is handed over, naming the sink and its line;
    # the sinks themselves (lines 18, 22, 53) get only fixed text or parameters.
    assert "exec in run_python() (line 18): solve() passes it to run_python() as 'source'" in hits[33][3]
    assert "operate() passes it to dispatch() as 'payload', which hands it to" in hits[37][3]
    assert "eval in inline()" in hits[41][3]  # ask() returns model output
    assert "os.system in execute() (line 53): act() passes it to execute() as 'plan'" in hits[50][3]
    assert (hits[33][2], hits[41][2], hits[50][2]) == (94, 94, 78)


def test_b907_langchain_repl_and_shell_tools():
    hits = found(EXAMPLES / "B907_langchain_positive.py", "B907")
    assert levels(hits) == {
        17: ("HIGH", "MEDIUM"),  # prompt | model | StrOutputParser() | PythonREPL().run
        22: ("HIGH", "MEDIUM"),  # PythonREPL().run(chain output)
        28: ("HIGH", "MEDIUM"),  # BashProcess().run(LLMChain.run output)
        32: ("HIGH", "MEDIUM"),  # create_python_agent
        34: ("HIGH", "MEDIUM"),  # create_react_agent(model, [ShellTool()])
        38: ("HIGH", "MEDIUM"),  # initialize_agent([Tool(func=repl.run)])
        39: ("HIGH", "MEDIUM"),  # initialize_agent(load_tools(["terminal"]))
        40: ("LOW", "LOW"),  # LLMMathChain
    }
    # AgentExecutor on line 35 gets the tools create_react_agent already got: one finding.
    assert {line: cwe for line, (_, _, cwe, _) in hits.items()} == {
        17: 94, 22: 94, 28: 78, 32: 94, 34: 78, 38: 94, 39: 78, 40: 94}
    assert "chain hands model output to a Python REPL" in hits[17][3]
    assert "BashProcess.run" in hits[28][3]
    assert "shell tool" in hits[34][3] and "ShellTool" in hits[34][3]


def test_b907_pipe_without_a_recognised_model_is_low_confidence(tmp_path):
    path = write(tmp_path, "pipe.py", '''\
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.runnables import RunnableLambda
        from langchain_experimental.utilities import PythonREPL
        from langchain_ollama import ChatOllama

        from .chains import build_chain, prompt

        runner = build_chain() | RunnableLambda(PythonREPL().run)
        plain = 3 | 4
        model = ChatOllama(model="llama3")
        chain = prompt | model | StrOutputParser()
        repl_chain = chain | str.strip | PythonREPL().run
        ''')
    # A pipe counts as a model when one of its steps is one (chain = prompt | model | ...).
    assert levels(found(path, "B907")) == {8: ("HIGH", "LOW"), 12: ("HIGH", "MEDIUM")}


def test_b907_hostile_module(tmp_path):
    path = write(tmp_path, "hostile.py", '''\
        import os
        import subprocess

        import anthropic

        client = anthropic.Anthropic()
        REPLY = client.messages.create(model="m", max_tokens=5, messages=[]).content[0].text


        def ping(x, n):
            return pong(x, n - 1) if n else eval(x)


        def pong(x, n):
            return ping(x, n)


        def spread(*commands, **options):
            os.system(commands[0])
            subprocess.run(options["cmd"], shell=True)


        def starred(parts):
            spread(*parts)
            spread("ls", REPLY)


        async def stream():
            reply = await client.messages.create(model="m", max_tokens=5, messages=[])
            yield reply.content[0].text


        async def consume():
            async for chunk in stream():
                exec(chunk)


        def nested():
            def inner(code):
                exec(code)
            inner(REPLY)


        def shadow():
            REPLY = "ls"
            os.system(REPLY)


        def walrus():
            if (text := client.messages.create(model="m", max_tokens=5, messages=[])):
                return (lambda: os.system(text.content[0].text))()


        class Holder:
            command = os.system(REPLY)

            def run(self):
                os.system(REPLY)


        ping(REPLY, 3)
        spread(options=None, cmd=REPLY)
        ''')
    hits = found(path, "B907")
    # 24: a starred argument is not mapped; 46: REPLY rebound locally.
    assert sorted(hits) == [25, 35, 41, 51, 55, 58, 61, 62]
    assert "os.system in spread() (line 19)" in hits[25][3] and "as 'commands'" in hits[25][3]
    assert "exec in consume()" in hits[35][3]  # async for over an async generator of model output
    assert "exec in inner() (line 40): nested() passes it to inner()" in hits[41][3]
    assert "os.system in walrus()" in hits[51][3]  # inside a lambda
    assert "in module code" in hits[55][3]  # class body
    assert "eval in ping() (line 11)" in hits[61][3] and "module code passes it to ping()" in hits[61][3]
    assert "shell=True" in hits[62][3] and "'options'" in hits[62][3]


def test_b907_recursion_and_wide_modules_end(tmp_path):
    # Mutual recursion through many functions, each handing its argument on: the
    # module fixed point must end and find the one real flow at the far end.
    body = ["import os", "import openai", "client = openai.OpenAI()", ""]
    n = 60
    for i in range(n):
        body += [f"def f{i}(a, b):", f"    return f{(i + 1) % n}(b, a) if a else os.system(b)", ""]
    body += ["def entry():",
             "    out = client.chat.completions.create(model='m', messages=[])",
             "    return f0(None, out)"]
    path = tmp_path / "ring.py"
    path.write_text("\n".join(body) + "\n")
    hits = found(path, "B907")
    assert list(hits) == [len(body)]
    assert "os.system in f0() (line 6)" in hits[len(body)][3]


def test_plain_bandit_reports_the_same_pack_findings(tmp_path):
    """bandit itself, through the installed entry points, agrees with our runner."""
    names = [f"{stem}_{kind}.py" for stem in NEGATIVES for kind in ("positive", "negative")]
    for name in names:
        (tmp_path / name).write_bytes((EXAMPLES / name).read_bytes())
    proc = subprocess.run([bandit_exe(), "-f", "json", "-q", *names], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    data = json.loads(proc.stdout)
    assert data["errors"] == []
    theirs = {(r["test_id"], os.path.basename(r["filename"]), r["line_number"], r["issue_severity"])
              for r in data["results"] if r["test_id"].startswith("B9")}
    if not theirs:
        pytest.skip("the rule pack's bandit entry points are not installed in this environment")
    ours = set()
    for name in names:
        _, issues = audit_one(tmp_path / name)
        ours |= {(i["test_id"], name, i["line"], i["severity"]) for i in issues
                 if i["test_id"].startswith("B9") and i["test_id"] != "B900"}
    assert ours == theirs


def test_b903_names_resolve_to_their_binding(tmp_path):
    path = write(tmp_path, "names.py", '''\
        from transformers import AutoModel

        revision = "0123456789abcdef0123456789abcdef01234567"


        def tagged(m):
            revision = "2024-04-02"
            return AutoModel.from_pretrained(m, trust_remote_code=True, revision=revision)


        def parameter(m, revision):
            # The module-level hash is shadowed by the parameter: nothing is known.
            return AutoModel.from_pretrained(m, trust_remote_code=True, revision=revision)


        def module_level(m):
            return AutoModel.from_pretrained(m, trust_remote_code=True, revision=revision)
        ''')
    hits = found(path, "B903")
    assert levels(hits) == {8: ("HIGH", "HIGH"), 13: ("HIGH", "HIGH"), 17: ("LOW", "HIGH")}
    assert "revision=revision ('2024-04-02') is not a full 40-hex commit hash" in hits[8][3]
    assert "decided at run time" in hits[13][3]


def test_b908_skips_placeholder_keys():
    from workbench_plugins.code_audit.rules.api_keys import find_key

    assert find_key('token = "hf_' + "x" * 34 + '"') is None
    assert find_key('key = "sk-' + "0" * 48 + '"') is None
    real = "hf_" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3h"
    assert find_key(f'token = "{real}"') == ("Hugging Face", real)
