"""The network guard on every send and resolve path, in this process, in a child process it never
imported, in a grandchild, inside a robustness job (its --arch file) and inside a `workbench test`
target. Nothing is ever aimed off this machine: WORKBENCH_NETGUARD_TREAT_AS_REMOTE makes 127.0.0.2
and `localhost` count as remote, a listener of the test's own on 127.0.0.2 must receive nothing, and
each lookup is proven refused through its audit event before the real call is made."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import textwrap

import pytest

from workbench.core import netguard

pytestmark = pytest.mark.enable_socket  # pytest-socket would refuse first: the guard must do it on its own

REMOTE = "127.0.0.2"
SETTING = f"{REMOTE},localhost"

# (name, the audit event proving it is refused without any real call, the real call) over the
# listener's ports: a template that runs here and in child processes alike.
CALLS = textwrap.dedent('''
    import socket, sys

    def calls(udp_port, tcp_port):
        def connect():
            with socket.socket() as s:
                s.settimeout(1)
                s.connect(("127.0.0.2", tcp_port))

        def connect_ex():
            with socket.socket() as s:
                s.settimeout(1)
                return s.connect_ex(("127.0.0.2", tcp_port))

        def sendto():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"leak", ("127.0.0.2", udp_port))

        def sendmsg():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendmsg([b"leak"], [], 0, ("127.0.0.2", udp_port))

        return [
            ("connect", ("socket.connect", None, ("127.0.0.2", tcp_port)), connect),
            ("connect_ex", ("socket.connect", None, ("127.0.0.2", tcp_port)), connect_ex),
            ("sendto", ("socket.sendto", None, ("127.0.0.2", udp_port)), sendto),
            ("sendmsg", ("socket.sendmsg", None, ("127.0.0.2", udp_port)), sendmsg),
            ("getaddrinfo", ("socket.getaddrinfo", "localhost", 80, 0, 0, 0), lambda: socket.getaddrinfo("localhost", 80)),
            ("gethostbyname", ("socket.gethostbyname", "localhost"), lambda: socket.gethostbyname("localhost")),
            ("gethostbyname_ex", ("socket.gethostbyname", "localhost"), lambda: socket.gethostbyname_ex("localhost")),
            ("gethostbyaddr", ("socket.gethostbyaddr", "127.0.0.2"), lambda: socket.gethostbyaddr("127.0.0.2")),
            ("getnameinfo", ("socket.getnameinfo", ("127.0.0.2", 80)), lambda: socket.getnameinfo(("127.0.0.2", 80), 0)),
        ]

    def attempt(udp_port, tcp_port):
        """{call: "refused" | "UNGUARDED" (not proven refused: the real call is not made) | "went through"}"""
        out = {}
        for name, event, call in calls(udp_port, tcp_port):
            try:
                sys.audit(*event)
            except PermissionError:
                pass
            else:
                out[name] = "UNGUARDED"
                continue
            try:
                call()
                out[name] = "went through"
            except PermissionError:
                out[name] = "refused"
        return out
''')
NAMES = ["connect", "connect_ex", "sendto", "sendmsg", "getaddrinfo", "gethostbyname", "gethostbyname_ex",
         "gethostbyaddr", "getnameinfo"]
_ns: dict = {}
exec(CALLS, _ns)  # noqa: S102 - the template above, run here as it is in the children


class Listener:
    """UDP and TCP on 127.0.0.2: whatever reaches them is a leak."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((REMOTE, 0))
        self.tcp = socket.socket()
        self.tcp.bind((REMOTE, 0))
        self.tcp.listen(16)
        self.udp_port, self.tcp_port = self.udp.getsockname()[1], self.tcp.getsockname()[1]

    def received(self, wait: float = 0.3) -> list[str]:
        got = []
        ready, _, _ = select.select([self.udp, self.tcp], [], [], wait)
        for s in ready:
            if s is self.udp:
                got.append(f"udp {s.recvfrom(100)[0]!r}")
            else:
                conn, addr = s.accept()
                conn.close()
                got.append(f"tcp connection from {addr}")
        return got

    def close(self):
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def listener(monkeypatch):
    netguard.install()
    netguard.take_decisions()
    lst = Listener()
    monkeypatch.setenv(netguard.ENV_REMOTE, SETTING)
    yield lst
    lst.close()


