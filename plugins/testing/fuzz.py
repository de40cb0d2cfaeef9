"""Property-based fuzzing of a model entry point (``pkg.module:callable``) with Hypothesis.

Hypothesis runs here and generates hostile inputs of one kind; every call
happens in a worker process (``_fuzz_worker.py``, the target's interpreter)
with a per-call time limit (the worker is killed and replaced when a call
overruns) and a memory limit (RLIMIT_AS). Running the target's code is
trusting it: the caller must say so (``trusted=True``).

Input kinds and what they include:

* ``text``: empty, huge (100k+ characters), control characters, lone
  surrogates (what invalid UTF-8 decodes to with surrogateescape), any Unicode,
  long runs of a short unit followed by a breaking character (what sends a
  backtracking regular expression into super-linear time: ReDoS);
* ``tabular``: one row as a list of cells: empty, NaN, ±inf, huge and tiny
  numbers, None, strings where numbers are expected, ragged widths;
* ``image``: numpy arrays of 0-4 dimensions (empty sides included) in
  uint8/int64/float32/float64/bool, with NaN/inf in float arrays;
* ``json``: nested lists/objects of any JSON values, up to 300 levels deep.

The search does not stop at the first failure: Hypothesis ends a run soon
after it, so the fuzzer runs further rounds (with the rest of ``max_examples``)
in which the failures already found count as passing, until a round finds
nothing new. Every call has a time budget (``call_timeout``): a call that
overruns it, such as a regular expression backtracking on a long run, is a
``timeout`` finding, minimised like a crash.

Recorded, one finding per distinct failure (kind, exception type and place),
each with Hypothesis's minimal failing input (repr, masked, clipped):
``crash`` (an exception), ``timeout``, ``memory`` (MemoryError under the limit,
or the worker killed), ``nondeterministic`` (same input, different results).
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import warnings

from .errors import TestingError

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_fuzz_worker.py")
INPUT_KINDS = ("text", "tabular", "image", "json")
REPR_LIMIT = 2000
STARTUP_TIMEOUT_S = 60.0
MAX_ROUNDS = 8           # search rounds, each after new failures were found
MIN_ROUND_EXAMPLES = 10  # a round with less budget left than this is not started


class FuzzError(TestingError):
    pass


class _Failure(Exception):
    """Raised inside the Hypothesis test; one subclass per distinct failure."""


class _Stop(BaseException):
    """Carries a cancel out through Hypothesis, which would take an Exception for a failure to shrink."""


def strategy(kind: str):
    import hypothesis.strategies as st

    if kind == "text":
        return st.one_of(
            st.text(),
            st.just(""),
            st.text(alphabet=st.characters(categories=["Cc", "Zl", "Zp", "Cf"]), min_size=1),
            st.binary(min_size=1).map(lambda b: b.decode("utf-8", "surrogateescape")),
            # Long runs of one short unit, then a character that breaks the match: what
            # makes a backtracking regular expression (ReDoS) take super-linear time.
            st.builds(lambda unit, n, tail: unit * n + tail,
                      st.sampled_from(["a", "0", " ", "ab", "a ", "-", ".", "\t", "a.", "/"]) | st.text(
                          min_size=1, max_size=3),
                      st.integers(8, 3000), st.sampled_from(["", "!", "@", "\x00", "\n", " ", "a!"])),
            st.integers(100_000, 1_000_000).map(lambda n: "A" * n),
        )
    if kind == "tabular":
        cell = st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
            st.none(),
            st.text(max_size=20),
            st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -1e-308, 0]),
        )
        return st.lists(cell, max_size=64)
    if kind == "image":
        import numpy as np
        from hypothesis.extra import numpy as hnp

        dtype = st.sampled_from([np.uint8, np.int64, np.float32, np.float64, np.bool_])
        return hnp.arrays(dtype=dtype, shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=32))
    if kind == "json":
        leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
        tree = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                         st.dictionaries(st.text(max_size=10), inner, max_size=5)),
                            max_leaves=40)
        deep = st.integers(50, 300).map(_nested)
        return st.one_of(tree, deep)
    raise FuzzError(f"unknown input kind {kind!r}; choose one of {', '.join(INPUT_KINDS)}")


def _nested(depth: int):
    value: object = 0
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def describe(value) -> str:
    from .masking import mask_text

    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            text = f"array(shape={value.shape}, dtype={value.dtype}) " + np.array2string(value, threshold=50)
        else:
            text = repr(value)
    except ImportError:
        text = repr(value)
    if len(text) > REPR_LIMIT:
        text = text[: REPR_LIMIT - 40] + f"… ({len(text)} characters in all)"
    return mask_text(text)


class _Worker:
    def __init__(self, python: str, entry: str, path: str, memory_mb: int, repeat: int):
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        self.proc = subprocess.Popen(
            [python, WORKER, str(to_r), str(from_w), entry, path, str(memory_mb), str(repeat)],
            pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True, cwd=path or None)
        os.close(to_r)
        os.close(from_w)
        hello = self.receive(STARTUP_TIMEOUT_S)
        if hello is None or hello.get("status") != "ready":
            err = self.proc.stderr.read().decode("utf-8", "replace")[-1500:] if hello is None else ""
            self.close()
            if hello and hello.get("status") == "import_error":
                raise FuzzError(f"{entry}: cannot be imported ({hello['error_type']}: {hello['message']})")
            raise FuzzError(f"{entry}: the fuzz worker did not start ({err.strip() or 'no output'})")

    def call(self, value, timeout: float) -> dict:
        data = pickle.dumps(value, protocol=4)
        try:
            os.write(self._to_w, struct.pack(">I", len(data)) + data)
        except (BrokenPipeError, OSError):
            return self._died()
        answer = self.receive(timeout)
        if answer is None:
            if self.proc.poll() is None:
                return {"status": "timeout", "error_type": "", "where": "",
                        "message": f"no answer within {timeout:g} s"}
            return self._died()
        return answer

    def _died(self) -> dict:
        rc = self.proc.wait()
        name = signal.Signals(-rc).name if rc < 0 and -rc in signal.valid_signals() else f"exit {rc}"
        kind = "memory" if rc == -signal.SIGKILL else "crash"
        return {"status": kind, "error_type": name, "where": "",
                "message": f"the worker process died ({name}) during the call"}

    def receive(self, timeout: float):
        deadline = time.monotonic() + timeout
        buf = b""
        need = 4
        header_done = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_r], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_r, need - len(buf))
            if not chunk:
                return None
            buf += chunk
            if len(buf) == need:
                if header_done:
                    return json.loads(buf)
                need = struct.unpack(">I", buf)[0]
                buf, header_done = b"", True

    def close(self) -> None:
        for fd in (self._to_w, self._from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


def fuzz(entry: str, kind: str = "text", *, trusted: bool, path: str | None = None, python: str | None = None,
         max_examples: int = 200, call_timeout: float = 2.0, memory_mb: int = 1024, seed: int = 0,
         check_determinism: bool = True, progress=None, check_cancelled=None, log=None) -> dict:
    """Fuzz ``entry`` with ``kind`` inputs; returns the run (see the module docstring)."""
    import hypothesis
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings

    if not trusted:
        raise FuzzError(f"{entry}: fuzzing runs the target's code on this machine; confirm that you trust it "
                        "(trusted=True, or --trust on the command line)")
    if ":" not in entry or not all(entry.partition(":")[::2]):
        raise FuzzError(f"{entry!r}: name the entry point as package.module:callable")
    if kind not in INPUT_KINDS:
        raise FuzzError(f"unknown input kind {kind!r}; choose one of {', '.join(INPUT_KINDS)}")
    python = python or sys.executable
    path = os.path.abspath(path) if path else ""
    repeat = 2 if check_determinism else 1
    log = log or (lambda msg: None)
    state = {"worker": _Worker(python, entry, path, memory_mb, repeat), "calls": 0, "restarts": 0,
             "known": set(), "new": False, "calls_cap": max_examples + 64}
    classes: dict[tuple, type] = {}
    last_input: dict[tuple, object] = {}
    details: dict[tuple, dict] = {}
    counts: dict[tuple, int] = {}

    def call(value):
        if check_cancelled is not None:
            try:
                check_cancelled()
            except Exception as exc:
                state["cancel"] = exc
                raise _Stop() from exc
        state["calls"] += 1
        if progress is not None and state["calls"] % 10 == 0:
            progress(min(state["calls"], max_examples), max_examples, f"fuzz {entry}: {state['calls']} calls")
        answer = state["worker"].call(value, call_timeout)
        if answer["status"] == "ok":
            return
        if answer["status"] in ("timeout", "memory", "crash") and (
                answer["status"] == "timeout" or state["worker"].proc.poll() is not None):
            state["worker"].close()  # hung or dead: a fresh worker for the next call
            state["worker"] = _Worker(python, entry, path, memory_mb, repeat)
            state["restarts"] += 1
        key = (answer["status"], answer.get("error_type", ""), answer.get("where", ""))
        counts[key] = counts.get(key, 0) + 1
        if key in state["known"]:
            return  # found and minimised in an earlier round: look for others
        if key not in details:
            state["new"] = True
        last_input[key] = value
        details[key] = answer
        cls = classes.get(key)
        if cls is None:
            cls = classes[key] = type(f"Fuzz_{len(classes)}", (_Failure,), {})
        raise cls(f"{key[0]} {key[1]} at {key[2]}")

    def one_round(examples: int, round_seed: int):
        test = settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
                        report_multiple_bugs=True, print_blob=False)(given(strategy(kind))(call))
        test = hypothesis.seed(round_seed)(test)
        try:
            with warnings.catch_warnings():
                # Hypothesis builds the repr of each failing input for its report; ours is describe().
                warnings.filterwarnings("ignore", message="Generating overly large repr")
                test()
        except _Failure:
            pass
        except BaseExceptionGroup as group:  # noqa: F821 - Python 3.11+
            rest = group.subgroup(lambda e: not isinstance(e, (_Failure, BaseExceptionGroup)))
            if rest is not None:
                return f"Hypothesis also reported: {rest!r}"
        except hypothesis.errors.FlakyFailure as exc:
            return f"some failures did not reproduce on replay (timing-dependent): {exc}"
        except hypothesis.errors.Flaky as exc:
            return f"some failures did not reproduce on replay (timing-dependent): {exc}"
        return None

    # Hypothesis stops generating soon after its first failure. So the search goes
    # on in rounds: each round treats the failures already found (and minimised)
    # as passing, and looks for new ones with what is left of the budget.
    started = time.monotonic()
    notes = []
    try:
        for round_no in range(MAX_ROUNDS):
            left = max_examples - state["calls"]
            if round_no and (left < MIN_ROUND_EXAMPLES or not state["new"]):
                break
            state["new"] = False
            state["known"] = set(details)
            note = one_round(max(left, 1), seed + round_no)
            if note:
                notes.append(note)
        for key in [k for k in details if k[0] == "timeout"]:
            last_input[key] = _shortest_slow_prefix(last_input[key], state, key, call_timeout, python, entry,
                                                    path, memory_mb, repeat)
    except _Stop:
        raise state["cancel"] from None
    finally:
        state["worker"].close()
    note = "; ".join(notes) or None
    if progress is not None:
        progress(state["calls"], state["calls"], f"fuzz {entry}: {state['calls']} calls")
    findings = []
    for key, answer in details.items():
        where = key[2]
        if path and where.startswith(path + os.sep):
            where = where[len(path) + 1:]  # relative to the project folder: stable across machines
        findings.append({
            "kind": key[0], "error_type": key[1], "where": where,
            "message": describe_message(answer.get("message", "")),
            "minimal_input": describe(last_input[key]), "occurrences": counts[key],
        })
    findings.sort(key=lambda f: ("crash", "memory", "timeout", "nondeterministic").index(f["kind"]))
    log(f"fuzz {entry}: {state['calls']} calls, {len(findings)} distinct failures")
    return {"kind": "fuzz", "entry": entry, "input_kind": kind, "python": python, "path": path,
            "seed": seed, "max_examples": max_examples, "call_timeout": call_timeout, "memory_mb": memory_mb,
            "calls": state["calls"], "worker_restarts": state["restarts"], "findings": findings,
            "crashes": sum(1 for f in findings if f["kind"] == "crash"),
            "timeouts": sum(1 for f in findings if f["kind"] == "timeout"),
            "memory": sum(1 for f in findings if f["kind"] == "memory"),
            "nondeterministic": sum(1 for f in findings if f["kind"] == "nondeterministic"),
            "note": note, "duration": time.monotonic() - started}


def _shortest_slow_prefix(value, state, key, call_timeout, python, entry, path, memory_mb, repeat):
    """The shortest prefix of a slow text or list that still overruns the time budget (bisection).

    Hypothesis cannot shrink a 100,000-character input below its strategy's
    lower bound; for super-linear code (a backtracking regex) a few dozen
    characters are enough, and that is the input worth reporting.
    """
    if not isinstance(value, (str, list, bytes)) or len(value) < 2:
        return value

    def slow(n: int) -> bool:
        state["calls"] += 1
        answer = state["worker"].call(value[:n], call_timeout)
        if answer["status"] == "timeout" or state["worker"].proc.poll() is not None:
            state["worker"].close()
            state["worker"] = _Worker(python, entry, path, memory_mb, repeat)
            state["restarts"] += 1
        return (answer["status"], answer.get("error_type", ""), answer.get("where", "")) == key

    # Galloping from short prefixes (each slow try costs a whole time budget), then bisection.
    low, high = 0, len(value)  # value[:low] is fast, value[:high] is slow
    n = 8
    while n < high and state["calls"] < state["calls_cap"]:
        if slow(n):
            high = n
            break
        low, n = n, n * 2
    while high - low > 1 and state["calls"] < state["calls_cap"]:
        mid = (low + high) // 2
        if slow(mid):
            high = mid
        else:
            low = mid
    return value[:high]


def describe_message(message: str) -> str:
    from .masking import mask_text

    return mask_text(message[:REPR_LIMIT])
