"""What a project depends on: requirement files, pyproject.toml, lock files, conda environments, a venv.

Every reader returns :class:`Dep` records with the file and line that declare or pin the
package; a file that cannot be read raises :class:`ManifestError` naming the file and line,
and the caller goes on with the other files. Nothing here runs code of the target: a venv's
packages are read from its ``*.dist-info/METADATA`` files, never by starting its Python.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_MANIFEST_BYTES = 32 * 1024 * 1024
LOCK_FILES = ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock")
# other ecosystems an OSV export may cover: npm's lock file and Go's module file
OTHER_FILES = ("package-lock.json", "go.mod")
CONDA_NAMES = re.compile(r"^(environment|conda[-_.\w]*|[-\w.]*environment)\.ya?ml$", re.I)
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
             "site-packages", "dist-packages", ".venv", "venv", ".eggs", "build", "dist"}
# conda packages whose PyPI name differs (the advisories are filed under the PyPI name)
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch", "tensorflow-base": "tensorflow",
                 "py-opencv": "opencv-python", "pyyaml": "pyyaml", "pillow": "pillow", "msgpack-python": "msgpack"}
# conda packages that are not Python distributions: nothing in the PyPI ecosystem to match
CONDA_NOT_PYPI = {"python", "pip", "cudatoolkit", "cuda", "cudnn", "mkl", "openssl", "libgcc", "_libgcc_mutex",
                  "nodejs", "r-base"}


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file (and line)."""


@dataclass
class Dep:
    name: str
    spec: str  # a PEP 440 specifier set ("==2.5.1", ">=2.0,<3", "" for any version)
    file: str  # path relative to the scanned root (or the venv's METADATA)
    line: int | None
    kind: str  # requirements | pyproject | poetry | poetry.lock | uv.lock | pdm.lock | Pipfile.lock | conda | venv
    #            | package-lock.json (npm) | go.mod (Go)
    ecosystem: str = "PyPI"
    hashes: list[str] = field(default_factory=list)
    note: str = ""  # the group or extra it belongs to, the conda name
    unchecked: str = ""  # why it cannot be checked against the ecosystem's advisories (a path, a URL, git)

    @functools.cached_property
    def version(self) -> str | None:
        """The one version an exact pin admits (None when it admits a range)."""
        from .versions import pinned_version

        return pinned_version(self.spec)

    @property
    def locked(self) -> bool:
        return self.kind in ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock", "venv", "package-lock.json",
                             "go.mod")


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path}: larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MB; not a manifest")
    return data.decode("utf-8", "replace")


def _toml(path: Path, text: str) -> dict:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from exc


# --------------------------------------------------------------- the walk

def is_manifest(name: str) -> bool:
    low = name.lower()
    return ((low.startswith("requirements") and low.endswith(".txt")) or name == "pyproject.toml"
            or name in LOCK_FILES or name in OTHER_FILES or bool(CONDA_NAMES.match(name)))


def find_manifests(root: str) -> list[str]:
    """Manifest files under *root* (or *root* itself when it is a file), sorted; virtual environments
    and VCS folders are left out (a venv is read with ``--venv``)."""
    if os.path.isfile(root):
        return [root]
    found = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS
                         and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg")))
        in_req_dir = os.path.basename(dirpath).lower() == "requirements"
        for name in sorted(files):
            if is_manifest(name) or (in_req_dir and name.lower().endswith(".txt")):
                found.append(os.path.join(dirpath, name))
    return found


def read_manifest(path: str, root: str) -> list[Dep]:
    """The dependencies one file declares (its format from its name)."""
    p = Path(path)
    rel = os.path.relpath(path, root).replace(os.sep, "/") if os.path.isdir(root) else p.name
    name = p.name
    if name == "pyproject.toml":
        return read_pyproject(p, rel)
    if name in ("poetry.lock", "uv.lock", "pdm.lock"):
        return read_toml_lock(p, rel, name)
    if name == "Pipfile.lock":
        return read_pipfile_lock(p, rel)
    if CONDA_NAMES.match(name):
        return read_conda(p, rel)
    if name == "package-lock.json":
        return read_npm_lock(p, rel)
    if name == "go.mod":
        return read_go_mod(p, rel)
    return read_requirements(p, rel, root=root if os.path.isdir(root) else str(p.parent))


# ----------------------------------------------------------- requirements

_OPTION = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)")
_HASH = re.compile(r"--hash[= ](\S+)")


