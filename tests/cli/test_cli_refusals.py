"""Hostile and careless command lines get a clear refusal, and nothing is destroyed."""

from __future__ import annotations

import csv
import io
import os

from wb_core_helpers import run_cli


def _project(tmp_path):
    path = tmp_path / "p.wbproj"
    assert run_cli("new", path).returncode == 0
    return path


def test_report_never_overwrites_a_project_or_writes_elsewhere(tmp_path):
    project = _project(tmp_path)
    before = project.read_bytes()
    for target in (project, tmp_path / "x.txt",
                   tmp_path / "missing" / "r.pdf"):
        result = run_cli("report", project, "-o", target)
        assert result.returncode == 1, result.stdout
        assert "Traceback" not in result.stderr
        assert str(target) in result.stderr
    assert project.read_bytes() == before
    assert not (tmp_path / "missing").exists()
    sqlite_pdf = tmp_path / "other.pdf"
    sqlite_pdf.write_bytes(before)  # a project renamed .pdf is still not ours to overwrite
    result = run_cli("report", project, "-o", sqlite_pdf)
    assert result.returncode == 1 and "SQLite" in result.stderr
    assert sqlite_pdf.read_bytes() == before
    ok = run_cli("report", project, "-o", tmp_path / "r.pdf")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_a_fifo_as_project_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "p.wbproj"
    os.mkfifo(fifo)
    result = run_cli("info", fifo)
    assert result.returncode == 1 and "not a regular file" in result.stderr


def test_no_display_says_so_and_points_to_headless(tmp_path):
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""}
    for args in (("gui",), ("demo", "-o", tmp_path / "demo")):
        result = run_cli(*args, env_extra=env)
        assert result.returncode == 1, result.stderr
        assert "no display" in result.stderr and "--headless" in result.stderr


def test_demo_into_a_file_and_empty_secret_are_clear_errors(tmp_path):
    file = tmp_path / "afile"
    file.write_text("keep me")
    result = run_cli("demo", "--headless", "-o", file)
    assert result.returncode == 1 and "is not a folder" in result.stderr and "Traceback" not in result.stderr
    assert file.read_text() == "keep me"
    project = _project(tmp_path)
    result = run_cli("secret", "set", project, "api", "--stdin", stdin="")
    assert result.returncode == 1 and "empty value" in result.stderr and "Traceback" not in result.stderr


def test_csv_cells_that_look_like_formulas_are_neutralised():
    from workbench_plugins.code_audit.sarif import to_csv

    rows = [{"severity": "HIGH", "confidence": "HIGH", "rule": "B1", "title": "=1+1", "path": "=HYPERLINK(\"x\")+.py",
             "line": 1, "message": "@SUM(A1)", "cwe": None, "fingerprint": "-2", "source_status": "open",
             "triage_status": "open"}]
    cells = next(row for row in csv.reader(io.StringIO(to_csv(rows))) if row[0] != "severity" and "HYPER" in "".join(row))
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert "'=HYPERLINK(\"x\")+.py" in cells


def test_sarif_uris_are_percent_encoded_with_columns():
    from workbench_plugins.code_audit.sarif import _result

    f = {"path": "we\tird \"<name>|\udcff.py", "line": 3, "end_line": 3, "col": 4, "rule": "B1", "severity": "LOW",
         "confidence": "LOW", "message": "m", "fingerprint": "f", "source_status": "open", "triage_status": "open",
         "title": "t", "cwe": None, "evidence": {}}
    loc = _result(f, {"B1": 0})["locations"][0]["physicalLocation"]
    uri = loc["artifactLocation"]["uri"]
    assert all(c not in uri for c in "\t\"<>| ") and "%09" in uri and "%FF" in uri
    assert loc["region"]["startColumn"] == 5


def test_short_fingerprint_prefix_is_refused(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("import pickle\n")
    project = tmp_path / "p.wbproj"
    assert run_cli("audit", tree, "-p", project, "--no-secrets").returncode == 0
    result = run_cli("triage", project, "a", "--status", "fixed")
    assert result.returncode == 1 and "at least 8 characters" in result.stderr


def test_secret_list_needs_no_write_lock_and_gui_offers_read_only(tmp_path):
    import subprocess
    import sys

    project = _project(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom workbench.core.project import Project\n"
                               f"p = Project.open({str(project)!r})\nprint('open', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        listed = run_cli("secret", "list", project)
        assert listed.returncode == 0, listed.stderr
        locked = run_cli("secret", "set", project, "k", "--stdin", stdin="v\n")
        assert locked.returncode == 1 and "already open for writing" in locked.stderr
    finally:
        holder.kill()
        holder.wait()
    assert "--read-only" in run_cli("gui", "--help").stdout


def test_a_second_demo_never_replaces_the_first(tmp_path):
    from workbench.core.demo import free_demo_path

    (tmp_path / "demo.wbproj").write_bytes(b"x")
    assert free_demo_path(tmp_path) == (tmp_path / "demo-2.wbproj", "samples-2")
    (tmp_path / "demo-2.wbproj-wal").write_bytes(b"x")
    assert free_demo_path(tmp_path)[0] == tmp_path / "demo-3.wbproj"
