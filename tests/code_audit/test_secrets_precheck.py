"""Our pre-checked scan reports exactly what detect-secrets' own scan_file reports."""

from __future__ import annotations

import glob
import os
import sysconfig

from workbench_plugins.code_audit import secrets_scan

STDLIB = sysconfig.get_paths()["stdlib"]


def _files(demo_tree) -> list[str]:
    picked = sorted(glob.glob(f"{STDLIB}/*.py"))[:60] + sorted(glob.glob(f"{STDLIB}/test/test_[a-c]*.py"))[:25]
    picked += [str(p) for p in demo_tree.rglob("*") if p.is_file()]
    return [f for f in picked if os.path.isfile(f)]


def test_precheck_changes_nothing(tmp_path):
    from detect_secrets.core import scan

    from workbench_plugins.code_audit.engine import prepare_demo

    demo = tmp_path / "demo"
    prepare_demo(str(demo))
    (demo / "extra.env").write_text('API_TOKEN="ghp_abcdefghijklmnopqrstuvwxyz0123456789"\npassword: hunter2hunter2\n')
    (demo / "key.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n")

    def key(secret):
        return (secret.type, secret.line_number, secret.secret_hash)

    files = _files(demo)
    with secrets_scan.settings():
        theirs = {f: sorted(map(key, scan.scan_file(f))) for f in files}
        ours = {f: sorted(map(key, secrets_scan._scan(f))) for f in files}
    assert sum(map(len, theirs.values())) >= 10  # the comparison covers real hits
    assert ours == theirs


# Lines made to sit on the edges of the pre-check: case folding (IGNORECASE detectors), characters
# that IGNORECASE matches to ASCII letters (the Kelvin sign, the long s), non-ASCII keywords, text
# that is not ASCII, entropy strings just under and over the limits, CRLF line ends, config files.
EDGE_LINES = [
    'PASSWORD = "Zq8#rT42xLm2!vB9"',
    'Api_Key = "q7Rt9pLm2Xz8Vb4N"',
    'api_\u212aey = "q7Rt9pLm2Xz8Vb4N"',  # KELVIN SIGN: IGNORECASE matches it to k
    'pa\u017f\u017fword = "q7Rt9pLm2Xz8Vb4N"',  # LATIN SMALL LETTER LONG S: matches s
    'contrase\u00f1a = "q7Rt9pLm2Xz8Vb4N"',
    'CONTRASE\u00d1A = "q7Rt9pLm2Xz8Vb4N"',
    'caf\u00e9 = "d\u00e9j\u00e0 vu"; secret = "q7Rt9pLm2Xz8Vb4N"',
    'if "q7Rt9pLm2Xz8Vb4N" == my_password_secure: pass',
    'x = "0123456701234567"',  # 8 distinct hex digits, uniform: entropy exactly 3.0 (the hex limit)
    'x = "0123456789abcdef0123456789abcdef"',
    'x = "ABCDEFGHIJKLMNOPQRSTUV"',  # 22 distinct: cannot pass base64's 4.5
    'x = "ABCDEFGHIJKLMNOPQRSTUVW"',  # 23 distinct, uniform: log2(23) > 4.5
    'x = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC2eF4hJ6kL8nP0rS2uV4xY6"',
    "ibm_cloud_iam_api_key = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR'",
    "cloudant_password = 'abcdefghijklmnopqrstuvwx'",
    "url = 'https://admin:Hunter2Hunter2@db.example.com/x'",
    "token = 'xoxb-123456789012-abcdefghijklmnop'",
    "AWS_SECRET = 'AKIAIOSFODNN7EXAMPLE'",
    "gh = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'",
    "jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'",
    "ip = '8.8.4.4'",
    "    pass",
]


def test_precheck_edge_cases_change_nothing(tmp_path):
    from detect_secrets.core import scan

    body = "\n".join(EDGE_LINES) + "\n"
    files = []
    for name, text in (("edge.py", body), ("edge_ascii.py", body.encode("ascii", "ignore").decode()),
                       ("crlf.py", body.replace("\n", "\r\n")), ("edge.txt", body),
                       ("edge.yaml", "".join(f"k{i}: {line!r}\n" for i, line in enumerate(EDGE_LINES))),
                       ("edge.ini", "[s]\n" + "".join(f"k{i} = {line}\n" for i, line in enumerate(EDGE_LINES)))):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))
        files.append(str(path))

    def key(secret):
        return (secret.type, secret.line_number, secret.secret_hash)

    with secrets_scan.settings():
        theirs = {f: sorted(map(key, scan.scan_file(f))) for f in files}
        ours = {f: sorted(map(key, secrets_scan._scan(f))) for f in files}
    assert all(theirs.values())  # every file has hits to compare
    assert ours == theirs


def test_required_strings_of_a_pattern():
    import re

    def strings(pattern, flags=0):
        guard = secrets_scan._guard(re.compile(pattern, flags))
        return None if guard is None else guard.strings

    assert strings(r"AKIA[0-9A-Z]{16}") == {"AKIA"}
    assert strings(r"(ghp|gho)_[A-Za-z0-9_]{36}") == {"ghp", "gho"}  # the longest required part wins
    assert strings(r"(?:r|s)k_live_[0-9a-zA-Z]{24}") == {"rk_live_", "sk_live_"}
    assert strings(r"x?abc|de") == {"abc", "de"}
    assert strings(r"[A-Z]+\d{3}") is None  # nothing literal is required
    assert strings(r"(?:foo)?bar") == {"bar"}
    assert strings(r"a(?i:bc)") == {"a"}  # a scoped flag: its group is not trusted


def test_guard_finds_every_line_a_detector_pattern_matches():
    """For every detector pattern: each line it matches (real and made-up lines, several
    file types) is among the lines its guard finds, with and without the ASCII fast path."""
    import glob

    from detect_secrets.settings import get_plugins

    lines = list(EDGE_LINES)
    for path in sorted(glob.glob(f"{STDLIB}/*.py"))[:12]:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines += fh.read().splitlines()
    checked = 0
    with secrets_scan.settings():
        for filename in ("a.py", "a.yaml", "a.txt", "a.go", "a.cs"):
            for plugin in get_plugins():
                for pattern in secrets_scan._patterns(plugin, filename) or []:
                    guard = secrets_scan._guard(pattern)
                    if guard is None:
                        continue
                    for view_lines in (lines, [line for line in lines if line.isascii()]):
                        view = secrets_scan._FileView(view_lines)
                        expected = {i for i, line in enumerate(view_lines) if pattern.search(line.rstrip())}
                        assert expected <= view.lines_with(guard), (type(plugin).__name__, pattern.pattern)
                        checked += len(expected)
    assert checked > 100  # the patterns really matched lines
