"""Model artifacts scanned without unpickling.

The pickle opcode stream is walked with ``pickletools.genops`` (which only
decodes opcodes, never executes them). Every global the stream would import
(GLOBAL, INST, STACK_GLOBAL) is classified:

- *dangerous* (deny list: process, shell, eval, import machinery, files,
  network) -> rule MS001, HIGH;
- *unknown* (neither denied nor on the allow list of what PyTorch, NumPy,
  scikit-learn-style and plain-container pickles need) -> rule MS002, MEDIUM;
- allowed -> nothing.

Containers handled: raw pickles (several in a row, as legacy ``torch.save``
writes), zip archives (``torch.save`` >= 1.6: ``*/data.pkl``; ``.npz``),
``.npy`` with an object dtype (a pickle after the header), and gzip/zlib
compressed joblib files. Files that cannot be parsed get a reason.
"""

from __future__ import annotations

import ast
import gzip
import io
import pickletools
import zipfile
import zlib

MODEL_EXTENSIONS = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt",
                    ".npy", ".npz", ".dill", ".sav", ".mar")
MAX_BYTES = 2 * 1024 * 1024 * 1024
MAX_PICKLE_BYTES = 256 * 1024 * 1024  # opcodes beyond this are not walked
RULE_DANGEROUS = "MS001"
RULE_UNKNOWN = "MS002"

# module -> names ("*" = any name in the module).
DENY: dict[str, set[str]] = {
    "os": {"*"}, "posix": {"*"}, "nt": {"*"}, "subprocess": {"*"}, "pty": {"*"},
    "commands": {"*"}, "popen2": {"*"}, "shutil": {"*"}, "socket": {"*"},
    "runpy": {"*"}, "importlib": {"*"}, "code": {"*"}, "codeop": {"*"},
    "ctypes": {"*"}, "marshal": {"*"}, "webbrowser": {"*"}, "multiprocessing": {"*"},
    "asyncio": {"*"}, "http": {"*"}, "urllib": {"*"}, "requests": {"*"},
    "pickle": {"*"}, "_pickle": {"*"}, "dill": {"*"}, "cloudpickle": {"*"},
    "sys": {"*"}, "platform": {"*"}, "signal": {"*"}, "pdb": {"*"},
    "builtins": {"eval", "exec", "compile", "open", "getattr", "setattr", "delattr",
                 "__import__", "globals", "locals", "vars", "input", "breakpoint",
                 "memoryview"},
    "__builtin__": {"eval", "exec", "compile", "open", "getattr", "__import__", "execfile", "apply"},
    "operator": {"attrgetter", "methodcaller", "getitem"},
    "functools": {"partial", "reduce"},
    "types": {"*"}, "inspect": {"*"},
    "numpy.testing._private.utils": {"runstring"},
    "torch.serialization": {"load"}, "torch": {"load"},
    "joblib": {"load"}, "tempfile": {"*"}, "pathlib": {"*"}, "io": {"open", "FileIO"},
}
ALLOW: dict[str, set[str]] = {
    "collections": {"OrderedDict", "defaultdict", "Counter", "deque"},
    "builtins": {"set", "frozenset", "dict", "list", "tuple", "bytearray", "bytes",
                 "complex", "slice", "range", "int", "float", "str", "bool", "object"},
    "__builtin__": {"set", "frozenset", "dict", "list", "tuple", "complex", "slice", "object"},
    "copy_reg": {"_reconstructor"}, "copyreg": {"_reconstructor", "__newobj__"},
    "_codecs": {"encode"},
    "datetime": {"datetime", "date", "time", "timedelta", "timezone"},
    "decimal": {"Decimal"}, "fractions": {"Fraction"}, "uuid": {"UUID"},
    "numpy": {"dtype", "ndarray", "core", "float32", "float64", "int64", "int32", "bool_"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"}, "numpy._core.numeric": {"_frombuffer"},
    "numpy.random": {"__RandomState_ctor"},
    "torch._utils": {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
                     "_rebuild_parameter", "_rebuild_parameter_with_state",
                     "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
                     "_rebuild_device_tensor_from_numpy"},
    "torch._tensor": {"_rebuild_from_type_v2"},
    "torch": {"Size", "device", "dtype", "FloatStorage", "DoubleStorage", "HalfStorage",
              "BFloat16Storage", "LongStorage", "IntStorage", "ShortStorage", "CharStorage",
              "ByteStorage", "BoolStorage", "ComplexFloatStorage", "ComplexDoubleStorage",
              "float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool",
              "Tensor", "per_tensor_affine", "contiguous_format", "channels_last"},
    "torch.storage": {"_load_from_bytes", "UntypedStorage", "TypedStorage"},
    "torch.nn.parameter": {"Parameter"},
    "joblib.numpy_pickle": {"NumpyArrayWrapper"},
    "sklearn.utils._bunch": {"Bunch"},
}


def classify(module: str, name: str) -> str:
    """'dangerous', 'allowed' or 'unknown' for the global ``module.name``."""
    for table, verdict in ((DENY, "dangerous"), (ALLOW, "allowed")):
        names = table.get(module)
        if names and ("*" in names or name in names):
            return verdict
    top = module.split(".")[0]
    if top in DENY and "*" in DENY[top]:
        return "dangerous"  # os.path, subprocess.x, urllib.request...
    return "unknown"


class PickleWalk:
    """Globals imported by one pickle stream, and why the walk stopped early."""

    def __init__(self):
        self.globals: list[tuple[str, str, int]] = []  # module, name, byte offset
        self.error: str | None = None
        self.opcodes = 0


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
               "BINSTRING", "SHORT_BINSTRING"}


