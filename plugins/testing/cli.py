"""``workbench test``, ``test-import``, ``fuzz``, ``probe``, ``load``: the testing plugin headless.

Exit codes: 0 done, 1 failed (the message says why; what was recorded is
kept), 2 usage, 3 a gate: ``test --fail-on-regression`` with a new failure,
``fuzz`` that found a crash, ``probe --max-hit-rate R`` with a probe above R.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from workbench.api import EXIT_GATE, EXIT_OK, CliError, job_command, note, open_project, run_job


def add_cli(plugin, cli) -> None:
    p = job_command(cli, "test", "run a project's pytest suite under coverage.py", lambda args: cmd_test(plugin, args),
                    description="Run the tests of PATH with its own interpreter, under coverage.py with the "
                                "project's own coverage configuration (branch coverage when it asks for it), and "
                                "store every test case (subtests included) and the coverage per file: the total is "
                                "what `coverage report` prints. Exit "
                                f"{EXIT_GATE} with --fail-on-regression when a test fails that did not fail in the "
                                "previous run.")
    p.add_argument("path", help="the project folder")
    p.add_argument("--python", help="the project's interpreter (default: PATH/.venv or PATH/venv if there is one; "
                                    "never the workbench's own)")
    p.add_argument("--rerun", type=int, default=0, metavar="N", help="rerun failing tests N times (flaky detection)")
    p.add_argument("--timeout", type=float, metavar="S", help="time limit in seconds; the whole process group ends")
    p.add_argument("--junit-out", metavar="FILE", help="also write pytest's JUnit XML here")
    p.add_argument("--fail-on-regression", action="store_true", help=f"exit {EXIT_GATE} on a new failure")
    p.add_argument("--pytest-args", action="append", default=[], metavar="ARGS",
                   help="arguments for pytest, as one quoted string (split like a shell would; repeatable), e.g. "
                        "--pytest-args=\"-k 'parse and not slow' -m 'not network'\"; or put them last, after "
                        "--: workbench test PATH -p P -- -k 'parse and not slow'. pytest-cov's --cov=SRC, "
                        "--cov-branch, --cov-config=FILE and --cov-context=test set the coverage measurement")
    _args_after_double_dash(p)

    p = job_command(cli, "test-import", "import a JUnit/xUnit or Cobertura XML file as a run",
                    lambda args: cmd_import(plugin, args))
    p.add_argument("file", help="JUnit/xUnit XML (JUnit, pytest, Go, Jest, xUnit.net...) or Cobertura coverage XML")
    p.add_argument("--kind", choices=("auto", "junit", "cobertura"), default="auto")

    p = job_command(cli, "fuzz", "fuzz a model entry point (pkg.module:callable) with Hypothesis",
                    lambda args: cmd_fuzz(plugin, args),
                    description="Runs the callable's code on this machine, in a worker process with time and "
                                f"memory limits. Exit {EXIT_GATE} when a crash is found.")
    p.add_argument("entry", help="pkg.module:callable")
    p.add_argument("--input", default="text", choices=("text", "tabular", "image", "json"))
    p.add_argument("--max", type=int, default=200, metavar="N", help="examples to generate (default 200)")
    p.add_argument("--path", help="folder to import the entry point from (default: the current folder)")
    p.add_argument("--python", help="interpreter for the worker (default: the workbench's)")
    p.add_argument("--call-timeout", type=float, default=2.0, metavar="S")
    p.add_argument("--memory", type=int, default=1024, metavar="MB")
    p.add_argument("--seed", type=int, default=0)

    p = job_command(cli, "probe", "probe an OpenAI-compatible chat endpoint with a probe pack",
                    lambda args: cmd_probe(plugin, args),
                    description="Only loopback addresses and hosts given with --allow-host are contacted.")
    p.add_argument("url", help="e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--pack", help="probe pack YAML (default: the shipped pack; format in plugins/testing/PROBES.md)")
    p.add_argument("--key-name", help="name of the endpoint's API key in this project's keyring")
    p.add_argument("--runs", type=int, default=5, help="times each probe is sent (default 5)")
    p.add_argument("--model", default="default")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per request")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST", help="a non-loopback host to allow")
    p.add_argument("--max-hit-rate", type=float, metavar="R", help=f"exit {EXIT_GATE} if a probe's hit rate is above R")
    add_load_cli(plugin, cli)


def _args_after_double_dash(parser) -> None:
    """``workbench test PATH -p P -- ARGS...``: everything after ``--`` goes to pytest as given.

    argparse hands a sub-command everything after its name, ``--`` included, but
    with a positional PATH it would then refuse the words after ``--``; so this
    command's parser takes them off first and keeps them as ``pytest_tail``.
    """
    parse = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        args = list(args or [])
        tail: list[str] = []
        if "--" in args:
            cut = args.index("--")
            args, tail = args[:cut], args[cut + 1:]
        namespace, extras = parse(args, namespace)
        namespace.pytest_tail = tail
        return namespace, extras

    parser.parse_known_args = parse_known_args


def add_load_cli(plugin, cli) -> None:
    p = job_command(cli, "load", "a bounded load run against a chat endpoint (throughput, latency percentiles)",
                    lambda args: cmd_load(plugin, args),
                    description="Only loopback addresses and hosts given with --allow-host are "
                                "contacted; at most 64 workers, 600 s and 10,000 requests.")
    p.add_argument("url", help="e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--duration", type=float, default=10.0, metavar="S")
    p.add_argument("--max-requests", type=int, default=200)
    p.add_argument("--stream", action="store_true", help="ask for streamed answers (time to first token)")
    p.add_argument("--key-name", help="name of the endpoint's API key in this project's keyring")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST")


def cmd_load(plugin, args) -> tuple[int, dict]:
    spec = plugin.job_spec("load", target=args.url, concurrency=args.concurrency, duration_s=args.duration,
                           max_requests=args.max_requests, stream=args.stream, key_name=args.key_name,
                           allowed_hosts=args.allow_host)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, s = run_job(project, spec, unit="requests")

    def ms(v):
        return "n/a" if v is None else f"{1000 * v:.1f} ms"

    print(f"{s['requests']} requests ({s['errors']} errors) in {s['elapsed_s']:.1f} s: "
          f"{s['throughput_rps'] or 0:.1f} requests/s; latency p50 {ms(s['latency_p50_s'])}, "
          f"p95 {ms(s['latency_p95_s'])}, p99 {ms(s['latency_p99_s'])}"
          + (f"; time to first token p50 {ms(s['ttft_p50_s'])}" if s.get("ttft_p50_s") is not None else ""))
    if s.get("previous"):
        prev = s["previous"]
        print(f"previous run: {prev.get('throughput_rps') or 0:.1f} requests/s, p95 {ms(prev.get('latency_p95_s'))}")
    return EXIT_OK, s


def default_python(path: str) -> str:
    for venv in (".venv", "venv", "env"):
        candidate = Path(path) / venv / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    raise CliError(f"{path}: no --python given and no .venv/ or venv/ in the project; name the project's own "
                   "interpreter with --python (the workbench never runs a project's tests with its own)")


def cmd_test(plugin, args) -> tuple[int, dict]:
    path = os.path.abspath(args.path)
    if not os.path.isdir(path):
        raise CliError(f"{args.path}: not a folder")
    python = args.python or default_python(path)
    pytest_args = []
    for text in args.pytest_args:
        try:
            pytest_args += shlex.split(text)
        except ValueError as exc:
            raise CliError(f"--pytest-args {text!r}: {exc}") from None
    pytest_args += getattr(args, "pytest_tail", None) or []
    spec = plugin.job_spec("test", target=path, python=python, timeout=args.timeout, rerun=args.rerun,
                           junit_out=os.path.abspath(args.junit_out) if args.junit_out else None,
                           pytest_args=pytest_args)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="tests")
    cov = summary["coverage_percent"]
    print(f"{summary['tests']} tests: {summary['passed']} passed, {summary['failed']} failed, {summary['errors']} "
          f"errors, {summary['skipped']} skipped, {summary['flaky']} flaky; coverage "
          + ("not measured" if cov is None else f"{cov:.2f} %"))
    if summary.get("group_coverage_percent"):
        print("coverage per group (files its tests executed): " + ", ".join(
            f"{g} {c:.2f} %" for g, c in sorted(summary["group_coverage_percent"].items())))
    if summary.get("previous_run_id"):
        print(f"since the previous run: {summary['new_failures']} new failures, {summary['fixed']} fixed, "
              f"{summary['still_failing']} still failing, {summary['new_tests']} new, {summary['removed_tests']} removed")
    for message in summary.get("messages", []):
        note(message)
    if args.fail_on_regression and summary["new_failures"]:
        note(f"gate: {summary['new_failures']} new failure(s): " + ", ".join(summary["new_failures_ids"][:5]))
        return EXIT_GATE, summary
    return EXIT_OK, summary


def cmd_import(plugin, args) -> tuple[int, dict]:
    spec = plugin.job_spec("import", target=os.path.abspath(args.file), kind=args.kind)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="cases")
    if summary["kind"] == "cobertura-import":
        print(f"coverage {summary['coverage_percent']:.2f} % over {summary['files']} files")
    else:
        print(f"{summary['tests']} tests: {summary['passed']} passed, {summary['failed']} failed, "
              f"{summary['errors']} errors, {summary['skipped']} skipped")
    return EXIT_OK, summary


def cmd_fuzz(plugin, args) -> tuple[int, dict]:
    note(f"fuzzing runs {args.entry}'s code on this machine: only fuzz code you trust")
    spec = plugin.job_spec("fuzz", target=args.entry, input=args.input, max_examples=args.max,
                           path=os.path.abspath(args.path or "."), python=args.python,
                           call_timeout=args.call_timeout, memory_mb=args.memory, seed=args.seed, trusted=True)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="calls")
    print(f"{summary['calls']} calls: {summary['crashes']} crashes, {summary['timeouts']} timeouts, "
          f"{summary['memory']} memory blow-ups, {summary['nondeterministic']} non-deterministic")
    for f in summary["findings"]:
        print(f"  {f['kind']} {f['error_type']} at {f['where']}: minimal input {f['minimal_input'][:200]}")
    if summary["crashes"]:
        note(f"gate: {summary['crashes']} crash(es)")
        return EXIT_GATE, summary
    return EXIT_OK, summary


def cmd_probe(plugin, args) -> tuple[int, dict]:
    spec = plugin.job_spec("probe", target=args.url, pack=os.path.abspath(args.pack) if args.pack else None,
                           runs=args.runs, model=args.model, temperature=args.temperature, seed=args.seed,
                           key_name=args.key_name, allowed_hosts=args.allow_host, timeout=args.timeout)
    with open_project(args.project, create=True, plugin_id=plugin.id) as project:
        _, _, summary = run_job(project, spec, unit="requests")
    rate = summary["hit_rate"]
    print(f"{summary['requests']} requests, {summary['answered']} answered, {summary['hits']} hits "
          f"({'n/a' if rate is None else f'{rate:.0%}'})")
    for pid, r in summary["probes"].items():
        print(f"  {pid}: {'n/a' if r is None else f'{r:.0%}'}")
    for message in summary.get("messages", []):
        note(message)
    if args.max_hit_rate is not None:
        over = [pid for pid, r in summary["probes"].items() if r is not None and r > args.max_hit_rate]
        if over:
            note(f"gate: hit rate above {args.max_hit_rate:g} for {', '.join(over)}")
            return EXIT_GATE, summary
    return EXIT_OK, summary
