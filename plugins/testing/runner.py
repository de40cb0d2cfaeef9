"""Runs a target project's pytest suite under coverage.py, in the target's interpreter.

``run_suite(target, python, ...)`` returns one run as a dict:

    {"kind": "pytest", "target", "python", "python_version", "pytest_version",
     "coverage_version", "code_hash", "status", "messages": [...],
     "cases": [{"id", "file", "name", "classname", "outcome", "duration",
                "message", "flaky", "reruns": [outcome, ...]}],
     "coverage": {...} or None (see coverage_data), "totals": {...},
     "coverage_percent": float or None, "exit_code": int, "duration": float,
     "group_coverage": {group: {"percent_covered", "num_statements", "covered_lines",
                                "num_branches", "covered_branches", "files"}}}

``group_coverage`` is each test group's own coverage (see ``_pytest_driver``):
over the files that group's tests executed, the lines and branches its tests
ran plus those run outside any test. Empty when the target's configuration
sets its own ``dynamic_context``.

``status`` is one of: done, no_tests, collection_error, timeout, killed,
aborted, interrupted, error. Every status other than done comes with a message that
says what happened and what was kept.

The run is a subprocess in its own session (so its own process group): a
time limit or a cancel ends the whole group, grandchildren included, first
with SIGTERM (the driver then saves the coverage measured so far), then
SIGKILL. pytest and coverage run inside the target interpreter through
``_pytest_driver.py``; the cases come from the driver's live events (one per
test and one per subtest), the coverage from coverage.py's JSON report, both
written to a temporary folder. pytest's JUnit XML is written only for
``junit_out``. The interpreter check rides on the driver (its first event;
``interpreter.probe`` runs only when the driver cannot answer), and
coverage.py's parse of each file can be kept for the next run
(``parse_cache``), so a run costs little more CPU than ``coverage run -m
pytest`` (``benchmarks/testing_overhead.py``). ``pytest_args`` go to pytest, except pytest-cov's ``--cov``
options, which configure the driver's coverage (``split_cov_args``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from . import interpreter
from .errors import TestingError

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_pytest_driver.py")
POLL_S = 0.05
TERM_GRACE_S = 5.0
#: Set by a pytest or coverage.py that runs the workbench itself (its own test suite,
#: a CI step): they must not leak into the target's run.
_DROP_ENV = ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
             "PYTEST_XDIST_TESTRUNUID", "COVERAGE_PROCESS_START", "COVERAGE_FILE")
_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}


def code_hash(target: str) -> str:
    """SHA-256 over the relative paths and contents of the target's Python files.

    Two runs with the same hash ran on the same code: a test that passed in
    one and failed in the other is flaky, not fixed or broken.
    """
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(target):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS
                         and not os.path.exists(os.path.join(root, d, "pyvenv.cfg")))
        for name in sorted(files):
            if name.endswith((".py", ".cfg", ".toml", ".ini")):
                path = os.path.join(root, name)
                digest.update(os.path.relpath(path, target).encode("utf-8", "surrogateescape") + b"\0")
                try:
                    with open(path, "rb") as fh:
                        digest.update(hashlib.sha256(fh.read()).digest())
                except OSError:
                    digest.update(b"unreadable")
    return digest.hexdigest()


class _Events:
    """Tails the driver's JSON-lines event file."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.collected: int | None = None
        self.markers: dict[str, list[str]] = {}
        self.current: str | None = None
        self.results: dict[str, dict] = {}
        self.collect_errors: list[dict] = []
        self.coverage_errors: list[str] = []
        self.exit_rc: int | None = None
        self.terminated = False
        self.started: list[str] = []
        self.subtests: dict[str, list[dict]] = {}  # parent node id -> its subtests, in order
        self.parse_cache: dict | None = None  # {"reused", "files"}: parses the driver took from the cache
        self.interpreter: dict | None = None  # the driver's answer to interpreter.check, versions added
        self.on_versions = None  # called once, when the driver has said which pytest and coverage.py run

    def poll(self) -> bool:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return False
        if not chunk:
            return False
        self.offset += len(chunk)
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()  # an unfinished last line waits for the next poll
        for line in lines:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("ev")
            if kind == "collected":
                self.collected = ev["n"]
                self.markers = ev.get("markers") or {}
            elif kind == "start":
                self.current = ev["id"]
                self.started.append(ev["id"])
            elif kind == "result":
                old = self.results.get(ev["id"])
                if old is None or ev["outcome"] == "failed":
                    if old is not None:
                        ev["when"] = old["when"] if old["outcome"] == "failed" else ev["when"]
                    self.results[ev["id"]] = ev
            elif kind == "subtest":
                self.subtests.setdefault(ev["id"], []).append(ev)
            elif kind == "collect_error":
                self.collect_errors.append(ev)
            elif kind == "coverage_error":
                self.coverage_errors.append(ev.get("message") or "")
            elif kind == "interpreter":
                self.interpreter = {k: ev.get(k) for k in ("version", "major", "executable", "pytest", "coverage")}
            elif kind == "versions":
                if self.interpreter is not None:
                    self.interpreter.update(pytest=ev.get("pytest"), coverage=ev.get("coverage"))
                    if self.on_versions is not None:
                        self.on_versions(self.interpreter)
            elif kind == "parse_cache":
                self.parse_cache = {"reused": ev.get("reused", 0), "files": ev.get("files", 0)}
            elif kind == "exit":
                self.exit_rc = ev["rc"]
            elif kind == "terminated":
                self.terminated = True
        return True

    def cases(self) -> list[dict]:
        """One case per test as pytest counts it, and one per subtest (``NODEID [msg] (k=v)``).

        As pytest's own JUnit XML has it: an error in setup or teardown is an
        error, an expected failure is a skip (an unexpected pass is a pass). A
        test with subtests keeps its own outcome (pytest counts a unittest case
        whose subtests failed as passed, and each failed subtest as a failure).
        """
        from .junit import _case, mangle

        out = []
        for nodeid, ev in self.results.items():
            outcome = ev["outcome"]
            if outcome == "failed" and ev.get("when") in ("setup", "teardown"):
                outcome = "error"
            classname, name = mangle(nodeid)
            out.append(_case(nodeid, name, classname, ev.get("file"), outcome, ev.get("duration") or 0.0,
                             ev.get("message") or ""))
        for nodeid, subs in self.subtests.items():
            classname, name = mangle(nodeid)
            seen: dict[str, int] = {}
            for ev in subs:
                sub = ev.get("sub") or "(<subtest>)"
                seen[sub] = seen.get(sub, 0) + 1
                if seen[sub] > 1:  # the same description twice (a subTest() in a loop): still two cases
                    sub = f"{sub} #{seen[sub]}"
                case = _case(f"{nodeid} {sub}", f"{name} {sub}", classname, ev.get("file"), ev["outcome"],
                             ev.get("duration") or 0.0, ev.get("message") or "")
                case["parent"] = nodeid
                out.append(case)
        return out