def walk_pickle(stream: io.BytesIO) -> PickleWalk:
    """Walk opcodes until STOP; record imported globals. Never executes."""
    walk = PickleWalk()
    recent: list = []  # values pushed, strings kept for STACK_GLOBAL
    memo: dict = {}
    try:
        for op, arg, pos in pickletools.genops(stream):
            walk.opcodes += 1
            name = op.name
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                walk.globals.append((module, attr, pos))
            elif name == "STACK_GLOBAL":
                strings = [v for v in recent[-2:] if isinstance(v, str)]
                if len(strings) == 2:
                    walk.globals.append((strings[0], strings[1], pos))
                else:
                    walk.globals.append(("?", "?", pos))  # names built at load time: suspicious
            elif name in _STRING_OPS:
                recent.append(arg if isinstance(arg, str) else str(arg))
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = recent[-1] if recent else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(arg))
            elif name not in ("PROTO", "FRAME", "MARK"):
                recent.append(None)
            if len(recent) > 64:
                del recent[:32]
            if stream.tell() > MAX_PICKLE_BYTES:
                walk.error = f"pickle longer than {MAX_PICKLE_BYTES} bytes; rest not inspected"
                break
    except ValueError as exc:
        walk.error = _pickle_error(exc)
    except Exception as exc:  # genops on hostile bytes: report, never crash
        walk.error = f"not a valid pickle: {type(exc).__name__}: {exc}"
    return walk


def _pickle_error(exc: ValueError) -> str:
    text = str(exc)
    if "exhausted" in text or "truncated" in text or "not enough data" in text:
        return f"truncated pickle: {text}"
    return f"not a valid pickle: {text}"


def walk_pickles(data: bytes) -> tuple[list[tuple[str, str, int]], str | None]:
    """All pickles stored back to back (legacy torch.save writes five)."""
    stream = io.BytesIO(data)
    found, error = [], None
    while stream.tell() < len(data):
        start = stream.tell()
        walk = walk_pickle(stream)
        found.extend(walk.globals)
        if walk.error:
            error = walk.error if start == 0 or walk.globals else None
            break
        nxt = data[stream.tell():stream.tell() + 1]
        if nxt != b"\x80":  # what follows is raw tensor data, not another pickle
            break
    return found, error


def _npy_payload(data: bytes) -> tuple[bytes | None, str | None]:
    """The pickle inside an .npy with an object dtype; (None, None) if none."""
    if not data.startswith(b"\x93NUMPY"):
        return None, "not an .npy file (bad magic)"
    major = data[6]
    if major == 1:
        hlen, start = int.from_bytes(data[8:10], "little"), 10
    else:
        hlen, start = int.from_bytes(data[8:12], "little"), 12
    try:
        header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    except (ValueError, SyntaxError) as exc:
        return None, f"bad .npy header: {exc}"
    descr = str(header.get("descr", "")) if isinstance(header, dict) else ""
    if "O" not in descr:
        return None, None
    return data[start + hlen:], None


def scan_bytes(data: bytes, name: str) -> tuple[list[dict], str | None]:
    """(results, reason) for the bytes of one artifact called ``name``."""
    if data[:4] == b"PK\x03\x04":
        return _scan_zip(data)
    if name.endswith(".npy") or data.startswith(b"\x93NUMPY"):
        payload, reason = _npy_payload(data)
        if payload is None:
            return [], reason
        return _results(*walk_pickles(payload), member=None)
    for magic, opener in ((b"\x1f\x8b", gzip.decompress), (b"\x78", zlib.decompress)):
        if data.startswith(magic):
            try:
                return _results(*walk_pickles(opener(data)), member=None)
            except (OSError, zlib.error, EOFError) as exc:
                return [], f"compressed ({type(exc).__name__}): could not decompress: {exc}"
    if not data.startswith(b"\x80") and data[:1] not in (b"(", b"c", b"]", b"}", b"I"):
        return [], "not a pickle, zip or .npy file (format not recognised)"
    return _results(*walk_pickles(data), member=None)


def _scan_zip(data: bytes) -> tuple[list[dict], str | None]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if m.filename.endswith((".pkl", ".npy"))]
        results, reasons = [], []
        for member in members:
            blob = archive.read(member)
            sub, reason = scan_bytes(blob, member.filename)
            for r in sub:
                r["member"] = member.filename
            results.extend(sub)
            if reason:
                reasons.append(f"{member.filename}: {reason}")
        return results, "; ".join(reasons) or None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        return [], f"damaged zip archive: {exc}"


def _results(found, error, member) -> tuple[list[dict], str | None]:
    out, seen = [], set()
    for module, name, pos in found:
        verdict = "dangerous" if module == "?" else classify(module, name)
        if verdict == "allowed" or (module, name) in seen:
            continue
        seen.add((module, name))
        out.append({"module": module, "name": name, "offset": pos, "verdict": verdict, "member": member})
    return out, error


def scan_file(path: str) -> tuple[list[dict], str | None]:
    from .reading import read_limited

    data, reason = read_limited(path, MAX_BYTES)
    if data is None:
        return [], reason
    if not data:
        return [], "empty file"
    return scan_bytes(data, path.lower())


def is_model_file(path: str) -> bool:
    return path.lower().endswith(MODEL_EXTENSIONS)