def _logical_lines(text: str):
    """(first line number, joined text) with backslash continuations joined and comments cut."""
    buf, start = "", None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw
        if start is None:
            start = n
        # A comment starts at '#' preceded by whitespace (or at the line's start), as pip reads it.
        line = re.sub(r"(^|\s)#.*$", "", line)
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            yield start, buf.strip()
        buf, start = "", None
    if buf.strip():
        yield start, buf.strip()


def parse_requirement(text: str, where: str):
    """A PEP 508 requirement; raises ManifestError naming *where*."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise ManifestError(f"{where}: not a requirement: {text!r} ({exc})") from exc


def read_requirements(path: Path, rel: str, *, root: str, _seen: set | None = None) -> list[Dep]:
    """A pip requirements file with its ``-r`` / ``-c`` includes (relative to the including file)
    and ``--hash`` options; an include loop is read once."""
    seen = _seen if _seen is not None else set()
    key = os.path.realpath(path)
    if key in seen:
        return []
    seen.add(key)
    text = _read(path)
    deps: list[Dep] = []
    for n, line in _logical_lines(text):
        where = f"{rel}, line {n}"
        m = _OPTION.match(line)
        if m:
            target = (path.parent / m.group(2)).resolve()
            if not target.is_file():
                raise ManifestError(f"{where}: included file {m.group(2)} not found")
            sub_rel = os.path.relpath(target, root).replace(os.sep, "/")
            deps += read_requirements(target, sub_rel, root=root, _seen=seen)
            continue
        hashes = _HASH.findall(line)
        line = _HASH.sub("", line).strip()
        if not line or line.startswith("-"):
            if line.startswith(("-e ", "--editable")):
                deps.append(Dep(line.split(None, 1)[-1], "", rel, n, "requirements",
                                unchecked="editable install"))
            continue  # other pip options (--index-url, --no-binary ...) say nothing about versions
        if line.startswith((".", "/")) or "://" in line.split("@")[0]:
            deps.append(Dep(line, "", rel, n, "requirements", unchecked="a path or URL"))
            continue
        req = parse_requirement(line, where)
        deps.append(Dep(req.name, str(req.specifier), rel, n, "requirements", hashes=hashes,
                        unchecked="direct URL" if req.url else ""))
    return deps


# -------------------------------------------------------------- pyproject

def _line_of(lines: list[str], pattern: str, start: int = 0) -> int | None:
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        if rx.search(lines[i]):
            return i + 1
    return None


def _section_start(lines: list[str], header: str) -> int:
    n = _line_of(lines, r"^\s*\[\s*" + re.escape(header).replace(r"\.", r"\s*\.\s*") + r"\s*\]")
    return n or 0


def _req_line(lines: list[str], name: str, start: int) -> int | None:
    """The line after *start* that names *name* in a requirement string or as a key."""
    esc = "[-_.]+".join(re.escape(part) for part in re.split(r"[-_.]+", name))  # PEP 503: -_. are one
    return (_line_of(lines, r"""["']\s*""" + esc + r"""\s*[\[<>=!~;@\s"']""", start)
            or _line_of(lines, r"^\s*[\"']?" + esc + r"[\"']?\s*=", start)
            or _line_of(lines, r"""["']\s*""" + esc, 0))


def poetry_constraint(text: str) -> str:
    """Poetry's version constraint as a PEP 440 specifier set (``^``, ``~``, ``*``, bare versions)."""
    from .versions import parse_version

    out = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text.strip()):
        part = part.strip()
        if not part or part == "*":
            continue
        if part.startswith("^"):
            v = parse_version(part[1:])
            if v is None:
                raise ValueError(part)
            rel = list(v.release) + [0] * (3 - len(v.release))
            # the left-most non-zero part may not change
            idx = next((i for i, x in enumerate(rel[:len(v.release)]) if x != 0), len(v.release) - 1)
            upper = rel[:idx] + [rel[idx] + 1]
            out += [f">={part[1:]}", "<" + ".".join(map(str, upper))]
        elif part.startswith("~") and not part.startswith("~="):
            v = parse_version(part[1:])
            if v is None:
                raise ValueError(part)
            rel = list(v.release)
            upper = [rel[0] + 1] if len(rel) == 1 else [rel[0], rel[1] + 1]
            out += [f">={part[1:]}", "<" + ".".join(map(str, upper))]
        elif re.match(r"^[0-9]", part):
            out.append("==" + part)  # a bare version is an exact pin in Poetry
        else:
            out.append(part)
    return ",".join(out)


