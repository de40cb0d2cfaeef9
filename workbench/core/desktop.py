"""``workbench desktop-install``: the Linux menu entry, icon and project file type, for this user only.

Files go under the XDG data home (``$XDG_DATA_HOME``, else ``~/.local/share``), following the
Desktop Entry, Icon Theme and Shared MIME-info specifications; ``--uninstall`` removes exactly
these files. Qt-free and standard library only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from workbench import APP_NAME
from workbench.core.errors import WorkbenchError

APP_ID = "ai-security-workbench"
ICON_NAME = APP_ID
PROJECT_MIME = "application/x-ai-security-workbench-project"


class DesktopInstallError(WorkbenchError):
    """The desktop files could not be installed or removed; the message says which file and why."""


@dataclass(frozen=True)
class DesktopPaths:
    entry: Path
    icon: Path
    mime: Path

    def all(self) -> tuple[Path, Path, Path]:
        return self.entry, self.icon, self.mime


def data_home(environ=None) -> Path:
    """``$XDG_DATA_HOME`` if set to an absolute path (the spec says to ignore a relative one), else ~/.local/share."""
    environ = os.environ if environ is None else environ
    value = environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    home = environ.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".local" / "share"


def paths(home: Path) -> DesktopPaths:
    return DesktopPaths(
        entry=home / "applications" / f"{APP_ID}.desktop",
        icon=home / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
        mime=home / "mime" / "packages" / f"{APP_ID}.xml",
    )


def default_command() -> list[str]:
    """How the menu entry starts this installation: the frozen app, the venv's console script, or -m."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = Path(sys.executable).parent / ("workbench.exe" if os.name == "nt" else "workbench")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "workbench"]


def find_icon() -> Path:
    """The SVG icon shipped in the package's resources (or in the checkout's resources/)."""
    candidates = []
    try:
        from importlib.resources import files

        candidates.append(Path(str(files("workbench_resources") / "icons" / f"{ICON_NAME}.svg")))
    except ModuleNotFoundError:
        pass
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "icons" / f"{ICON_NAME}.svg")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DesktopInstallError("the workbench icon is missing from this installation (looked in: "
                              + ", ".join(str(c) for c in candidates) + ")")


def _quote_exec_arg(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec asks (reserved characters → a quoted string)."""
    if not arg or any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`="):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    # Exec is a string value: its backslashes are escaped once more; a literal % is written %%.
    return arg.replace("\\", "\\\\").replace("%", "%%")


def desktop_entry(command: list[str]) -> str:
    for arg in command:
        if any(c in arg for c in "\n\r"):
            raise DesktopInstallError(f"cannot put a path with a line break in a desktop entry: {arg!r}")
    exec_line = " ".join(_quote_exec_arg(a) for a in command) + " gui %f"
    try_exec = f"TryExec={_quote_exec_arg(command[0])}\n" if len(command) == 1 else ""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        f"Name={APP_NAME}\n"
        "GenericName=AI security audit\n"
        "Comment=Audit, anonymise, attack and monitor AI systems, offline\n"
        f"{try_exec}"
        f"Exec={exec_line}\n"
        f"Icon={ICON_NAME}\n"
        "Terminal=false\n"
        "Categories=System;Security;\n"
        "Keywords=AI;ML;security;audit;bandit;robustness;\n"
        f"MimeType={PROJECT_MIME};\n"
        "StartupNotify=true\n"
    )


def mime_package() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">\n'
        f'  <mime-type type="{PROJECT_MIME}">\n'
        f"    <comment>{APP_NAME} project</comment>\n"
        '    <sub-class-of type="application/vnd.sqlite3"/>\n'
        f'    <generic-icon name="{ICON_NAME}"/>\n'
        '    <glob pattern="*.wbproj"/>\n'
        "  </mime-type>\n"
        "</mime-info>\n"
    )


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a half-written .desktop file would show a broken menu entry."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary file behind
        except OSError:
            pass
        raise DesktopInstallError(f"{path}: cannot write ({exc.strerror or exc}); the previous file, if any, "
                                  "is unchanged") from None


def _refresh_caches(home: Path) -> list[str]:
    """Desktops pick up new entries faster with refreshed caches; the tools are optional."""
    done = []
    for tool, target in (("update-desktop-database", home / "applications"),
                         ("update-mime-database", home / "mime"),
                         ("gtk-update-icon-cache", home / "icons" / "hicolor")):
        exe = shutil.which(tool)
        if exe is None or not target.is_dir():
            continue
        args = [exe, "-q", "-t", str(target)] if tool == "gtk-update-icon-cache" else [exe, str(target)]
        try:
            if subprocess.run(args, capture_output=True, timeout=60).returncode == 0:
                done.append(tool)
        except (OSError, subprocess.TimeoutExpired):
            pass
    return done


def install(home: Path | None = None, command: list[str] | None = None, icon: Path | None = None,
            refresh: bool = True) -> DesktopPaths:
    home = data_home() if home is None else home
    target = paths(home)
    icon_src = find_icon() if icon is None else icon
    try:
        icon_bytes = icon_src.read_bytes()
    except OSError as exc:
        raise DesktopInstallError(f"{icon_src}: cannot read the icon ({exc.strerror or exc})") from None
    entry = desktop_entry(command or default_command())
    _write(target.icon, icon_bytes)
    _write(target.mime, mime_package().encode("utf-8"))
    _write(target.entry, entry.encode("utf-8"))  # last: the entry points at the icon and the type
    if refresh:
        _refresh_caches(home)
    return target


def uninstall(home: Path | None = None, refresh: bool = True) -> list[Path]:
    """Remove what :func:`install` wrote; returns the files removed (none when nothing was installed)."""
    home = data_home() if home is None else home
    removed = []
    for path in paths(home).all():
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DesktopInstallError(f"{path}: cannot remove ({exc.strerror or exc})") from None
    if refresh and removed:
        _refresh_caches(home)
    return removed


def run_desktop_install(uninstall_: bool = False, out=print) -> int:
    """The body of ``workbench desktop-install [--uninstall]``; returns the exit code."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise DesktopInstallError("desktop-install adds a freedesktop.org (XDG) menu entry: Linux and BSD only")
    home = data_home()
    if uninstall_:
        removed = uninstall(home)
        if not removed:
            out(f"nothing to remove: no {APP_NAME} desktop entry under {home}")
        for path in removed:
            out(f"removed {path}")
        return 0
    target = install(home)
    for path in target.all():
        out(f"installed {path}")
    out(f"'{APP_NAME}' is in the applications menu (it may take a log-out on some desktops); "
        "remove it with `workbench desktop-install --uninstall`")
    return 0