def test_the_listener_would_see_a_leak(listener, monkeypatch):
    """The control: without the test setting 127.0.0.2 is loopback, and a datagram does arrive."""
    monkeypatch.delenv(netguard.ENV_REMOTE)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"hello", (REMOTE, listener.udp_port))
    assert listener.received(2.0) == ["udp b'hello'"]


def test_every_call_is_refused_in_process(listener):
    result = _ns["attempt"](listener.udp_port, listener.tcp_port)
    assert result == {n: "refused" for n in NAMES}
    assert listener.received() == []
    vias = {d["via"] for d in netguard.take_decisions() if not d["allowed"]}
    assert vias == {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                    "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo"}


def test_every_call_is_refused_in_a_child_and_a_grandchild(listener, tmp_path):
    """The child never imports the workbench: the start-up hook guards it, and its children."""
    script = tmp_path / "child.py"
    script.write_text(CALLS + textwrap.dedent(f'''
        import json, subprocess, sys
        print(json.dumps({{"workbench imported first": "_workbench_netguard_boot" in sys.modules,
                          "child": attempt({listener.udp_port}, {listener.tcp_port})}}))
        grand = subprocess.run([sys.executable, "-c", "import socket; s = socket.socket(socket.AF_INET, "
                                "socket.SOCK_DGRAM); s.sendto(b'grandchild', ('127.0.0.2', {listener.udp_port}))"],
                               capture_output=True, text=True)
        print(json.dumps({{"grandchild refused": "NetworkRefused" in grand.stderr}}))
    '''))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["workbench imported first"] is True  # by the start-up hook, before the script ran
    assert first["child"] == {n: "refused" for n in NAMES}
    assert second == {"grandchild refused": True}
    assert listener.received() == []
    decisions = [d for d in netguard.take_decisions() if not d["allowed"]]
    pids = {d["pid"] for d in decisions}
    assert len(pids) == 2 and done.returncode == 0  # the child's and the grandchild's, read back here
    assert {d["via"] for d in decisions} >= {"socket.sendmsg", "socket.gethostbyaddr", "socket.getnameinfo"}


def test_an_allowed_host_goes_through_in_the_child_too(listener, tmp_path):
    netguard.allow_host(REMOTE)
    try:
        code = (f"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                f"s.sendto(b'allowed', ('{REMOTE}', {listener.udp_port}))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert listener.received(2.0) == ["udp b'allowed'"]
        assert [d["allowed"] for d in netguard.take_decisions()] == [True]
    finally:
        netguard._allowed.discard(REMOTE)
        netguard.allow_host("placeholder.invalid")  # rewrites the children's list without 127.0.0.2
        netguard._allowed.discard("placeholder.invalid")


def test_a_failed_jobs_refusals_are_in_its_message_and_the_log(listener, tmp_project, monkeypatch):
    from wb_core_testjobs import plugin

    from workbench.core.jobs import run_in_process

    monkeypatch.setenv("WB_TEST_LISTENER_PORT", str(listener.udp_port))
    run_id, status, _ = run_in_process(tmp_project, plugin.job_spec("phone_home_child"))
    assert status == "failed"
    assert listener.received() == []
    run = tmp_project.run(run_id)
    assert run["message"].startswith("network refused: refused 127.0.0.2:") and "socket.sendto" in run["message"]
    events = [e for e in tmp_project.events() if e["kind"] == "network"]
    assert len(events) == 1 and f"(run {run_id}; socket.sendto" in events[0]["message"]
    assert tmp_project.verify_events().ok


# ------------------------------------------------------------ inside jobs, through the real CLI
ARCH = textwrap.dedent('''
    import json, os, subprocess, sys
    import torch.nn as nn
    {calls}
    _out = attempt({udp}, {tcp})
    _grand = subprocess.run([sys.executable, "-c", "import socket; s = socket.socket(socket.AF_INET, "
                             "socket.SOCK_DGRAM); s.sendto(b'from the arch', ('127.0.0.2', {udp}))"],
                            capture_output=True, text=True)
    _out["grandchild"] = "refused" if "NetworkRefused" in _grand.stderr else "went through"
    with open({report!r}, "w") as fh:
        json.dump(_out, fh)

    class TinyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))

        def forward(self, x):
            return self.body(x)
''')


def _cli(*args, env) -> subprocess.CompletedProcess:
    from wb_core_helpers import REPO_ROOT

    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=REPO_ROOT)


