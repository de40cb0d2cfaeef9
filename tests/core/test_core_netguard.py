"""The offline guard: no connection outside loopback, unless the user allows a host; every
refusal inside a job is in the audit log. No test sends anything off this machine: the guard is
exercised through audit events, and a real lookup only once the guard is proven to refuse it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.core import netguard


def test_hook_refuses_outside_loopback_and_lets_allowed_hosts_through():
    code = """
import sys
from workbench.core import netguard
netguard.install()
out = []
for event, args in [("socket.connect", (None, ("127.0.0.1", 8080))), ("socket.connect", (None, ("::1", 80, 0, 0))),
                    ("socket.getaddrinfo", ("localhost", 80, 0, 0, 0, 0)),
                    ("socket.connect", (None, ("192.0.2.10", 443))), ("socket.getaddrinfo", ("pypi.org", 443, 0, 0, 0, 0)),
                    ("socket.sendto", (None, ("198.51.100.3", 53)))]:
    try:
        sys.audit(event, *args)
        out.append("ok")
    except PermissionError:
        out.append("refused")
netguard.allow_host("llm.lab.internal")
try:
    sys.audit("socket.getaddrinfo", "llm.lab.internal", 443, 0, 0, 0, 0)
    out.append("ok")
except PermissionError:
    out.append("refused")
print(",".join(out))
print(sorted((d["host"], d["allowed"]) for d in netguard.take_decisions()))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "ok,ok,ok,refused,refused,refused,ok"
    assert lines[1] == ("[('192.0.2.10', False), ('198.51.100.3', False), ('llm.lab.internal', True), "
                        "('pypi.org', False)]")


@pytest.mark.enable_socket  # pytest-socket would refuse first; the guard must do it on its own
def test_a_job_that_phones_home_is_refused_and_logged(tmp_project):
    from wb_core_testjobs import plugin

    from workbench.core.jobs import run_in_process

    netguard.install()
    with pytest.raises(PermissionError):  # proven before any real lookup is tried
        sys.audit("socket.getaddrinfo", "updates.example.invalid", 443, 0, 0, 0, 0)
    netguard.take_decisions()
    run_id, status, summary = run_in_process(tmp_project, plugin.job_spec("phone_home"))
    assert status == "done" and summary["refused"] is True, summary
    events = [e for e in tmp_project.events() if e["kind"] == "network"]
    assert events and "refused connection to updates.example.invalid:443" in events[0]["message"]
    assert tmp_project.verify_events().ok


def test_info_states_the_network_policy(tmp_path):
    from wb_core_helpers import run_cli

    project = tmp_path / "p.wbproj"
    assert run_cli("new", project).returncode == 0
    result = run_cli("info", project)
    assert "network: blocked outside loopback" in result.stdout