def _kill_group(proc: subprocess.Popen, grace: float = TERM_GRACE_S) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after ``grace``."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _env(cov_options: dict | None = None, parse_cache: str | None = None) -> dict:
    from .score import DEFAULT_GROUPS

    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    if parse_cache:
        env["WB_PARSE_CACHE"] = parse_cache  # the driver reads it, and writes PATH.new when it changes
    if cov_options:
        env["WB_COV_OPTIONS"] = json.dumps(cov_options)  # --cov options given with the pytest arguments
    env["WB_TESTRUN_PARENT"] = str(os.getpid())  # the driver ends its group if we die
    env["WB_TEST_GROUPS"] = json.dumps(DEFAULT_GROUPS)  # coverage per group, for the score
    from workbench.api import network_guarded_env

    return network_guarded_env(env)  # the target's tests run under the offline guard (its start-up hook)


def _group_coverage(json_path: str) -> dict:
    from .coverage_data import from_coverage_json
    from .score import GROUPS

    out = {}
    for group in GROUPS:
        path = f"{json_path[:-5]}.group-{group}.json"
        if os.path.exists(path):
            c = from_coverage_json(path)
            out[group] = {k: c[k] for k in ("percent_covered", "num_statements", "covered_lines", "num_branches",
                                            "covered_branches")} | {"files": len(c["files"])}
    return out


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 8000))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def split_cov_args(args) -> tuple[list[str], dict]:
    """(pytest arguments, coverage options): pytest-cov's ``--cov`` options become our coverage's.

    Our run already measures coverage; pytest-cov inside it would start a second
    measurement. So ``--cov=SRC`` (source, repeatable; bare ``--cov``: no
    filter), ``--cov-branch``, ``--cov-config=FILE`` and ``--cov-context=test``
    configure the driver's coverage.py exactly as pytest-cov would, and
    ``--no-cov`` turns it off; ``--cov-report``, ``--cov-append`` and
    ``--cov-fail-under`` concern pytest-cov's own output and are dropped.
    """
    rest: list[str] = []
    options: dict = {}
    args = list(args)
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        takes_value = name in ("--cov-config", "--cov-context", "--cov-report", "--cov-fail-under")
        if takes_value and not eq:
            if i + 1 >= len(args):
                raise TestingError(f"pytest argument {arg} needs a value")
            value = args[i + 1]
            i += 1
        if name == "--cov":
            if value:
                options.setdefault("source", []).append(value)
        elif name == "--cov-branch":
            options["branch"] = True
        elif name == "--cov-config":
            options["config_file"] = value
        elif name == "--cov-context":
            if value != "test":
                raise TestingError(f"--cov-context={value}: pytest-cov knows only --cov-context=test")
            options["context"] = "test"
        elif name == "--no-cov":
            options["off"] = True
        elif name not in ("--cov-report", "--cov-append", "--cov-fail-under"):
            rest.append(arg)
        i += 1
    return rest, options


