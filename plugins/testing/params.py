"""Parameters of the testing plugin's jobs (checked by the host before a run is created).

Secrets never appear here: an endpoint's API key is named (``key_name``) and
read from the keyring inside the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TestRunParams:
    __test__ = False  # not a pytest test class

    target: str                         # the project folder whose tests run
    python: str = field(metadata={      # its interpreter; never the workbench's by default
        "label": "Python:", "help": "The project's own interpreter (e.g. .venv/bin/python)"})
    timeout: float | None = field(default=None, metadata={  # seconds for the whole run (each rerun round too)
        "label": "Time limit (s):", "help": "Seconds for the whole run; empty: no limit"})
    rerun: int = field(default=0, metadata={"label": "Reruns:", "min": 0, "max": 20,
                                            "help": "Reruns of failing tests, to tell flaky tests"})
    pytest_args: list[str] = field(default_factory=list, metadata={
        "label": "pytest arguments:", "split": "shell", "help": "As on pytest's command line, e.g. -k 'not slow'"})
    junit_out: str | None = None        # also copy pytest's JUnit XML here

    def __post_init__(self) -> None:
        if self.rerun < 0 or self.rerun > 20:
            raise ValueError("rerun must be 0-20")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be more than 0 seconds")


@dataclass
class ImportParams:
    target: str                         # a JUnit/xUnit or Cobertura XML file
    kind: str = "auto"                  # auto | junit | cobertura

    def __post_init__(self) -> None:
        if self.kind not in ("auto", "junit", "cobertura"):
            raise ValueError("kind must be auto, junit or cobertura")


@dataclass
class FuzzParams:
    target: str                         # pkg.module:callable
    input: str = field(default="text", metadata={"label": "Input kind:"})  # text | tabular | image | json
    path: str | None = None             # folder put first on the worker's sys.path
    python: str | None = None           # the worker's interpreter (default: the workbench's)
    max_examples: int = 200
    call_timeout: float = 2.0
    memory_mb: int = 1024
    seed: int = 0
    trusted: bool = False               # running the target's code is trusting it

    def __post_init__(self) -> None:
        if self.max_examples < 1:
            raise ValueError("max_examples must be at least 1")


@dataclass
class ProbeParams:
    target: str                         # the endpoint URL (loopback or an allowed host)
    pack: str | None = field(default=None, metadata={  # probe pack YAML (default: the shipped pack)
        "label": "Probe pack:", "help": "A probe pack YAML; empty: the shipped pack"})
    runs: int = 5
    model: str = "default"
    temperature: float = 0.7
    seed: int = 0
    key_name: str | None = field(default=None, metadata={  # name of the API key in this project's keyring
        "label": "API key name:", "help": "The name of the endpoint's key in this project's keyring "
                                          "(workbench secret set PROJECT NAME --stdin); only the name is stored."})
    allowed_hosts: list[str] = field(default_factory=list)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.runs <= 1000:
            raise ValueError("runs must be 1-1000")


@dataclass
class LoadParams:
    target: str
    concurrency: int = 4
    duration_s: float = 10.0
    max_requests: int = 200
    stream: bool = False
    model: str = "default"
    key_name: str | None = None
    allowed_hosts: list[str] = field(default_factory=list)
