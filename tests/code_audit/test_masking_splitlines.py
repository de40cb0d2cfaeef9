"""The masking pass cuts source lines exactly as the Python parser (``ast``) does."""

from __future__ import annotations

import ast
import glob
import random
import sysconfig

from workbench_plugins.code_audit.masking import splitlines_no_ff


def test_splitlines_equals_the_library_on_random_and_real_text():
    rnd = random.Random(8)
    pieces = ["a", "bc ", "\r", "\n", "\r\n", "\f", "\x0b", "\u2028", "\x85", "\x1c", "é", '"""']
    cases = ["", "\r\r\n\n", "x\r", "x\n\r", "\n\n", "last line"]
    cases += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14))) for _ in range(5000)]
    for path in sorted(glob.glob(f"{sysconfig.get_paths()['stdlib']}/*.py"))[:40]:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            cases.append(fh.read())
    for text in cases:
        assert splitlines_no_ff(text) == ast._splitlines_no_ff(text), repr(text[:80])


def test_segments_equal_the_library_on_crlf_form_feed_and_real_files():
    from workbench_plugins.code_audit.masking import _segments

    sources = ["x = 1\r\n\fpassword = 'Zq8#rT42xLm2!vB9'\r\ny = '''a\rb'''\nz = ('é',\n 'ü')\n"]
    for path in sorted(glob.glob(f"{sysconfig.get_paths()['stdlib']}/*.py"))[:6]:
        with open(path, encoding="utf-8", newline="") as fh:
            sources.append(fh.read())
    compared = 0
    for source in sources:
        segment = _segments(source)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert segment(node) == ast.get_source_segment(source, node)
                compared += 1
    assert compared > 100
