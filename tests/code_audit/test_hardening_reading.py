"""Bounded reading (issue 7): no FIFO or device is opened, no read is unbounded,
undecodable file names are scanned and shown escaped.

Anything that could hang runs in a subprocess with a timeout: a hang fails the
test instead of blocking the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from workbench_plugins.code_audit import reading

HANG_GUARD_S = 120  # not a speed threshold: only a hang reaches it


def run_python(code: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, **kw)


@pytest.fixture
def hostile_tree(tmp_path):
    """A tree with a FIFO (several extensions), a /dev/zero link named like a model, a regular file."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for name in ("model.pkl", "settings.py", "notes.txt"):
        os.mkfifo(tree / "sub" / name)
    os.symlink("/dev/zero", tree / "zero.pkl")
    os.symlink("/dev/null", tree / "null.py")
    (tree / "ok.py").write_text("x = 1\n")
    return tree


def test_non_regular_files_are_recognised_without_opening(hostile_tree):
    assert reading.is_regular_file(hostile_tree / "ok.py")
    assert "FIFO" in reading.not_regular_reason(hostile_tree / "sub" / "model.pkl")
    assert "character device" in reading.not_regular_reason(hostile_tree / "zero.pkl")
    assert not reading.is_regular_file(hostile_tree / "null.py")
    assert not reading.is_regular_file(hostile_tree / "sub")
    assert reading.not_regular_reason(hostile_tree / "missing").startswith("unreadable")


def test_every_scanner_returns_at_once_on_fifos_and_devices(hostile_tree):
    """The three scanners and the secrets hashing, on FIFOs with no writer: a reason each, no hang."""
    result = run_python(f"""
        import json
        from workbench_plugins.code_audit import bandit_runner, bandit_config, model_scan, reading, secrets_scan
        tree = {str(hostile_tree)!r}
        out = {{}}
        for rel in ("sub/model.pkl", "zero.pkl"):
            out["model " + rel] = model_scan.scan_file(tree + "/" + rel)[1]
        files = [(tree + "/" + rel, rel) for rel in ("sub/settings.py", "sub/notes.txt", "zero.pkl", "ok.py")]
        out["secrets"] = {{rel: why for rel, (_, why) in secrets_scan.scan_files(files, workers=1).items()}}
        cfg = bandit_config.load_config(tree, None)
        for rel in ("sub/settings.py", "null.py"):
            out["bandit " + rel] = bandit_runner.audit_file(tree + "/" + rel, rel, cfg).skipped
        out["read"] = reading.read_limited(tree + "/sub/notes.txt", 10)[1]
        print(json.dumps(out))
    """)
    assert result.returncode == 0, result.stderr
    import json

    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert "FIFO" in out["model sub/model.pkl"] and "character device" in out["model zero.pkl"]
    assert "FIFO" in out["secrets"]["sub/settings.py"] and "FIFO" in out["secrets"]["sub/notes.txt"]
    assert "character device" in out["secrets"]["zero.pkl"] and out["secrets"]["ok.py"] is None
    assert "FIFO" in out["bandit sub/settings.py"] and "character device" in out["bandit null.py"]
    assert "FIFO" in out["read"]


def test_fifo_swapped_in_after_the_check_does_not_block(tmp_path):
    """The check passes (a regular file), then a FIFO takes its place before the open."""
    fifo = tmp_path / "swap.pkl"
    os.mkfifo(fifo)
    result = run_python(f"""
        from workbench_plugins.code_audit import reading
        reading.not_regular_reason = lambda path: None   # the race: the stat saw a regular file
        try:
            reading.open_regular({str(fifo)!r})
        except reading.NotRegularFile as exc:
            print("refused:", exc.strerror)
        print(reading.read_limited({str(fifo)!r}, 10))
    """)
    assert result.returncode == 0, result.stderr
    assert "refused: Not a regular file (a FIFO)" in result.stdout
    assert "not a regular file (a FIFO)" in result.stdout