def _job_events(project) -> tuple[dict, list[dict]]:
    from workbench.core.project import Project

    with Project.open(project, readonly=True) as p:
        assert p.verify_events().ok
        run = p.runs()[-1]
        return run, [e for e in p.events() if e["kind"] == "network"]


def test_a_robustness_job_and_its_arch_file_are_guarded(listener, tmp_path):
    pytest.importorskip("torch")
    import os

    import numpy as np
    import torch

    from workbench_plugins.robustness import models

    report = tmp_path / "arch-attempts.json"
    arch = tmp_path / "evil_arch.py"
    arch.write_text(ARCH.format(calls=CALLS, udp=listener.udp_port, tcp=listener.tcp_port, report=str(report)))
    torch.manual_seed(0)
    net = torch.nn.Module()
    net.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    model = tmp_path / "tiny.safetensors"
    models.save_safetensors(net, str(model), None)  # the keys match TinyNet's body
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x=rng.random((16, 64), dtype=np.float32), y=rng.integers(0, 10, 16))
    project, summary = tmp_path / "rb.wbproj", tmp_path / "summary.json"
    # A fresh process that never installed the guard: the CLI installs it and carries it on.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_NETGUARD")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                        if p and p != netguard.BOOT_DIR)
    env[netguard.ENV_REMOTE] = SETTING
    done = _cli("robustness", "-p", project, "--model", model, "--arch", f"{arch}:TinyNet", "--data", data,
                "--attack", "fgsm", "--eps", "0.1", "--device", "cpu", "--summary-json", summary, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(report.read_text()) == {**{n: "refused" for n in NAMES}, "grandchild": "refused"}
    assert listener.received() == []
    run, events = _job_events(project)
    stored = run["summary"]["network_refused"]
    assert json.loads(summary.read_text())["network_refused"] == stored
    assert any("socket.sendmsg" in line for line in stored) and len(stored) >= len(NAMES) + 1
    assert {json.loads(e["data"])["via"] for e in events} >= {"socket.sendmsg", "socket.sendto", "socket.connect",
                                                              "socket.gethostbyaddr", "socket.getnameinfo"}
    assert len({json.loads(e["data"])["pid"] for e in events}) == 2  # the job's process and its child


def test_a_workbench_test_target_is_guarded(listener, tmp_path):
    import os

    target = tmp_path / "target"
    target.mkdir()
    (target / "test_phone_home.py").write_text(CALLS + textwrap.dedent(f'''
        def test_phone_home():
            out = attempt({listener.udp_port}, {listener.tcp_port})
            assert out == {{n: "refused" for n in {NAMES!r}}}, out
    '''))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_NETGUARD")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                        if p and p != netguard.BOOT_DIR)
    env[netguard.ENV_REMOTE] = SETTING
    project, summary = tmp_path / "t.wbproj", tmp_path / "summary.json"
    done = _cli("test", target, "-p", project, "--python", sys.executable, "--summary-json", summary, env=env)
    assert listener.received() == []
    run, events = _job_events(project)
    assert run["status"] == "done", done.stdout + done.stderr
    assert run["summary"].get("failed", 0) == 0 and run["summary"].get("passed") == 1, run["summary"]
    assert len(run["summary"]["network_refused"]) == 2 * len(NAMES)  # each proof by audit event, each real call
    assert {json.loads(e["data"])["via"] for e in events} >= {"socket.sendmsg", "socket.getaddrinfo"}


def test_an_environment_built_from_nothing_still_carries_the_guard(listener):
    """What the testing runner does for a target: even a bare environment gets the start-up hook."""
    import os

    env = netguard.child_env({"PATH": os.environ.get("PATH", ""), netguard.ENV_REMOTE: SETTING})
    code = (f"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            f"s.sendto(b'bare', ('{REMOTE}', {listener.udp_port}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and "NetworkRefused" in done.stderr, done.stderr
    assert listener.received() == []
    assert [d["via"] for d in netguard.take_decisions()] == ["socket.sendto"]
