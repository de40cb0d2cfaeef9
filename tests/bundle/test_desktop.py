"""`workbench desktop-install`: the XDG files it writes, where, and that --uninstall removes them."""

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workbench.core import desktop


def read_entry(path):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def exec_argv(value):
    """Undo the Desktop Entry escaping of an Exec value (string escapes, then the quoting rules)."""
    text = value.replace("\\\\", "\\")  # the string-value escape of a backslash
    args, current, quoted, i = [], None, False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
                current += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
            else:
                current += c
        elif c == " ":
            if current is not None:
                args.append(current)
            current = None
        elif c == '"':
            current, quoted = current or "", True
        else:
            current = (current or "") + c
        i += 1
    assert not quoted, f"unterminated quote in Exec={value}"
    if current is not None:
        args.append(current)
    return [a.replace("%%", "%") for a in args]


def test_data_home_honours_xdg_data_home(tmp_path):
    assert desktop.data_home({"XDG_DATA_HOME": str(tmp_path), "HOME": "/home/x"}) == tmp_path
    # The spec says a relative value is invalid and must be ignored.
    assert desktop.data_home({"XDG_DATA_HOME": "rel/share", "HOME": "/home/x"}) == Path("/home/x/.local/share")
    assert desktop.data_home({"HOME": "/home/x"}) == Path("/home/x/.local/share")


def test_install_writes_entry_icon_and_type(tmp_path):
    command = [str(tmp_path / "my venv" / "bin" / "work$bench"), "--flag=50%", "back\\slash \"q\" `x`"]
    target = desktop.install(tmp_path / "share", command=command, refresh=False)
    assert target.entry == tmp_path / "share" / "applications" / "ai-security-workbench.desktop"
    entry = read_entry(target.entry)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "AI Security Workbench"
    assert entry["Icon"] == "ai-security-workbench"
    assert entry["Terminal"] == "false"
    assert entry["MimeType"] == "application/x-ai-security-workbench-project;"
    assert "TryExec" not in entry  # two-word command: TryExec takes one program only
    assert exec_argv(entry["Exec"]) == [*command, "gui", "%f"]
    icon = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "ai-security-workbench.svg"
    assert target.icon == icon
    assert ET.parse(icon).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    mime = ET.parse(target.mime).getroot()
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    mime_type = mime.find(f"{ns}mime-type")
    assert mime_type.get("type") == "application/x-ai-security-workbench-project"
    assert mime_type.find(f"{ns}glob").get("pattern") == "*.wbproj"
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(target.entry)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_single_program_gets_tryexec_and_default_command_starts_this_install(tmp_path):
    target = desktop.install(tmp_path, refresh=False)
    entry = read_entry(target.entry)
    argv = exec_argv(entry["Exec"])
    assert argv[-2:] == ["gui", "%f"]
    program = argv[:-2]
    assert Path(program[0]).parent == Path(sys.executable).parent or program[0] == sys.executable
    # The command in the entry really starts this workbench.
    proc = subprocess.run([*program, "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "0." in proc.stdout, proc.stderr
    if len(program) == 1:
        assert exec_argv(entry["TryExec"]) == program


def test_line_break_in_path_is_refused(tmp_path):
    with pytest.raises(desktop.DesktopInstallError, match="line break"):
        desktop.install(tmp_path, command=["/opt/a\nb/workbench"], refresh=False)
    assert not (tmp_path / "applications").exists()


def test_uninstall_removes_exactly_what_was_installed(tmp_path):
    home = tmp_path / "share"
    keep = home / "applications" / "other.desktop"
    keep.parent.mkdir(parents=True)
    keep.write_text("[Desktop Entry]\nName=Other\n")
    target = desktop.install(home, command=["/usr/bin/workbench"], refresh=False)
    assert sorted(desktop.uninstall(home, refresh=False)) == sorted(target.all())
    assert not any(p.exists() for p in target.all())
    assert keep.exists()
    assert desktop.uninstall(home, refresh=False) == []


def test_command_body_uses_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lines = []
    assert desktop.run_desktop_install(out=lines.append) == 0
    assert (tmp_path / "xdg" / "applications" / "ai-security-workbench.desktop").is_file()
    assert any("installed" in line and "ai-security-workbench.desktop" in line for line in lines)
    lines.clear()
    assert desktop.run_desktop_install(uninstall_=True, out=lines.append) == 0
    assert not (tmp_path / "xdg" / "applications" / "ai-security-workbench.desktop").exists()
    assert len([line for line in lines if line.startswith("removed ")]) == 3
    lines.clear()
    desktop.run_desktop_install(uninstall_=True, out=lines.append)
    assert lines and lines[0].startswith("nothing to remove")


def test_unwritable_data_home_names_the_file(tmp_path):
    blocker = tmp_path / "share"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(desktop.DesktopInstallError, match=str(blocker)):
        desktop.install(blocker, command=["/usr/bin/workbench"], refresh=False)