def test_dev_zero_and_huge_files_cost_no_memory(tmp_path):
    """Under a 1 GiB address-space limit: /dev/zero as model.pkl, a 3 GB sparse pickle,
    a 3 GB sparse text file. Reading 2 GB (the old behaviour) would raise MemoryError."""
    os.symlink("/dev/zero", tmp_path / "model.pkl")
    with open(tmp_path / "sparse.pt", "wb") as fh:
        size = 3 * 1024 ** 3
        fh.write(b"\x80\x04\x8e" + size.to_bytes(8, "little"))
        fh.truncate(size + 11)
    with open(tmp_path / "big.txt", "wb") as fh:
        fh.truncate(3 * 1024 ** 3)
    result = run_python(f"""
        import resource
        from workbench_plugins.code_audit import model_scan, reading, secrets_scan
        resource.setrlimit(resource.RLIMIT_AS, (1024 ** 3, 1024 ** 3))
        tree = {str(tmp_path)!r}
        print("zero:", model_scan.scan_file(tree + "/model.pkl")[1])
        print("sparse:", model_scan.scan_file(tree + "/sparse.pt")[1])
        print("text:", secrets_scan.scan_files([(tree + "/big.txt", "big.txt")], workers=1)["big.txt"][1])
        print("read:", reading.read_limited(tree + "/big.txt", 1024)[1])
    """, env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "zero: not a regular file (a character device)" in out
    assert "sparse: truncated pickle" in out  # walked to the end by seeking, not by reading
    # The sparse "text" file is 3 GB of NUL bytes: binary, so not secret-scanned (only 8 KB read).
    assert "text: None" in out and "read: too large" in out


def test_undecodable_file_names_are_scanned_and_shown_escaped(tmp_path):
    raw_dir = os.fsencode(tmp_path)
    names = {b"caf\xe9.py": b"password = 'Zq8#rT11xLm2!vB9'\nimport pickle\npickle.loads(b'')\n",
             b"m\xff\xfeodel.pkl": b"cos\nsystem\n(S'true'\ntR.",
             b"ok\xc3\xa9.txt": b"aws = 'AKIAZDEMOFAKE7EXAMPL'\n"}
    for name, body in names.items():
        with open(os.path.join(raw_dir, name), "wb") as fh:
            fh.write(body)
    from workbench_plugins.code_audit import bandit_config, bandit_runner, model_scan, secrets_scan

    files = [(os.path.join(str(tmp_path), os.fsdecode(n)), os.fsdecode(n)) for n in names]
    scanned = secrets_scan.scan_files(files, workers=1)
    assert all(why is None for _, why in scanned.values())
    assert sum(len(r) for r, _ in scanned.values()) >= 2
    model = files[1][0]
    assert {(r["module"], r["name"]) for r in model_scan.scan_file(model)[0]} == {("os", "system")}
    cfg = bandit_config.load_config(str(tmp_path), None)
    assert bandit_runner.audit_file(files[0][0], files[0][1], cfg).issues
    shown = {reading.display_path(rel) for _, rel in files}
    assert shown == {"caf\\xe9.py", "m\\xff\\xfeodel.pkl", "okè.txt".replace("è", "\u00e9")}
    for text in shown:
        text.encode("utf-8")  # storable: SQLite, JSON and terminals take it
    assert reading.display_path(b"caf\xe9") == "caf\\xe9"


def test_cache_stores_undecodable_names(tmp_path, project):
    """The secrets cache row holds the shown (escaped) name: SQLite cannot encode the raw one."""
    from workbench_plugins.code_audit import secrets_scan

    raw = os.path.join(os.fsencode(tmp_path), b"x\xe9.env")
    with open(raw, "wb") as fh:
        fh.write(b"AWS_KEY=AKIAZDEMOFAKE7EXAMPL\n")
    rel = os.fsdecode(b"x\xe9.env")
    first = secrets_scan.scan_files([(os.fsdecode(raw), rel)], cache_conn=project.conn, workers=1)
    again = secrets_scan.scan_files([(os.fsdecode(raw), rel)], cache_conn=project.conn, workers=1)
    assert first == again and first[rel][0]