def _table(data: dict, key: str, rel: str) -> dict:
    """``data[key]`` when it is a table (an empty one when absent); anything else is a clear error."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(f"{rel}: '{key}' must be a table, not {type(value).__name__}")
    return value


def read_pyproject(path: Path, rel: str) -> list[Dep]:
    """PEP 621 ``[project]`` dependencies and optional dependencies, and Poetry's dependency tables."""
    text = _read(path)
    data = _toml(path, text)
    lines = text.splitlines()
    deps: list[Dep] = []
    project = _table(data, "project", rel)
    start = _section_start(lines, "project")
    for group, reqs in [("", project.get("dependencies") or [])] + sorted(
            _table(project, "optional-dependencies", rel).items()):
        if not isinstance(reqs, list):
            raise ManifestError(f"{rel}: [project] {'optional-dependencies.' + group if group else 'dependencies'} "
                                "must be a list of requirement strings")
        for req_text in reqs:
            if not isinstance(req_text, str):
                raise ManifestError(f"{rel}: [project] dependency {req_text!r} is not a string")
            req = parse_requirement(req_text, f"{rel}, [project] dependencies")
            deps.append(Dep(req.name, str(req.specifier), rel, _req_line(lines, req.name, start), "pyproject",
                            note=f"extra {group}" if group else ""))
    poetry = _table(_table(data, "tool", rel), "poetry", rel)
    tables = [("tool.poetry.dependencies", _table(poetry, "dependencies", rel)),
              ("tool.poetry.dev-dependencies", _table(poetry, "dev-dependencies", rel))]
    for gname, group in sorted(_table(poetry, "group", rel).items()):
        group = group if isinstance(group, dict) else {}
        tables.append((f"tool.poetry.group.{gname}.dependencies", _table(group, "dependencies", rel)))
    for header, table in tables:
        start = _section_start(lines, header)
        for name, value in table.items():
            if name.lower() == "python":
                continue
            line = _line_of(lines, r"^\s*[\"']?" + re.escape(name) + r"[\"']?\s*=", start)
            values = value if isinstance(value, list) else [value]  # multiple-constraints form
            for v in values:
                if isinstance(v, dict):
                    if "version" not in v:
                        deps.append(Dep(name, "", rel, line, "poetry", unchecked="path, git or URL source"))
                        continue
                    v = v["version"]
                if not isinstance(v, str):
                    raise ManifestError(f"{rel}, line {line}: [{header}] {name}: unreadable constraint {v!r}")
                for alt in v.split("||"):  # poetry's "or": each alternative may resolve
                    try:
                        spec = poetry_constraint(alt)
                        from packaging.specifiers import SpecifierSet

                        SpecifierSet(spec)
                    except Exception as exc:  # packaging's InvalidSpecifier or a bad version
                        raise ManifestError(f"{rel}, line {line}: [{header}] {name} = {alt!r}: "
                                            f"not a version constraint") from exc
                    deps.append(Dep(name, spec, rel, line, "poetry", note=header.split(".")[-2]
                                    if "group" in header else ""))
    return deps


# -------------------------------------------------------------- lock files

def read_toml_lock(path: Path, rel: str, kind: str) -> list[Dep]:
    """poetry.lock, uv.lock and pdm.lock: ``[[package]]`` tables with a name and an exact version."""
    text = _read(path)
    data = _toml(path, text)
    lines = text.splitlines()
    packages = data.get("package") or []
    if not isinstance(packages, list):
        raise ManifestError(f"{rel}: 'package' must be an array of tables")
    starts = [i for i, line in enumerate(lines) if line.strip() == "[[package]]"]
    deps = []
    for i, pkg in enumerate(packages):
        at = starts[i] if i < len(starts) else 0
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            raise ManifestError(f"{rel}, line {at + 1}: a [[package]] without a name")
        line = _line_of(lines, r"^\s*name\s*=", at) if starts else None
        version = pkg.get("version")
        source = pkg.get("source") if isinstance(pkg.get("source"), dict) else {}
        if not isinstance(version, str):
            # uv: the project itself and path/git sources have no release version
            deps.append(Dep(pkg["name"], "", rel, line, kind, unchecked="no version in the lock"))
            continue
        local = source.get("virtual") or source.get("editable") or source.get("type") in ("directory", "git", "file")
        note = "local or git source: not in the ecosystem" if local else ""
        hashes = [f.get("hash") for f in (pkg.get("files") or pkg.get("wheels") or []) if isinstance(f, dict)
                  and f.get("hash")]
        if isinstance(pkg.get("sdist"), dict) and pkg["sdist"].get("hash"):
            hashes.append(pkg["sdist"]["hash"])
        deps.append(Dep(pkg["name"], f"=={version}", rel, line, kind, hashes=hashes, unchecked=note))
    return deps


