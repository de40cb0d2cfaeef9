"""The AI rules' misses and false positives of issue 17, on code written for these tests
(tests/code_audit/examples/issue17): B909 hosts and auth set elsewhere, B907 tools held in
``self`` / other agent builders / host code executors, B903 parameter defaults and key lists,
and a short pinned commit hash that is not a secret. Real files, the real runner."""

from __future__ import annotations

import shutil

from .conftest import EXAMPLES
from .test_rules_ai_misses import found, levels

HERE = EXAMPLES / "issue17"


# --------------------------------------------------------------------------- B909


def test_b909_conditional_env_default_and_defaults_set_in_sibling_modules():
    hits = found(HERE / "chatui" / "webapp.py", "B909")
    assert levels(hits) == {
        15: ("MEDIUM", "MEDIUM"),  # server_name=bind_host: options.run_app(bind_host="0.0.0.0")
        19: ("MEDIUM", "MEDIUM"),  # PUBLIC_HOST imported from options.py
        23: ("MEDIUM", "MEDIUM"),  # os.getenv("BIND", "::" if ipv6 else "0.0.0.0")
        27: ("MEDIUM", "MEDIUM"),  # settings["bind_host"]: a parameter default in options.py
        34: ("MEDIUM", "HIGH"),  # auth=users, None unless --login is given
        38: ("LOW", "MEDIUM"),  # auth that is always set: still lowered
    }  # serve_local (127.0.0.1 / ::1 from the environment's default) is quiet
    assert "sibling module" in hits[19][3] and "'0.0.0.0'" in hits[19][3]
    # auth comes from the caller's login=None: not "(auth set)"
    assert "auth=login is None unless set otherwise" in hits[15][3]
    assert "auth=users is None" in hits[34][3]


def test_b909_result_follows_the_sibling_module_through_the_cache(tmp_path, store):
    """The finding depends on options.py: a changed options.py re-audits webapp.py, not the cache."""
    from workbench_plugins.code_audit import bandit_config, bandit_runner

    pkg = tmp_path / "chatui"
    shutil.copytree(HERE / "chatui", pkg)
    files = [(str(pkg / "webapp.py"), "webapp.py")]
    cfg = bandit_config.load_config(str(pkg))

    def b909_lines():
        results = bandit_runner.audit_files(files, cfg, cache_conn=store, workers=1)
        return results[0].cached, sorted(i["line"] for i in results[0].issues if i["test_id"] == "B909")

    cold = b909_lines()
    assert cold == (False, [15, 19, 23, 27, 34, 38])
    assert b909_lines() == (True, cold[1])
    options = pkg / "options.py"
    options.write_text(options.read_text().replace('PUBLIC_HOST = "0.0.0.0"', 'PUBLIC_HOST = "127.0.0.1"'))
    assert b909_lines() == (False, [15, 23, 27, 34, 38])


# --------------------------------------------------------------------------- B907


def test_b907_shell_and_repl_held_in_self_are_sinks():
    hits = found(HERE / "b907_held.py", "B907")
    assert levels(hits) == {14: ("HIGH", "MEDIUM"), 23: ("HIGH", "MEDIUM")}  # Quiet.uptime runs a constant
    assert "ShellTool.run (self.terminal)" in hits[14][3] and hits[14][2] == 78
    assert "PythonREPL.run (self.repl)" in hits[23][3] and hits[23][2] == 94


def test_b907_other_agent_builders_and_allow_dangerous_code():
    hits = found(HERE / "b907_agents.py", "B907")
    assert levels(hits) == {9: ("HIGH", "MEDIUM"), 17: ("HIGH", "MEDIUM")}  # line 13: allow_dangerous_code=False
    assert "from_llm_and_tools()" in hits[9][3]


def test_b907_code_executors_on_the_host():
    hits = found(HERE / "b907_executors.py", "B907")
    assert levels(hits) == {13: ("HIGH", "MEDIUM")}  # the Docker-only builder is quiet
    assert "LocalCommandLineCodeExecutor()" in hits[13][3] and "fallback" in hits[13][3]
    legacy = found(HERE / "b907_legacy.py", "B907")
    assert levels(legacy) == {3: ("HIGH", "MEDIUM")}  # use_docker=True on line 4 is quiet


def test_b907_ast_only_validator_is_quiet(tmp_path):
    assert found(HERE / "b907_validator.py", "B907") == {}
    # The same flow into a compile() that builds code (no PyCF_ONLY_AST) is still reported.
    src = (HERE / "b907_validator.py").read_text().replace(', ast.PyCF_ONLY_AST', '')
    path = tmp_path / "validator.py"
    path.write_text(src)
    assert list(found(path, "B907")) == [12]


# --------------------------------------------------------------------------- B903


def test_b903_true_by_default_flows_into_from_pretrained():
    hits = found(HERE / "b903_loaders.py", "B903")
    assert levels(hits) == {
        9: ("HIGH", "MEDIUM"),  # def load(name, trust_remote_code=True)
        24: ("HIGH", "MEDIUM"),  # --trust-remote-code with default=True
        28: ("LOW", "MEDIUM"),  # same, pinned to a commit
        32: ("HIGH", "HIGH"),  # a kwargs dict unpacked into from_pretrained
    }  # line 5 (a dict only asked which keys it has) and line 13 (default False) are quiet
    assert "parameter of load() that defaults to True" in hits[9][3]


# --------------------------------------------------------------------------- secrets


def test_short_pinned_commit_hash_is_not_a_secret():
    from workbench_plugins.code_audit import secrets_scan

    with secrets_scan.settings():
        for name, pinned in (("pinned_revision.py", 3), ("pinned_revision.yaml", 3)):
            path = HERE / name
            raw = {s.line_number for s in secrets_scan._scan(str(path), path.read_text())}
            results, _ = secrets_scan.scan_file(str(path))
            assert pinned in raw, name  # detect-secrets itself reads the short hash as high entropy
            assert pinned not in [r["line"] for r in results], name
        assert [r["line"] for r in secrets_scan.scan_file(str(HERE / "pinned_revision.py"))[0]] == [5]
    # The same value named as a credential is kept.
    assert secrets_scan.is_noise("Hex High Entropy String", '"8f3a2c1d9e"', 'revision = "8f3a2c1d9e"')
    assert not secrets_scan.is_noise("Hex High Entropy String", '"8f3a2c1d9e"', 'token = "8f3a2c1d9e"')
