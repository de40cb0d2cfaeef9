"""A plugin of test jobs for the core tests, registered like any plugin.

It lives in a plain module on PYTHONPATH (set by tests/conftest.py), with an
entry point in ``wb_core_testjobs-0.1.dist-info`` beside it, so that spawned
worker processes find it through the plugin registry exactly like a real one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import MappingProxyType

from workbench.api import Finding, JobDef, Plugin, WorkbenchError

PLUGIN = "testplugin"


@dataclass
class BatchParams:
    batches: int = 3
    size: int = 5
    pause: float = 0.05


@dataclass
class NoParams:
    pass


@dataclass
class FailParams:
    code: int = 42


def make_findings(batch_no: int, size: int, plugin: str = PLUGIN) -> list[Finding]:
    return [
        Finding(plugin=plugin, rule="T001", severity="MEDIUM", confidence="HIGH",
                title="test finding", message=f"batch {batch_no} item {i}",
                path=f"src/file_{batch_no}.py", line=i + 1,
                fingerprint=f"fp-{batch_no}-{i}")
        for i in range(size)
    ]


def write_batches(params, ctx):
    """Write ``batches`` batches of ``size`` findings, one transaction each."""
    batches, size, pause = params.batches, params.size, params.pause
    for b in range(batches):
        ctx.check_cancelled()
        ctx.store.add_findings(ctx.run_id, make_findings(b, size))
        ctx.progress(b + 1, batches, f"batch {b + 1}")
        ctx.log(f"batch {b + 1} committed")
        time.sleep(pause)
    return {"batches": batches, "findings": batches * size}


def ignore_cancel(params, ctx):
    """Report progress once, then loop forever without ever checking cancel."""
    ctx.progress(1, None, "started")
    while True:
        time.sleep(0.01)


def fail(params, ctx):
    ctx.progress(1, 2, "about to fail")
    raise ValueError(f"boom {params.code}")


def fail_clearly(params, ctx):
    raise WorkbenchError("the target folder vanished")


def interrupt(params, ctx):
    raise KeyboardInterrupt


def return_scalar(params, ctx):
    return 7


def phone_home(params, ctx):
    """Try to reach a host outside this machine; the offline guard must refuse it."""
    import socket

    try:
        socket.getaddrinfo("updates.example.invalid", 443)
    except PermissionError as exc:
        return {"refused": True, "why": str(exc)}
    return {"refused": False}


def phone_home_child(params, ctx):
    """A child Python process the job starts sends a datagram to a 'remote' address (the tests' own
    listener on 127.0.0.2, counted as remote by WORKBENCH_NETGUARD_TREAT_AS_REMOTE); then the job fails."""
    import subprocess
    import sys

    port = int(__import__("os").environ["WB_TEST_LISTENER_PORT"])
    subprocess.run([sys.executable, "-c", "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                    f"s.sendto(b'job child', ('127.0.0.2', {port}))"], capture_output=True)
    raise RuntimeError("the job gave up")


@dataclass
class SecretParams:
    name: str = "api_key"
    wait: float = 60.0


def read_secret(params, ctx):
    """Read a project secret, waiting while the secrets file is locked (the user may unlock it in
    the window meanwhile); returns the value's SHA-256 so the test can compare without storing it."""
    import hashlib

    from workbench.core.errors import SecretsUnavailableError

    deadline = time.monotonic() + params.wait
    ctx.progress(0, 1, "waiting for the secret")
    while True:
        ctx.check_cancelled()
        try:
            value = ctx.store.get_secret(params.name)
            break
        except SecretsUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return {"sha256": None if value is None else hashlib.sha256(value.encode()).hexdigest()}


def _job(name: str, params: type = NoParams) -> JobDef:
    return JobDef(f"wb_core_testjobs:{name}", params, f"test {name}", target=None)


class TestJobsPlugin(Plugin):
    id = PLUGIN
    title = "Test jobs"
    version = "0.1"
    jobs = MappingProxyType({
        "write_batches": _job("write_batches", BatchParams),
        "batches": _job("write_batches", BatchParams),
        "ignore_cancel": _job("ignore_cancel"),
        "fail": _job("fail", FailParams),
        "fail_clearly": _job("fail_clearly"),
        "interrupt": _job("interrupt"),
        "return_scalar": _job("return_scalar"),
        "missing_function": _job("does_not_exist"),
        "phone_home": _job("phone_home"),
        "phone_home_child": _job("phone_home_child"),
        "read_secret": _job("read_secret", SecretParams),
    })


plugin = TestJobsPlugin()