def _json_object(path: Path, rel: str, what: str) -> tuple[dict, list[str]]:
    """A JSON lock file's object and its lines (to find where a package is pinned); errors name the line."""
    text = _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{rel}, line {exc.lineno}: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{rel}: {what} is a JSON object")
    return data, text.splitlines()


def read_pipfile_lock(path: Path, rel: str) -> list[Dep]:
    data, lines = _json_object(path, rel, "a Pipfile.lock")
    deps = []
    for section in ("default", "develop"):
        start = _line_of(lines, rf'^\s*"{section}"\s*:') or 0
        for name, info in sorted(_table(data, section, rel).items()):
            if not isinstance(info, dict):
                raise ManifestError(f"{rel}: [{section}] {name}: not an object")
            line = _line_of(lines, rf'^\s*"{re.escape(name)}"\s*:', start)
            version = info.get("version")
            if not isinstance(version, str):
                deps.append(Dep(name, "", rel, line, "Pipfile.lock", unchecked="path, git or URL source"))
                continue
            deps.append(Dep(name, version, rel, line, "Pipfile.lock", hashes=list(info.get("hashes") or []),
                            note="" if section == "default" else "develop"))
    return deps


# ------------------------------------------------------------------ conda

def conda_spec(text: str) -> tuple[str, str]:
    """(name, PEP 440 specifier) of a conda match spec: ``numpy=1.21`` is 1.21.*, ``==`` exact,
    ``channel::name``, a build string after a second ``=`` is dropped."""
    text = text.strip()
    if "::" in text:
        text = text.split("::", 1)[1]
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", text)
    if not m:
        raise ValueError(text)
    name, rest = m.group(1), m.group(2).replace(" ", "")
    if not rest:
        return name, ""
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=", 1)[0]  # name=version=build
        if version.endswith("*") or version.count(".") >= 2:
            return name, f"=={version}"
        return name, f"=={version}.*"  # conda's "=1.21" is every 1.21.x
    if rest.startswith("=="):
        return name, "==" + rest[2:].split("=", 1)[0]
    parts = [p for p in rest.split(",") if p]
    return name, ",".join(p if p[0] in "<>!~=" else "==" + p for p in parts)


