"""Fuzzing real target callables in worker processes."""

from __future__ import annotations

import ast
import importlib.util
import sys

import pytest

from workbench_plugins.testing.fuzz import FuzzError, fuzz

from .conftest import write_tree

MODEL = '''
    import random
    import time


    def predict(text):
        if any(ord(c) < 32 for c in text):
            raise ValueError("control character in input")
        return len(text)


    def clean(text):
        return text.strip().lower()


    def slow(text):
        if text:
            time.sleep(60)
        return 0


    def hungry(text):
        if len(text) > 3:
            return bytearray(8 * 1024 ** 3)
        return 1


    def noisy(text):
        return random.random() if text else 0.0


    def score_row(row):
        return sum(float(x) for x in row) / len(row)


    def brightness(image):
        if image.ndim != 3:
            raise ValueError(f"expected H x W x C, got {image.ndim} dimensions")
        return float(image.mean())


    def depth(doc):
        if isinstance(doc, dict):
            return 1 + max((depth(v) for v in doc.values()), default=0)
        if isinstance(doc, list):
            return 1 + max((depth(v) for v in doc), default=0)
        return 0


    import re

    EMAIL = re.compile("^([a-zA-Z0-9]+)*@example[.]com$")  # nested quantifiers: exponential backtracking


    def check_email(text):
        if chr(0) in text:
            raise ValueError("NUL byte in address")
        return EMAIL.match(text) is not None


    def load_doc(doc):
        if depth(doc) > 100:
            raise RecursionError("document nested too deeply")
        return doc
'''


@pytest.fixture
def model_dir(tmp_path):
    return write_tree(tmp_path / "target", {"model.py": MODEL})


def _load(model_dir):
    spec = importlib.util.spec_from_file_location("fuzz_target_model", model_dir / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_planted_crash_is_found_with_its_minimal_input(model_dir):
    run = fuzz("model:predict", "text", trusted=True, path=str(model_dir), max_examples=60, seed=1)
    assert run["crashes"] == 1 and len(run["findings"]) == 1
    crash = run["findings"][0]
    assert (crash["kind"], crash["error_type"], crash["message"]) == (
        "crash", "ValueError", "control character in input")
    assert crash["where"] == "model.py:7 (predict)"  # relative to the project folder
    minimal = ast.literal_eval(crash["minimal_input"])
    # Hypothesis shrank it to one character, and it really crashes the callable.
    assert len(minimal) == 1 and ord(minimal) < 32
    with pytest.raises(ValueError):
        _load(model_dir).predict(minimal)


def test_a_sound_callable_has_no_findings(model_dir):
    run = fuzz("model:clean", "text", trusted=True, path=str(model_dir), max_examples=40)
    assert run["findings"] == [] and run["calls"] == 40


def test_timeouts_memory_blowups_and_non_determinism(model_dir):
    slow = fuzz("model:slow", "text", trusted=True, path=str(model_dir), max_examples=5, call_timeout=1.5)
    assert [(f["kind"], f["minimal_input"]) for f in slow["findings"]] == [("timeout", "'0'")]
    assert slow["worker_restarts"] >= 1

    hungry = fuzz("model:hungry", "text", trusted=True, path=str(model_dir), max_examples=30, memory_mb=256)
    assert [(f["kind"], f["error_type"], f["minimal_input"]) for f in hungry["findings"]] == [
        ("memory", "MemoryError", "'0000'")]

    noisy = fuzz("model:noisy", "text", trusted=True, path=str(model_dir), max_examples=30)
    assert [(f["kind"], f["minimal_input"]) for f in noisy["findings"]] == [("nondeterministic", "'0'")]


def test_tabular_image_and_json_inputs(model_dir):
    rows = fuzz("model:score_row", "tabular", trusted=True, path=str(model_dir), max_examples=60)
    kinds = {(f["error_type"], f["minimal_input"]) for f in rows["findings"]}
    assert ("ZeroDivisionError", "[]") in kinds  # the empty row
    assert any(e == "TypeError" for e, _ in kinds)  # None where a number was expected

    images = fuzz("model:brightness", "image", trusted=True, path=str(model_dir), max_examples=60)
    crash = images["findings"][0]
    assert (crash["kind"], crash["error_type"]) == ("crash", "ValueError")
    assert crash["minimal_input"].startswith("array(shape=(), dtype=")  # the minimal: a 0-d array

    docs = fuzz("model:load_doc", "json", trusted=True, path=str(model_dir), max_examples=60)
    deep = [f for f in docs["findings"] if f["error_type"] == "RecursionError"]
    assert len(deep) == 1
    # Shrunk to the shallowest document that crashes: 101 levels.
    assert _load(model_dir).depth(ast.literal_eval(deep[0]["minimal_input"])) == 101


def test_refusals_and_bad_entry_points(model_dir):
    with pytest.raises(FuzzError, match="confirm that you trust it"):
        fuzz("model:predict", "text", trusted=False, path=str(model_dir))
    with pytest.raises(FuzzError, match="package.module:callable"):
        fuzz("model.predict", "text", trusted=True, path=str(model_dir))
    with pytest.raises(FuzzError, match="unknown input kind 'audio'"):
        fuzz("model:predict", "audio", trusted=True, path=str(model_dir))
    with pytest.raises(FuzzError, match=r"model:missing: cannot be imported \(AttributeError"):
        fuzz("model:missing", "text", trusted=True, path=str(model_dir))
    with pytest.raises(FuzzError, match=r"nomodule:f: cannot be imported \(ModuleNotFoundError"):
        fuzz("nomodule:f", "text", trusted=True, path=str(model_dir), python=sys.executable)


def test_cancel_stops_fuzzing_at_once(model_dir):
    class Cancelled(Exception):
        pass

    calls = {"n": 0}

    def check_cancelled():
        calls["n"] += 1
        if calls["n"] > 5:
            raise Cancelled()

    with pytest.raises(Cancelled):
        fuzz("model:predict", "text", trusted=True, path=str(model_dir), check_cancelled=check_cancelled)
    assert calls["n"] == 6  # no shrinking of the cancel as if it were a failure


def test_keeps_going_after_a_failure_and_a_redos_regex_surfaces_as_a_timeout(model_dir):
    run = fuzz("model:check_email", "text", trusted=True, path=str(model_dir), max_examples=40, call_timeout=0.5,
               seed=3, check_determinism=False)
    kinds = {(f["kind"], f["error_type"]): f for f in run["findings"]}
    # Two distinct failures, each minimised: the crash did not end the search.
    assert set(kinds) == {("crash", "ValueError"), ("timeout", "")}, run["findings"]
    assert ast.literal_eval(kinds[("crash", "ValueError")]["minimal_input"]) == "\x00"
    slow = ast.literal_eval(kinds[("timeout", "")]["minimal_input"])
    # The minimal slow input is a long run of address characters that never reaches "@example.com".
    assert len(slow) >= 10 and "@" not in slow and "\x00" not in slow
    module = _load(model_dir)
    assert module.EMAIL.match(slow[:4]) is None  # short, it fails at once; long, it backtracks exponentially