def _pytest_once(python: str, target: str, workdir: str, args: list[str], *, with_coverage: bool,
                 timeout: float | None, progress, check_cancelled, label: str, junit: bool = False,
                 cov_options: dict | None = None, parse_cache: str | None = None, on_versions=None) -> dict:
    """One pytest process; returns what it left behind (never raises on test outcomes).

    The cases come from the driver's events; pytest's JUnit XML (its writer
    costs about as much CPU as a small suite's coverage report) is written
    only when asked for (``--junit-out``).
    """
    os.makedirs(workdir, exist_ok=True)
    events_path = os.path.join(workdir, "events.jsonl")
    junit_path = os.path.join(workdir, "junit.xml")
    data_path = os.path.join(workdir, ".coverage") if with_coverage else "-"
    json_path = os.path.join(workdir, "coverage.json") if with_coverage else "-"
    output_path = os.path.join(workdir, "output.txt")
    junit_args = ["-o", "junit_family=xunit1", f"--junitxml={junit_path}"] if junit else []
    cmd = [python, DRIVER, events_path, data_path, json_path, "--", *junit_args,
           "-p", "no:cacheprovider",  # write nothing into the audited tree
           *args]
    events = _Events(events_path)
    events.on_versions = on_versions
    started = time.monotonic()
    try:
        with open(output_path, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=target, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=_env(cov_options, parse_cache),
                                    start_new_session=True)
    except OSError:
        interpreter.probe(python)  # says why it cannot be started
        raise
    timed_out = False
    last_report = (None, None)
    try:
        while True:
            rc = proc.poll()
            events.poll()
            state = (len(events.results), events.current)
            if progress is not None and state != last_report:
                last_report = state
                total = events.collected or 0
                progress(len(events.results), total,
                         f"{label}: {events.current}" if events.current else f"{label}: collecting")
            if rc is not None:
                break
            if check_cancelled is not None:
                check_cancelled()
            if timeout is not None and time.monotonic() - started > timeout:
                timed_out = True
                _kill_group(proc)
                break
            time.sleep(POLL_S)
    except BaseException:
        _kill_group(proc, grace=2.0)  # Cancel ends the whole group, then the cancel goes on up
        raise
    # The driver is done; end anything a test left running in its group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    events.poll()
    return {"rc": proc.returncode, "timed_out": timed_out, "events": events, "junit": junit_path,
            "coverage_json": json_path, "output": output_path, "elapsed": time.monotonic() - started}


