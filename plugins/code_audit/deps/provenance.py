"""Model provenance: the model files of a tree with their SHA-256, and the hub references of its code.

Model files are recognised by extension (the model scan's, plus weights formats that hold no
pickle: safetensors, ONNX, GGUF, HDF5/Keras, TFLite) or, whatever their name, by their first
bytes. ``from_pretrained`` / ``hf_hub_download`` / ``snapshot_download`` / ``pipeline(model=...)``
calls are read with ``ast`` (nothing is imported or run): a call without ``revision=``, or with a
branch or tag instead of a commit hash, pulls whatever the hub serves that day.
"""

from __future__ import annotations

import ast
import os
import re
import struct

from .manifests import SKIP_DIRS
from .osvdb import sha256_file

WEIGHT_EXTENSIONS = (".safetensors", ".onnx", ".gguf", ".ggml", ".h5", ".hdf5", ".keras", ".tflite", ".pb",
                     ".mlmodel", ".pte", ".msgpack")
TEXT_EXTENSIONS = (".py", ".txt", ".md", ".rst", ".json", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".csv", ".lock",
                   ".html", ".js", ".css", ".sh", ".c", ".h", ".cpp", ".ipynb")
MAX_SOURCE_BYTES = 2 * 1024 * 1024
HUB_CALLS = {"from_pretrained", "hf_hub_download", "snapshot_download", "pipeline"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
RULE_CHANGED = "MP001"
RULE_UNPINNED = "MP002"


def model_format(path: str) -> str | None:
    """The kind of model file *path* is, by extension or by magic bytes; None when it is not one."""
    from ..model_scan import MODEL_EXTENSIONS

    low = path.lower()
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        head, size = b"", 0
    if head.startswith(b"GGUF"):
        return "gguf"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) >= 9 and head[8:9] == b"{" and 0 < struct.unpack("<Q", head[:8])[0] < size:
        return "safetensors"
    if low.endswith(WEIGHT_EXTENSIONS):
        return low.rsplit(".", 1)[-1]
    if low.endswith(MODEL_EXTENSIONS):
        return "pickle" if head[:1] == b"\x80" else ("zip" if head.startswith(b"PK") else low.rsplit(".", 1)[-1])
    if low.endswith(TEXT_EXTENSIONS):
        return None
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"  # a pickle under another name (protocol 2-5 header)
    return None


def _walk(root: str):
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS
                         and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg")))
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            yield path, os.path.relpath(path, root).replace(os.sep, "/")


def model_files(root: str, problems: list | None = None) -> list[dict]:
    """[{path (relative), format, size, sha256}] of the model files under *root*."""
    out = []
    if not os.path.isdir(root):
        return out
    for path, rel in _walk(root):
        fmt = model_format(path)
        if fmt is None:
            continue
        try:
            out.append({"path": rel, "format": fmt, "size": os.path.getsize(path), "sha256": sha256_file(path)})
        except OSError as exc:
            if problems is not None:
                problems.append((rel, f"cannot read model file: {exc.strerror or exc}"))
    return out


def _const(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def references(root: str, problems: list | None = None) -> list[dict]:
    """[{file, line, call, repo, revision, pinned}] of hub model references in the tree's Python code."""
    out = []
    if not os.path.isdir(root):
        return out
    for path, rel in _walk(root):
        if not rel.endswith(".py"):
            continue
        try:
            if os.path.getsize(path) > MAX_SOURCE_BYTES:
                continue
            with open(path, "rb") as fh:
                source = fh.read()
            tree = ast.parse(source, filename=rel)
        except (OSError, SyntaxError, ValueError):
            continue  # the code audit reports files it cannot parse
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name not in HUB_CALLS:
                continue
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            if name == "pipeline":
                repo_node = kw.get("model") or (node.args[1] if len(node.args) > 1 else None)
            else:
                repo_node = (node.args[0] if node.args else
                             kw.get("repo_id") or kw.get("pretrained_model_name_or_path"))
            repo = _const(repo_node) if repo_node is not None else None
            if repo is None or repo.startswith((".", "/", "~")) or os.path.exists(os.path.join(root, repo)) \
                    or "/" not in repo and name == "pipeline":
                continue  # a local folder, a variable, or no model named: nothing pulled from a hub here
            if "revision" in kw:
                revision = _const(kw["revision"])
                pinned = bool(revision and _COMMIT.match(revision)) if revision is not None else None
                revision = revision if revision is not None else "(computed)"
            else:
                revision, pinned = None, False
            out.append({"file": rel, "line": node.lineno, "call": name, "repo": repo, "revision": revision,
                        "pinned": pinned})
    out.sort(key=lambda r: (r["file"], r["line"]))
    return out


def findings(models: list[dict], refs: list[dict], previous: dict | None) -> tuple[list, dict]:
    """MP001 for a model file whose SHA-256 changed since the previous run (*previous*: {path: sha256}),
    MP002 for a hub reference without a pinned commit."""
    from workbench.api import Finding

    out, code = [], {}
    for m in models:
        old = (previous or {}).get(m["path"])
        if old and old != m["sha256"]:
            f = Finding(plugin="code_audit", rule=RULE_CHANGED, severity="HIGH", confidence="HIGH",
                        title="Model file changed since the previous run",
                        message=(f"{m['path']} ({m['format']}, {m['size']} bytes) has SHA-256 {m['sha256']}; the "
                                 f"previous run recorded {old}. Check where the new file came from before it is "
                                 "loaded, then accept the change in triage."),
                        path=m["path"], cwe=494,
                        evidence={"scanner": "provenance", "sha256": m["sha256"], "previous_sha256": old,
                                  "format": m["format"], "fix": "verify the new file's origin"})
            out.append(f)
            code[id(f)] = f"{m['path']}|{m['sha256']}"  # each new content is a new finding
    for r in refs:
        if r["pinned"] is not False:
            continue
        how = "no revision" if r["revision"] is None else f"revision {r['revision']!r}, a branch or tag"
        f = Finding(plugin="code_audit", rule=RULE_UNPINNED, severity="MEDIUM", confidence="HIGH",
                    title=f"Hub model {r['repo']} not pinned to a commit; fix: pass revision=<commit sha>",
                    message=(f"{r['call']}({r['repo']!r}) with {how}: it loads whatever the hub serves on the day, "
                             "and a changed or hijacked repository changes the model. Fix: pass "
                             "revision=\"<40-hex commit>\" of the revision you reviewed."),
                    path=r["file"], line=r["line"], end_line=r["line"], cwe=494,
                    evidence={"scanner": "provenance", "repo": r["repo"], "revision": r["revision"],
                              "call": r["call"], "fix": "pin revision= to a commit hash"})
        out.append(f)
        code[id(f)] = f"{r['call']}|{r['repo']}|{r['revision']}"
    return out, code