def read_conda(path: Path, rel: str) -> list[Dep]:
    """A conda ``environment.yml``: conda packages (PyPI names where they differ) and the ``pip:`` list."""
    import yaml

    text = _read(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ManifestError(f"{rel}" + (f", line {mark.line + 1}" if mark else "") + f": not YAML ({exc})") from exc
    if root is None or not isinstance(root, yaml.MappingNode):
        raise ManifestError(f"{rel}: a conda environment file is a mapping with 'dependencies'")
    deps_node = next((v for k, v in root.value if getattr(k, "value", None) == "dependencies"), None)
    if deps_node is None:
        return []
    if not isinstance(deps_node, yaml.SequenceNode):
        raise ManifestError(f"{rel}, line {deps_node.start_mark.line + 1}: 'dependencies' must be a list")
    deps = []
    for item in deps_node.value:
        n = item.start_mark.line + 1
        if isinstance(item, yaml.ScalarNode):
            try:
                name, spec = conda_spec(str(item.value))
            except ValueError as exc:
                raise ManifestError(f"{rel}, line {n}: not a conda package spec: {item.value!r}") from exc
            if name.lower() in CONDA_NOT_PYPI:
                continue
            pypi = CONDA_TO_PYPI.get(name.lower(), name)
            deps.append(Dep(pypi, spec, rel, n, "conda", note=f"conda package {name}" if pypi != name else ""))
        elif isinstance(item, yaml.MappingNode):
            for k, v in item.value:
                if getattr(k, "value", None) != "pip" or not isinstance(v, yaml.SequenceNode):
                    continue
                for sub in v.value:
                    sn = sub.start_mark.line + 1
                    value = str(getattr(sub, "value", ""))
                    if value.startswith("-r"):
                        target = (path.parent / value[2:].strip().lstrip("=")).resolve()
                        if target.is_file():
                            deps += read_requirements(target, os.path.relpath(target, path.parent).replace(
                                os.sep, "/"), root=str(path.parent))
                        continue
                    if value.startswith("-") or "://" in value:
                        continue
                    req = parse_requirement(value, f"{rel}, line {sn}")
                    deps.append(Dep(req.name, str(req.specifier), rel, sn, "conda", note="pip"))
    return deps


# ------------------------------------------------------- npm and Go

def read_npm_lock(path: Path, rel: str) -> list[Dep]:
    """npm's package-lock.json (lockfileVersion 2/3 ``packages``, or 1's ``dependencies``).
    npm versions are SemVer; ``packaging`` reads the usual ones (``1.2.3``, ``1.2.3-beta.1``)."""
    data, lines = _json_object(path, rel, "a package-lock.json")
    entries: list[tuple[str, dict, str]] = []
    for key, info in _table(data, "packages", rel).items():
        if key and isinstance(info, dict):  # "" is the project itself
            entries.append((info.get("name") or key.rsplit("node_modules/", 1)[-1], info, key))
    if not entries:
        for name, info in _table(data, "dependencies", rel).items():
            if isinstance(info, dict):
                entries.append((name, info, name))
    deps = []
    for name, info, key in sorted(entries, key=lambda e: e[2]):
        version = info.get("version")
        line = _line_of(lines, r'^\s*"' + re.escape(key) + r'"\s*:')
        if not isinstance(version, str) or info.get("link"):
            deps.append(Dep(name, "", rel, line, "package-lock.json", ecosystem="npm", unchecked="link or path"))
            continue
        integrity = [info["integrity"]] if isinstance(info.get("integrity"), str) else []
        deps.append(Dep(name, f"=={version}", rel, line, "package-lock.json", ecosystem="npm", hashes=integrity))
    return deps


_GO_REQUIRE = re.compile(r"^\s*(?:require\s+)?([^\s()]+)\s+(v[0-9][^\s]*)(\s*//.*)?$")


def read_go_mod(path: Path, rel: str) -> list[Dep]:
    """``require`` lines of a go.mod (one-line and block form); pseudo-versions are not checked."""
    deps = []
    in_block = False
    for n, raw in enumerate(_read(path).splitlines(), 1):
        line = raw.split("//", 1)[0].strip()
        if line.startswith("require ("):
            in_block = True
            continue
        if in_block and line == ")":
            in_block = False
            continue
        if not (in_block or line.startswith("require ")):
            continue
        m = _GO_REQUIRE.match(line)
        if not m:
            if line and line != "require":
                raise ManifestError(f"{rel}, line {n}: not a module requirement: {line!r}")
            continue
        module, version = m.group(1), m.group(2)
        deps.append(Dep(module, f"=={version[1:]}", rel, n, "go.mod", ecosystem="Go"))
    return deps


# ------------------------------------------------------------------- venv

def site_packages(venv: str) -> list[Path]:
    root = Path(venv)
    if not (root / "pyvenv.cfg").is_file() and not (root / "lib").is_dir() and not (root / "Lib").is_dir():
        raise ManifestError(f"{venv}: not a virtual environment (no pyvenv.cfg, no lib folder)")
    found = sorted(root.glob("lib/python*/site-packages")) + sorted(root.glob("lib64/python*/site-packages"))
    if (root / "Lib" / "site-packages").is_dir():
        found.append(root / "Lib" / "site-packages")
    seen, out = set(), []
    for p in found:
        if p.resolve() not in seen:  # lib64 is often a link to lib
            seen.add(p.resolve())
            out.append(p)
    return out


def read_venv(venv: str, problems: list | None = None) -> list[Dep]:
    """The distributions installed in *venv*, from their METADATA files (Name and Version headers).
    A METADATA file that cannot be read is named in *problems* (relpath, reason) and skipped."""
    deps = []
    root = Path(venv)
    for sp in site_packages(venv):
        for meta in sorted(sp.glob("*.dist-info/METADATA")) + sorted(sp.glob("*.egg-info/PKG-INFO")):
            rel = os.path.relpath(meta, root).replace(os.sep, "/")
            name = version = None
            name_line = None
            try:
                text = _read(meta)
            except ManifestError as exc:
                if problems is not None:
                    problems.append((f"{root.name}/{rel}", str(exc)))
                continue
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    break  # the headers end at the first blank line; the description follows
                key, _, value = line.partition(":")
                if key.lower() == "name" and name is None:
                    name, name_line = value.strip(), n
                elif key.lower() == "version" and version is None:
                    version = value.strip()
            if not name or not version:
                if problems is not None:
                    problems.append((f"{root.name}/{rel}", f"{rel}: no Name or Version header"))
                continue
            deps.append(Dep(name, f"=={version}", f"{root.name}/{rel}", name_line, "venv"))
    return deps