def _copy_junit(src: str, dest: str) -> str | None:
    """Put pytest's JUnit XML at *dest* whole or not at all (a full disk: an error naming *dest*, the
    earlier file left as it was). An XML pytest could not finish (its own write hit a full disk) is
    not copied: it would replace a good file by half of one; the returned message says so."""
    from workbench.api import WorkbenchError, atomic_write

    with open(src, "rb") as fh:
        data = fh.read()
    if not data.rstrip().endswith(b"</testsuites>"):
        return (f"{dest}: not written: pytest's JUnit XML is incomplete (did the disk fill?); "
                "the previous file, if any, is unchanged")
    try:
        atomic_write(dest, data)
    except WorkbenchError as exc:
        raise TestingError(str(exc)) from exc
    return None


def run_suite(target: str, python: str, *, timeout: float | None = None, rerun: int = 0,
              pytest_args: list[str] | tuple = (), progress=None, check_cancelled=None, log=None,
              junit_out: str | None = None, parse_cache: dict | None = None) -> dict:
    """Run the target's tests under coverage in interpreter ``python``; see the module docstring.

    ``parse_cache`` (a dict, empty the first time) keeps coverage.py's parse of
    the target's files from one run to the next (``_pytest_driver.ParseCache``):
    an unchanged file is not parsed again for the report. It is updated in
    place; ``run["parse_cache_changed"]`` says whether it was.
    """
    from . import coverage_data, junit

    target = os.path.abspath(target)
    if not os.path.isdir(target):
        raise TestingError(f"{target}: no such folder" if not os.path.exists(target)
                           else f"{target}: is a file; give the project's folder")
    path = interpreter.resolve(python)
    log = log or (lambda msg: None)

    def said(info: dict) -> None:
        log(f"target {target}, Python {info['version']} ({path}), pytest {info['pytest']}, "
            f"coverage {info['coverage']}")

    workdir = tempfile.mkdtemp(prefix="wb-testrun-")
    try:
        t0 = time.monotonic()
        args, cov_options = split_cov_args(pytest_args)
        cache_path = None
        if parse_cache is not None:
            cache_path = os.path.join(workdir, "parse-cache.json")
            if parse_cache:
                with open(cache_path, "w", encoding="utf-8") as fh:
                    json.dump(parse_cache, fh)
        main = _pytest_once(path, target, os.path.join(workdir, "main"), args,
                            with_coverage=not cov_options.get("off"), timeout=timeout, progress=progress,
                            check_cancelled=check_cancelled, label="tests", junit=bool(junit_out),
                            cov_options=cov_options, parse_cache=cache_path, on_versions=said)
        events: _Events = main["events"]
        # The interpreter check: the driver's first event; without one (a Python 2, not a
        # Python, a broken venv) the probe asks the interpreter itself and raises why.
        info = interpreter.check(dict(events.interpreter), path) if events.interpreter else interpreter.probe(path)
        for name in ("pytest", "coverage"):
            if info.get(name) == "found":  # the driver ended before it could import them
                info[name] = "unknown version"
        cache_changed = _take_parse_cache(cache_path, parse_cache)
        if events.parse_cache and events.parse_cache["reused"]:
            log(f"coverage report: {events.parse_cache['reused']} of {events.parse_cache['files']} files' "
                "parse kept from the previous run (unchanged files are not parsed again)")
        cases = events.cases()
        junit_note = _copy_junit(main["junit"], junit_out) if junit_out and os.path.exists(main["junit"]) else None
        coverage = None
        group_coverage = {}
        if os.path.exists(main["coverage_json"]):
            coverage = coverage_data.from_coverage_json(main["coverage_json"])
            group_coverage = _group_coverage(main["coverage_json"])
        status, messages = _status(target, timeout, main, cases)
        if junit_note:
            messages.append(junit_note)
        if events.coverage_errors and cases:
            messages.append("coverage.py reported: " + "; ".join(events.coverage_errors))
        for c in cases:
            c["reruns"] = []
            c["markers"] = events.markers.get(c.get("parent") or c["id"], [])  # a subtest has its test's
        failing = [c for c in cases if c["outcome"] in ("failed", "error")]
        if rerun > 0 and failing and status == "done":
            _rerun(info["path"], target, workdir, failing, rerun, timeout, progress, check_cancelled, log)
        return {
            "kind": "pytest", "target": target, "python": info["path"], "python_version": info["version"],
            "pytest_version": info["pytest"], "coverage_version": info["coverage"],
            "code_hash": code_hash(target), "status": status, "messages": messages, "cases": cases,
            "coverage": coverage, "coverage_percent": coverage["percent_covered"] if coverage else None,
            "group_coverage": group_coverage, "parse_cache_changed": cache_changed,
            "coverage_parse": events.parse_cache,
            "totals": junit.totals_of(cases), "exit_code": main["rc"], "collected": events.collected,
            "duration": time.monotonic() - t0, "output_tail": _tail(main["output"]),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _take_parse_cache(path: str | None, cache: dict | None) -> bool:
    """Replace ``cache`` with what the driver kept (only this run's files: stale entries go)."""
    if path is None or cache is None or not os.path.exists(path + ".new"):
        return False
    try:
        with open(path + ".new", encoding="utf-8") as fh:
            new = json.load(fh)
    except (OSError, ValueError):
        return False
    cache.clear()
    cache.update(new)
    return True


def _status(target: str, timeout, main: dict, cases: list[dict]) -> tuple[str, list[str]]:
    events: _Events = main["events"]
    rc = main["rc"]
    done_n = len(cases)
    total = events.collected
    of_total = f"{done_n} of {total}" if total is not None else f"{done_n}"
    if main["timed_out"]:
        where = f" while running {events.current}" if events.current else ""
        return "timeout", [f"timed out after {timeout:g} s{where}; the whole process group was ended. "
                           f"{of_total} tests had finished and their results are kept."]
    if events.exit_rc is None:  # pytest never got to its end
        where = f" while running {events.current}" if events.current else ""
        if rc < 0 or rc > 128:
            sig = _signal_name(rc if rc < 0 else -(rc - 128))
            return "killed", [f"the test process was killed by {sig}{where} (a test may have killed its own "
                              f"process group); {of_total} tests had finished and their results are kept."]
        return "aborted", [f"the test process ended with status {rc} before pytest finished{where} (a test or "
                           f"fixture called os._exit?); {of_total} tests had finished and their results are kept. "
                           f"Output: {_tail(main['output'], 3)}"]
    if rc == 5:
        return "no_tests", [f"{target}: pytest collected no tests (no test_*.py / *_test.py files, or "
                            "testpaths/python_files in the project's pytest configuration exclude them)."]
    if events.collect_errors:
        where = ", ".join(e["id"] or "(session)" for e in events.collect_errors[:5])
        last = (events.collect_errors[0]["message"].strip().splitlines() or [""])[-1]
        more = "" if len(events.collect_errors) <= 5 else f" and {len(events.collect_errors) - 5} more"
        return "collection_error", [f"collection failed in {where}{more}: {last}"]
    if rc in (0, 1):
        return "done", []
    if rc == 2:
        return "interrupted", [f"pytest was interrupted (exit 2): {_tail(main['output'], 3)}"]
    if rc == 3:
        return "error", [f"pytest hit an internal error (exit 3): {_tail(main['output'], 5)}"]
    if rc == 4:
        return "error", [f"pytest usage error (exit 4), check the project's pytest configuration: "
                         f"{_tail(main['output'], 3)}"]
    return "error", [f"the test process exited with status {rc}: {_tail(main['output'], 5)}"]


def _rerun(python, target, workdir, failing, times, timeout, progress, check_cancelled, log) -> None:
    """Rerun the failing tests ``times`` times (no coverage); pass + fail on the same code = flaky."""
    by_id = {c["id"]: c for c in failing}
    # A failing subtest reruns with its test (pytest cannot select a subtest).
    node_ids = list(dict.fromkeys(c.get("parent") or c["id"] for c in failing))
    for attempt in range(1, times + 1):
        done = _pytest_once(python, target, os.path.join(workdir, f"rerun{attempt}"), node_ids,
                            with_coverage=False, timeout=timeout, progress=progress,
                            check_cancelled=check_cancelled, label=f"rerun {attempt}/{times}")
        results = {c["id"]: c["outcome"] for c in done["events"].cases()}
        for nodeid, case in by_id.items():
            outcome = results.get(nodeid, "not run")
            case["reruns"].append(outcome)
            if outcome == "passed":
                case["flaky"] = True
        log(f"rerun {attempt}/{times}: {sum(1 for c in failing if c['reruns'][-1] == 'passed')} of "
            f"{len(failing)} passed")
