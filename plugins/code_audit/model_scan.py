"""Model artifacts scanned without unpickling.

The pickle opcode stream is decoded here (opcode table from ``pickletools``)
and run on a *symbolic* stack: values are placeholders, strings, numbers,
tuples and recorded calls; nothing is imported or called. Every global the
stream would import (GLOBAL, INST, STACK_GLOBAL) is classified:

- *dangerous* (deny list: process, shell, eval, import machinery, files,
  network, other deserialisers) -> rule MS001, HIGH;
- *called* (issue 17): not on the allow list, and the stream calls it (REDUCE,
  NEWOBJ, NEWOBJ_EX, OBJ, INST, or a class handed to a call such as
  ``copyreg._reconstructor``, whose ``__setstate__`` runs at BUILD) -> rule MS002,
  HIGH, whatever the module: a deny list cannot name everything that runs code
  (``doctest.debug_script``, ``torch.utils.collect_env.run``);
- *unknown* (neither denied nor allowed, imported but never called) -> MS002, MEDIUM;
- *nested*: an allowed-looking callable that unpickles its argument
  (``torch.storage._load_from_bytes`` runs ``torch.load(weights_only=False)``
  on its bytes). The bytes argument is read from the stream and scanned
  recursively, to ``MAX_DEPTH``; an argument that cannot be resolved, a use
  other than a direct call, or a payload too deep or too large is a finding;
- allowed -> nothing.

Names are judged as the unpickler resolves them (Python 2 names mapped by
protocol < 3, dotted names followed by protocol >= 4), and BUILD on an
imported class, function or module (which rewrites its attributes) is dangerous.

What a loader reads, the scan reads:

- raw pickles, whatever their first opcode (``N0`` then a payload is a pickle);
- legacy ``torch.save`` files: the five pickles ``torch.load`` reads in a row,
  whatever their protocol; plain files: every further pickle that follows
  (a loader may call ``pickle.load`` again);
- zip archives (``torch.save`` >= 1.6: ``*/data.pkl``; ``.npz``), ``.npy``
  with an object dtype, the legacy torch tar format;
- joblib files: compressed with zlib, gzip, bz2, xz or lzma, and the numpy
  arrays joblib writes *inside* the pickle stream (raw data skipped; an object
  array is a nested pickle, scanned);

Files are chosen by content (``sniff``: pickle opcodes, zip, tar, gzip/bz2/xz,
NumPy, HDF5, safetensors, GGUF, TFLite) as well as by name (``is_model_file``);
containers are followed inside containers to ``MAX_DEPTH``, and a member is
scanned when its name or its bytes say model. NumPy headers are read by
``numpy.lib.format``; Keras configs (``.keras`` zip, ``.h5`` attribute) are
checked for Lambda layers, modules outside Keras and custom objects.

Every read is bounded: files are streamed, large byte strings are skipped by
seeking, never held, and decompressed data is spooled to disk past a few MB.
Where the name or the bytes say model, whatever the scan could not parse or
check completely is an MS003 finding (MEDIUM: partly checked; LOW: not parsed
at all), never only a skip reason.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import pickletools
import re
import struct

# Names that say "model": pickles and what torch.load / joblib / numpy open by convention,
# and the safe formats (a pickle saved under their name is still found by its bytes).
MODEL_EXTENSIONS = (".pkl", ".pickle", ".pk", ".pck", ".pcl", ".joblib", ".pt", ".pth", ".bin", ".ckpt",
                    ".chkpt", ".checkpoint", ".npy", ".npz", ".dill", ".cloudpickle", ".sav", ".mar", ".model",
                    ".weights", ".pth.tar", ".pt2", ".keras", ".h5", ".hdf5", ".onnx", ".safetensors", ".gguf",
                    ".tflite")
MODEL_NAMES = ("pytorch_model.bin", "model", "checkpoint", "last", "best", "weights")
_TAILS = ("1", "2", "3", "bak", "old", "orig", "tmp", "backup", "prev", "latest", "best", "final")
# pandas.read_pickle decompresses by these suffixes; torch/joblib users add them too.
COMPRESSED_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".gz", ".bz2", ".xz", ".zip", ".zst", ".lzma", ".z",
                       ".tar", ".tgz")
SAFE_FORMATS = (".safetensors", ".onnx", ".gguf", ".tflite")
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the safetensors library refuses larger headers
MAX_CONFIG_BYTES = 64 * 1024 * 1024  # a Keras config.json read to check it
MAX_BYTES = 64 * 1024 ** 3  # files are streamed: this only stops absurd sizes
MAX_OPCODES = 20_000_000  # per file, all pickles and nested payloads together: bounds the work
MAX_NESTED_BYTES = 256 * 1024 * 1024  # a decompressed stream, zip member or long string payload larger is not checked
MAX_DEPTH = 4  # containers, compressions and nested payloads inside one another
MAX_KEEP = 64 * 1024  # strings longer than this are skipped (they only matter as global names)
MAX_LINE = 64 * 1024  # text arguments (GLOBAL, INT...) longer than this are refused
MAX_MEMBERS = 10_000  # zip/tar members looked at
MAX_SLOTS = 4_000_000  # values held on the symbolic stack and memo together: bounds memory
MAX_KEPT = 64 * 1024 * 1024  # string bytes kept per file (beyond: left in the file, like long ones)
SPOOL_BYTES = 8 * 1024 * 1024  # decompressed data above this goes to a temporary file
RULE_DANGEROUS = "MS001"
RULE_UNKNOWN = "MS002"
RULE_UNCHECKED = "MS003"
TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of a legacy torch.save file

# module -> names ("*" = any name in the module; a "*" also covers submodules
# that have no entry of their own).
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
    # Other deserialisers and loaders: what they read runs code too.
    "torch.serialization": {"*"}, "torch": {"load"}, "torch.hub": {"*"}, "torch.jit": {"*"},
    "torch.package": {"*"}, "torch._C": {"import_ir_module", "import_ir_module_from_buffer"},
    "joblib": {"*"}, "numpy": {"load", "loads"}, "numpy.lib.npyio": {"load"},
    "numpy.lib.format": {"read_array"}, "pandas": {"read_pickle"}, "pandas.io.pickle": {"*"},
    "yaml": {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all"},
    "shelve": {"*"}, "tempfile": {"*"}, "pathlib": {"*"}, "io": {"open", "FileIO", "open_code"},
    "_io": {"open", "FileIO", "open_code"}, "codecs": {"open"}, "fileinput": {"*"},
    # Run code, spawn processes or import by name under another name.
    "_posixsubprocess": {"*"}, "_winapi": {"*"}, "timeit": {"*"}, "trace": {"*"}, "profile": {"*"},
    "cProfile": {"*"}, "bdb": {"*"}, "pydoc": {"*"}, "idlelib": {"*"}, "pkgutil": {"*"}, "zipimport": {"*"},
    "site": {"*"}, "ensurepip": {"*"}, "venv": {"*"}, "logging.config": {"*"}, "numpy.f2py": {"*"},
    "torch.utils.cpp_extension": {"*"}, "_thread": {"*"}, "threading": {"*"},
}

# The allow list, audited entry by entry against what a call (REDUCE/NEWOBJ)
# or a BUILD on the result does with attacker-chosen arguments:
#   containers, numbers, datetime, Decimal, Fraction, UUID: build a value, call nothing given;
#   copyreg._reconstructor / __newobj__: call __new__/__init__ of a class the stream names,
#       and that class is itself a global checked here;
#   _codecs.encode: used by protocol-2 pickles for bytes; codecs are looked up in
#       the ``encodings`` package only;
#   numpy dtype/ndarray/_reconstruct/scalar/_frombuffer: build arrays; an object array
#       holds objects built elsewhere in the stream;
#   torch._utils._rebuild_*: build tensors from storages and plain arguments (hooks are
#       stored, not called); _rebuild_from_type_v2 calls ``func`` - a value of this stream,
#       so a global checked here, or a nested loader, which is flagged when used that way;
#   torch Size/device/dtype/storage classes: values;
#   joblib NumpyArrayWrapper: joblib reads the array that follows it (handled by the walk).
# Removed: ``numpy.core`` (a module: BUILD on it rewrites module attributes) and
# ``torch.storage._load_from_bytes``, which unpickles its argument: see NESTED.
ALLOW: dict[str, set[str]] = {
    "collections": {"OrderedDict", "defaultdict", "Counter", "deque"},
    "builtins": {"set", "frozenset", "dict", "list", "tuple", "bytearray", "bytes",
                 "complex", "slice", "range", "int", "float", "str", "bool", "object"},
    "__builtin__": {"set", "frozenset", "dict", "list", "tuple", "complex", "slice", "object"},
    "copy_reg": {"_reconstructor"}, "copyreg": {"_reconstructor", "__newobj__"},
    "_codecs": {"encode"},
    "datetime": {"datetime", "date", "time", "timedelta", "timezone"},
    "decimal": {"Decimal"}, "fractions": {"Fraction"}, "uuid": {"UUID"},
    "numpy": {"dtype", "ndarray", "float32", "float64", "int64", "int32", "bool_"},
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
    "torch.storage": {"UntypedStorage", "TypedStorage"},
    "torch.nn.parameter": {"Parameter"},
    "joblib.numpy_pickle": {"NumpyArrayWrapper"},
    "sklearn.utils._bunch": {"Bunch"},
}

# Callables that unpickle their first argument (bytes), and with what.
NESTED: dict[tuple[str, str], str] = {
    ("torch.storage", "_load_from_bytes"): "torch.load(weights_only=False)",
}
_JOBLIB_ARRAY = ("joblib.numpy_pickle", "NumpyArrayWrapper")


_RANK = {"allowed": 0, "unknown": 1, "nested": 2, "dangerous": 3}
CALLED = "called"  # an unknown global the stream calls (a verdict of the walk, not of the name)


@functools.lru_cache(maxsize=8192)
def classify(module: str, name: str) -> str:
    """'dangerous', 'nested', 'allowed' or 'unknown' for the global ``module.name``.

    The name is judged as the unpickler resolves it, and the worst reading wins:
    protocol < 3 maps Python 2 names (``cPickle`` -> ``pickle``, ``__builtin__.reduce``
    -> ``functools.reduce``); protocol >= 4 follows dotted names attribute by
    attribute (``torch``, ``serialization.load``), and a dunder on that path
    (``__globals__``, ``__class__``...) reaches anything.
    """
    import _compat_pickle

    readings = [(module, name)]
    if (module, name) in _compat_pickle.NAME_MAPPING:
        readings.append(_compat_pickle.NAME_MAPPING[(module, name)])
    elif module in _compat_pickle.IMPORT_MAPPING:
        readings.append((_compat_pickle.IMPORT_MAPPING[module], name))
    for mod, attr in list(readings):
        if "." in attr:
            parts = attr.split(".")
            if any(p.startswith("__") for p in parts):
                return "dangerous"
            readings.append((".".join([mod] + parts[:-1]), parts[-1]))
    verdicts = [_classify_one(mod, attr) for mod, attr in readings]
    if "." in name and verdicts[0] == "allowed":
        verdicts[0] = "unknown"  # an attribute of an allowed class is not itself reviewed
    return max(verdicts, key=_RANK.__getitem__)


def _classify_one(module: str, name: str) -> str:
    if (module, name) in NESTED:
        return "nested"
    for table, verdict in ((DENY, "dangerous"), (ALLOW, "allowed")):
        names = table.get(module)
        if names and ("*" in names or name in names):
            return verdict
    parts = module.split(".")
    for i in range(len(parts) - 1, 0, -1):
        names = DENY.get(".".join(parts[:i]))
        if names and "*" in names:
            return "dangerous"  # os.path, subprocess.x, urllib.request, torch.serialization.x...
    return "unknown"


def is_model_file(path: str) -> bool:
    """Does the *name* say model? (Checkpoint conventions, safe formats, and a pickle
    name under a compression suffix that pandas decompresses: ``model.pkl.gz``.)"""
    low = path.lower().rsplit("/", 1)[-1]
    if low.endswith(MODEL_EXTENSIONS) or low in MODEL_NAMES:
        return True
    stem = _strip_compression(low)
    if stem != low and (stem.endswith(MODEL_EXTENSIONS) or stem in MODEL_NAMES):
        return True
    # checkpoint-1000, model.pt.1, weights.pth.bak, last.ckpt.old: a model suffix followed by a tail
    parts = low.split(".")
    return any("." + p in MODEL_EXTENSIONS for p in parts[1:-1]) and parts[-1] in _TAILS


def _strip_compression(low: str) -> str:
    for suffix in COMPRESSED_SUFFIXES:
        if low.endswith(suffix) and len(low) > len(suffix):
            return low[: -len(suffix)]
    return low


def _pickle_like(data: bytes, whole: bool) -> bool:
    """Do these bytes decode as a pickle opcode stream? ``whole``: they are the whole file.

    A protocol-2+ header is enough; a protocol-0/1 stream (text-like opcodes) must
    decode with a consistent stack (what each opcode pops was pushed, marks matched)
    to STOP, or for 64 opcodes before the sample runs out, so that text files are
    not taken for pickles.
    """
    if not data or data[:1] not in _CODE2OP:
        return False
    if data[0] == 0x80:  # PROTO: a protocol number, then an opcode (a FRAME, usually)
        return len(data) > 2 and 2 <= data[1] <= 5 and data[2:3] in _CODE2OP
    count, depth, marks = 0, 0, []
    try:
        for op, _arg, _pos in pickletools.genops(io.BytesIO(data)):
            count += 1
            before = op.stack_before
            if op.name in ("GLOBAL", "INST"):  # "module name": both dotted identifiers in any real pickle
                module, _, name = str(_arg).partition(" ")
                if not all(p.isidentifier() for p in module.split(".") + name.split(".")):
                    return False
            if op.name == "MARK":
                marks.append(depth)
                depth = 0
                continue
            if op.name == "POP" and depth == 0 and marks:
                depth = marks.pop()  # POP may drop a MARK
                continue
            if pickletools.markobject in before:
                if not marks:
                    return False
                depth = marks.pop()
                below = before.index(pickletools.markobject)
            else:
                below = len(before)
            if depth < below:
                return False
            depth += len(op.stack_after) - below
            if op.name == "STOP":
                return count >= 2 and depth == 0 and not marks
            if count >= 64:
                return True
    except Exception:  # pickletools on arbitrary bytes: ValueError, struct.error, UnicodeDecodeError...
        return False
    return not whole and count >= 64


def sniff(head: bytes, size: int | None = None) -> str | None:
    """The format the first bytes of a file announce, or None.

    ``head``: at least the first 512 bytes (less only when the file is shorter);
    ``size``: the file's size when known. Model formats: 'pickle', 'npy', 'hdf5',
    'safetensors', 'gguf', 'tflite'; containers: 'zip', 'tar', 'gzip', 'bz2', 'xz'.
    Weak magics (zlib, lzma-alone, lz4) are left to a model name.
    """
    whole = size is not None and len(head) >= size
    if head[:4] == b"PK\x03\x04" or (head[:4] == b"PK\x05\x06" and size == 22):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head[4:8] == b"TFL3":
        return "tflite"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bz2"
    if len(head) >= 10 and head[8:9] == b"{":
        n = int.from_bytes(head[:8], "little")
        if 2 <= n <= MAX_SAFETENSORS_HEADER and (size is None or 8 + n <= size):
            return "safetensors"
    if len(head) >= 263 and head[257:262] == b"ustar":
        return "tar"
    if _pickle_like(head, whole):
        return "pickle"
    return None


SNIFF_BYTES = 64 * 1024  # what the walk reads of a file to sniff it (a protocol-0 pickle needs some)


def is_model_candidate(path: str, rel: str | None = None) -> bool:
    """For the file walk: a file the model scan must see, by its name or by its bytes."""
    if is_model_file(rel or path):
        return True
    from .reading import open_regular

    try:
        with open_regular(path) as fh:
            head = fh.read(512)
            if head[:1] in _CODE2OP and head[:1] != b"\x80" and len(head) == 512:
                head += fh.read(SNIFF_BYTES - 512)  # a text-like pickle is told from text by decoding it
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return False
    return sniff(head, size) is not None


# ------------------------------------------------------------------ results

class _Stop(Exception):
    """The walk cannot go on (bad opcode, truncation, a limit)."""

    def __init__(self, message: str, unchecked: bool = False):
        super().__init__(message)
        self.unchecked = unchecked  # True: a loader could go on where we stopped


class _Scan:
    """What one file gave: findings (dicts), reasons, shared limits."""

    def __init__(self):
        self.items: list[dict] = []
        self.reasons: list[str] = []
        self.unchecked: list[str] = []  # reasons that leave part of a loadable file unchecked
        self.opcodes = 0
        self._seen: set = set()
        self.nested_done: set = set()  # nested payloads already scanned
        self.model_seen = False  # the bytes said model somewhere (a pickle, .npy, Keras config...)

    def add(self, module: str, name: str, offset: int, verdict: str, member: str | None, detail: str = ""):
        key = (module, name, verdict, member, detail if verdict != "dangerous" else "")
        if key in self._seen:
            return
        self._seen.add(key)
        item = {"module": module, "name": name, "offset": offset, "verdict": verdict, "member": member}
        if detail:
            item["detail"] = detail
        self.items.append(item)

    def problem(self, message: str, where: str | None, unchecked: bool) -> None:
        text = f"{where}: {message}" if where else message
        if text not in self.reasons:
            self.reasons.append(text)
        if unchecked and text not in self.unchecked:
            self.unchecked.append(text)


# ------------------------------------------------------------------ the reader

class _BytesRef:
    """A bytes argument left in the file: where it is, not what it is."""

    __slots__ = ("start", "size")

    def __init__(self, start: int, size: int):
        self.start, self.size = start, size


class _StrRef:
    """A string argument too long to keep, left in the file (global names are short;
    a protocol-2 nested payload is spelled as a long string)."""

    __slots__ = ("start", "size", "utf8")

    def __init__(self, start: int, size: int, utf8: bool):
        self.start, self.size, self.utf8 = start, size, utf8


class _Window(io.RawIOBase):
    """Bytes ``start .. start+size`` of a seekable file, as a file: nested payloads are
    scanned where they lie instead of being copied."""

    def __init__(self, f, start: int, size: int):
        super().__init__()
        self.f, self.start, self.size, self.pos = f, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.pos, self.size)[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, max(0, self.size - self.pos))
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def readinto(self, buf) -> int:
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def readline(self, limit: int = -1) -> bytes:
        room = max(0, self.size - self.pos)
        self.f.seek(self.start + self.pos)
        data = self.f.readline(room if limit is None or limit < 0 else min(limit, room))
        self.pos += len(data)
        return data
# opcode name -> (length format, kind); the argument is read here, not by pickletools,
# so that big arguments are skipped with a seek instead of read.
_SIZED = {
    "SHORT_BINBYTES": ("<B", "bytes"), "BINBYTES": ("<I", "bytes"), "BINBYTES8": ("<Q", "bytes"),
    "BYTEARRAY8": ("<Q", "bytes"), "SHORT_BINSTRING": ("<B", "str"), "BINSTRING": ("<i", "str"),
    "SHORT_BINUNICODE": ("<B", "str"), "BINUNICODE": ("<I", "str"), "BINUNICODE8": ("<Q", "str"),
    "LONG4": ("<i", "long"),
}
_CODE2OP = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_OP_BY_BYTE = [None] * 256
for _op in pickletools.opcodes:
    _OP_BY_BYTE[ord(_op.code)] = _op
# Fixed-width arguments decoded here (the common opcodes); others go through pickletools' readers.
_FIXED = {"uint1": (1, False), "uint2": (2, False), "int4": (4, True), "uint4": (4, False), "uint8": (8, False)}
_CHUNK = 1024 * 1024
# Per opcode byte: width of a fixed argument (0: none), or -1 when it is read another way.
_WIDTH = [-1] * 256
_SIGNED = [False] * 256
for _op in pickletools.opcodes:
    if _op.arg is None:
        _WIDTH[ord(_op.code)] = 0
    elif _op.arg.name in _FIXED:
        _WIDTH[ord(_op.code)], _SIGNED[ord(_op.code)] = _FIXED[_op.arg.name]
_WIDTH[ord("G")] = 8  # BINFLOAT: the value is never needed, only skipped
(_MEMOIZE, _BINPUT, _BINGET, _BININT1, _BININT, _BININT2, _MARK_OP, _STOP_OP, _EMPTY_LIST, _EMPTY_DICT,
 _APPENDS, _SETITEMS, _APPEND, _SETITEM, _NONE, _TUPLE2, _BINFLOAT) = (ord(c) for c in "\x94qhKJM(.]}eusaN\x86G")
_SHORT_BINUNICODE = 0x8C


class _Reader:
    """Bounded, frame-aware reading of one pickle stream from a seekable file.

    ``pos`` is where the next opcode byte comes from; ``file_pos`` is where the
    file is, as Python's unpickler sees it: a FRAME is read whole, so joblib's
    arrays (read from the file, not the frame) come from ``file_pos``.
    """

    def __init__(self, f, start: int, end: int):
        self.f, self.end = f, end
        self.pos = self.file_pos = self.start = start
        self.frame_end: int | None = None
        self.kept = 0  # bytes of strings kept from this stream
        self.buf, self.buf_start = b"", 0

    def _at(self, pos: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``pos`` through a 1 MiB buffer (one syscall per MiB, not per opcode)."""
        buf, i = self.buf, pos - self.buf_start
        if i < 0 or (i + n > len(buf) and self.buf_start + len(buf) < self.end):
            self.f.seek(pos)
            self.buf = buf = self.f.read(max(n, _CHUNK))
            self.buf_start, i = pos, 0
        return buf[i:i + n]

    def _leave_exhausted_frame(self) -> None:
        if self.frame_end is not None and self.pos >= self.frame_end:
            self.frame_end = None
            self.pos = self.file_pos

    def _fit(self, n: int) -> None:
        """An opcode that runs past its frame: the C unpickler (pickle.load) reads on, so the walk does too."""
        self._leave_exhausted_frame()
        if self.frame_end is not None and self.pos + n > self.frame_end:
            self.frame_end = None
            self.file_pos = self.pos

    def read(self, n: int) -> bytes:
        if self.frame_end is not None and self.pos + n > self.frame_end:
            self._fit(n)
        if n > MAX_LINE:
            raise _Stop(f"opcode argument of {n:,} bytes at byte {self.pos}", unchecked=True)
        data = self._at(self.pos, max(0, min(n, self.end - self.pos)))
        self.pos += len(data)
        if self.frame_end is None:
            self.file_pos = self.pos
        return data  # short at the end: pickletools reports the truncation

    def _line(self, limit: int) -> bytes:
        chunk = self._at(self.pos, limit)
        k = chunk.find(b"\n")
        return chunk if k < 0 else chunk[:k + 1]

    def readline(self, limit: int = -1) -> bytes:
        self._leave_exhausted_frame()
        room = (self.end if self.frame_end is None else self.frame_end) - self.pos
        data = self._line(min(MAX_LINE, max(0, room)))
        if self.frame_end is not None and not data.endswith(b"\n"):  # the line runs past the frame
            self._fit(room + 1)
            data = self._line(min(MAX_LINE, max(0, self.end - self.pos)))
        if len(data) >= MAX_LINE and not data.endswith(b"\n"):
            raise _Stop(f"text argument longer than {MAX_LINE:,} bytes at byte {self.pos}", unchecked=True)
        self._advance(len(data))
        return data

    def skip(self, n: int) -> int:
        """Leave ``n`` bytes unread; their start."""
        self._fit(n)
        if self.pos + n > self.end:
            raise _Stop(f"truncated pickle: argument of {n:,} bytes at byte {self.pos} runs past the end")
        start = self.pos
        self._advance(n)
        return start

    def _advance(self, n: int) -> None:
        self.pos += n
        if self.frame_end is None:
            self.file_pos = self.pos

    def frame(self, size: int) -> None:
        # pickle._Unpickler (joblib) reads the frame whole from the file: file_pos moves past it.
        if self.pos + size > self.end:
            raise _Stop(f"truncated pickle: frame of {size:,} bytes at byte {self.pos} runs past the end")
        self.frame_end = self.file_pos = self.pos + size

    def raw(self, n: int) -> None:
        """Bytes read from the file itself (joblib array data), not from the opcode stream."""
        if self.file_pos + n > self.end:
            raise _Stop(f"truncated joblib array data at byte {self.file_pos}")
        self.file_pos += n
        if self.frame_end is None:
            self.pos = self.file_pos

    def raw_byte(self) -> int:
        if self.file_pos + 1 > self.end:
            raise _Stop(f"truncated joblib array data at byte {self.file_pos}")
        value = self._at(self.file_pos, 1)[0]
        self.raw(1)
        return value


def _next_op(r: _Reader):
    """(opcode, argument, offset) of the next opcode. Big arguments become _BytesRef/_StrRef (left in the file)."""
    r._leave_exhausted_frame()
    pos = r.pos
    code = r.read(1)
    if not code:
        raise _Stop("truncated pickle: pickle exhausted before seeing STOP")
    op = _OP_BY_BYTE[code[0]]
    if op is None:
        raise _Stop(f"not a valid pickle: unknown opcode {code!r} at byte {pos}")
    if op.arg is None:
        return op, None, pos
    fixed = _FIXED.get(op.arg.name)
    if fixed is not None:
        data = r.read(fixed[0])
        if len(data) < fixed[0]:
            raise _Stop(f"truncated pickle: {op.name} argument cut off at byte {pos}")
        return op, int.from_bytes(data, "little", signed=fixed[1]), pos
    return op, _arg(r, op, pos), pos


def _arg(r: _Reader, op, pos: int):
    sized = _SIZED.get(op.name)
    try:
        if sized is not None:
            return _sized_arg(r, op.name, *sized)
        if op.arg.n == pickletools.UP_TO_NEWLINE:  # escape_decode warns about odd escapes: not our code
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return op.arg.reader(r)
        return op.arg.reader(r)
    except _Stop:
        raise
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        text = str(exc)
        if any(w in text for w in ("exhausted", "truncated", "not enough data", "but only", "remain")):
            raise _Stop(f"truncated pickle: {text}") from None
        raise _Stop(f"not a valid pickle: {text} (byte {pos})") from None


def _sized_arg(r: _Reader, name: str, fmt: str, kind: str):
    raw = r.read(struct.calcsize(fmt))
    if len(raw) < struct.calcsize(fmt):
        raise _Stop(f"truncated pickle: {name} length cut off")
    (n,) = struct.unpack(fmt, raw)
    if n < 0:
        raise _Stop(f"not a valid pickle: {name} with negative length")
    if kind == "bytes":
        return _BytesRef(r.skip(n), n)
    if n > MAX_KEEP or r.kept + n > MAX_KEPT:
        return _StrRef(r.skip(n), n, "UNICODE" in name)
    r.kept += n + 64  # with the object's overhead
    data = r.read(n)
    if len(data) < n:
        raise _Stop(f"truncated pickle: {name} cut off")
    if kind == "long":
        return int.from_bytes(data, "little", signed=True)
    if name.endswith("UNICODE") or name.endswith("UNICODE8"):
        return data.decode("utf-8", "surrogatepass")
    return data.decode("latin-1")


# ------------------------------------------------------------------ symbolic values

class _Mark:
    pass


class _Any:
    """A value the scan does not model."""


_MARK, _ANY = _Mark(), _Any()


class _Global:
    __slots__ = ("module", "name", "pos", "verdict")

    def __init__(self, module: str, name: str, pos: int):
        self.module, self.name, self.pos = module, name, pos
        self.verdict = "dangerous" if module == "?" else classify(module, name)


class _Call:
    __slots__ = ("func", "args", "pos", "state")

    def __init__(self, func, args, pos: int):
        self.func, self.args, self.pos, self.state = func, args, pos, None


class _Dict(dict):
    """A dict literal of the stream (only hashable literal keys are kept)."""


def _place(f, start: int, size: int) -> tuple:
    """Where bytes lie in the outermost file; the file object itself is in the key (kept alive,
    so its id cannot be reused by another file while the key exists)."""
    while isinstance(f, _Window):
        start += f.start
        f = f.f
    return f, start, size


def _is_global(value, key: tuple[str, str]) -> bool:
    return isinstance(value, _Global) and (value.module, value.name) == key


# ------------------------------------------------------------------ the walk

class _Walker:
    """One pickle stream on a symbolic stack; records into ``scan``."""

    def __init__(self, scan: _Scan, f, end: int, member: str | None, depth: int, joblib_arrays: bool = True):
        self.scan, self.f, self.end, self.member, self.depth = scan, f, end, member, depth
        self.joblib_arrays = joblib_arrays
        self.saw_joblib_array = False
        self.stack: list = []
        self.marks: list[int] = []  # stack indices of the MARKs, as the C unpickler keeps them
        self.memo: dict = {}
        self.result = _ANY
        self.nested_seen = False  # a nested loader was imported: uses of values are watched

    # stack helpers: popping past a MARK or an empty stack is what the real
    # unpickler refuses; the walk goes on with placeholders (conservative).
    def _pop(self):
        if not self.stack or self.stack[-1] is _MARK:
            return _ANY
        return self._used(self.stack.pop())

    def _pop_mark(self) -> list:
        stack = self.stack
        k = self.marks.pop() if self.marks else 0
        items = stack[k + 1:] if k < len(stack) and stack[k] is _MARK else stack[k:]
        del stack[k:]
        if self.nested_seen:
            for value in items:
                self._used(value)
        return items

    def _used(self, value):
        """A nested loader handed around instead of called directly cannot be checked."""
        if isinstance(value, _Global) and value.verdict == "nested":
            self.scan.add(value.module, value.name, value.pos, "dangerous", self.member,
                          f"{NESTED[(value.module, value.name)]} reached indirectly: its input cannot be checked")
        return value

    def _top(self):
        return self.stack[-1] if self.stack and self.stack[-1] is not _MARK else _ANY

    def _import(self, module: str, name: str, pos: int) -> _Global:
        g = _Global(module, name, pos)
        if g.verdict == "nested":
            self.nested_seen = True
        if g.verdict in ("dangerous", "unknown"):
            self.scan.add(module, name, pos, g.verdict, self.member)
        return g

    def run(self, r: _Reader):
        """Walk to STOP; the value the pickle would return (symbolic)."""
        stack, memo, scan = self.stack, self.memo, self.scan
        push = stack.append
        while True:
            scan.opcodes += 1
            if not scan.opcodes & 0xFFFF:
                self._check_size()
                if scan.opcodes > MAX_OPCODES:
                    raise _Stop(f"more than {MAX_OPCODES:,} opcodes; rest not inspected", unchecked=True)
            pos, fe, buf = r.pos, r.frame_end, r.buf
            i = pos - r.buf_start
            if 0 <= i < len(buf) - 2 and buf[i] == _SHORT_BINUNICODE:
                n = buf[i + 1]
                if i + 2 + n <= len(buf) and (fe is None or pos + 2 + n <= fe) and r.kept + n <= MAX_KEPT:
                    try:
                        push(buf[i + 2:i + 2 + n].decode("utf-8", "surrogatepass"))
                    except UnicodeDecodeError:
                        raise _Stop(f"not a valid pickle: bad UTF-8 in a string at byte {pos}") from None
                    r.kept += n + 64
                    r.pos = pos + 2 + n
                    if fe is None:
                        r.file_pos = r.pos
                    continue
            # Fast path: opcode and a fixed argument already in the buffer, inside the frame.
            if 0 <= i and i + 9 <= len(buf) and (fe is None or pos + 9 <= fe) and _WIDTH[buf[i]] >= 0:
                c = buf[i]
                w = _WIDTH[c]
                arg = int.from_bytes(buf[i + 1:i + 1 + w], "little", signed=_SIGNED[c]) if w else None
                r.pos = pos + 1 + w
                if fe is None:
                    r.file_pos = r.pos
                if c == _MEMOIZE:
                    memo[len(memo)] = stack[-1] if stack and stack[-1] is not _MARK else _ANY
                elif c == _BINGET:
                    push(memo.get(arg, _ANY))
                elif c == _BININT1 or c == _BININT or c == _BININT2:
                    push(arg)
                elif c == _MARK_OP:
                    self.marks.append(len(stack))
                    push(_MARK)
                elif c == _BINPUT:
                    memo[arg] = stack[-1] if stack and stack[-1] is not _MARK else _ANY
                elif c == _EMPTY_LIST or c == _BINFLOAT:
                    push(_ANY)
                elif c == _EMPTY_DICT:
                    push(_Dict())
                elif c == _APPENDS:
                    self._pop_mark()
                elif c == _SETITEMS:
                    items = self._pop_mark()
                    self._set_items(stack[-1] if stack and stack[-1] is not _MARK else _ANY, items)
                elif c == _NONE:
                    push(None)
                else:
                    self._step(_OP_BY_BYTE[c].name, arg, pos, r)
                    if c == _STOP_OP:
                        return self.result
                continue
            op, arg, pos = _next_op(r)
            self._step(op.name, arg, pos, r)
            if op.name == "STOP":
                return self.result

    def _step(self, name: str, arg, pos: int, r: _Reader) -> None:  # noqa: C901 - one branch per opcode
        push = self.stack.append
        if name in ("PROTO",):
            return
        if name == "FRAME":
            r.frame(arg)
        elif name == "STOP":
            self.result = self._pop()
        elif name == "MARK":
            self.marks.append(len(self.stack))
            push(_MARK)
        elif name == "POP":
            if self.stack and self.stack[-1] is _MARK:
                self.stack.pop()  # both unpicklers let POP drop a MARK
                if self.marks:
                    self.marks.pop()
            else:
                self._pop()
        elif name == "POP_MARK":
            self._pop_mark()
        elif name == "DUP":
            push(self._top())
        elif name in ("FLOAT", "BINFLOAT"):
            push(_ANY)  # no float matters here; not keeping them bounds memory
        elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
                      "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
                      "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
            push(arg)
        elif name == "NONE":
            push(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            push(name == "NEWTRUE")
        elif name == "EMPTY_TUPLE":
            push(())
        elif name == "TUPLE":
            push(tuple(self._pop_mark()))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            items = [self._pop() for _ in range(int(name[-1]))]
            push(tuple(reversed(items)))
        elif name == "EMPTY_DICT":
            push(_Dict())
        elif name == "DICT":
            items = self._pop_mark()
            push(self._set_items(_Dict(), items))
        elif name == "SETITEM":
            value, key = self._pop(), self._pop()
            self._set_items(self._top(), [key, value])
        elif name == "SETITEMS":
            items = self._pop_mark()
            self._set_items(self._top(), items)
        elif name in ("EMPTY_LIST", "EMPTY_SET", "NEXT_BUFFER"):
            push(_ANY)
        elif name in ("APPEND",):
            self._pop()
        elif name in ("APPENDS", "ADDITEMS"):
            self._pop_mark()
        elif name in ("LIST", "FROZENSET"):
            self._pop_mark()
            push(_ANY)
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            g = self._import(module, attr, pos)
            if name == "GLOBAL":
                push(g)
            else:
                push(self._call(g, tuple(self._pop_mark()), pos))
        elif name == "STACK_GLOBAL":
            attr, module = self._pop(), self._pop()
            if isinstance(module, str) and isinstance(attr, str):
                push(self._import(module, attr, pos))
            else:  # names built at load time: cannot be checked
                self.scan.add("?", "?", pos, "dangerous", self.member)
                push(_Global("?", "?", pos))
        elif name in ("EXT1", "EXT2", "EXT4"):
            # The copyreg extension registry maps codes to globals chosen by the loading process.
            self.scan.add("copyreg-extension", str(arg), pos, "unknown", self.member)
            push(_ANY)
        elif name == "REDUCE":
            args = self._pop()
            func = self.stack.pop() if self.stack and self.stack[-1] is not _MARK else _ANY
            push(self._call(func, args, pos))
        elif name == "NEWOBJ":
            args, cls = self._pop(), self._pop()
            push(self._call(cls, args, pos))
        elif name == "NEWOBJ_EX":
            self._pop()
            args, cls = self._pop(), self._pop()
            push(self._call(cls, args, pos))
        elif name == "OBJ":
            items = self._pop_mark()
            push(self._call(items[0] if items else _ANY, tuple(items[1:]), pos))
        elif name == "BUILD":
            state = self._pop()
            obj = self._top()
            if isinstance(obj, _Global) and obj.verdict != "dangerous":
                # Legitimate pickles BUILD instances; BUILD on a class, function or module
                # sets attributes on it for the whole process.
                self.scan.add(obj.module, obj.name, pos, "dangerous", self.member,
                              "BUILD on the imported object itself rewrites its attributes at load time")
            if isinstance(obj, _Call):
                obj.state = state
                if self.joblib_arrays and _is_global(obj.func, _JOBLIB_ARRAY):
                    self.saw_joblib_array = True
                    self.stack[-1] = self._joblib_array(obj, r, pos)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[arg] = self._top()
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self._top()
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            push(self.memo.get(arg, _ANY))
        elif name == "PERSID":
            push(_ANY)
        elif name in ("BINPERSID", "READONLY_BUFFER"):
            self._pop()
            push(_ANY)
        else:  # an opcode added to pickle later: keep the stack shape from its description
            push(_ANY)

    def _check_size(self) -> None:
        if len(self.stack) + len(self.memo) > MAX_SLOTS:
            raise _Stop(f"more than {MAX_SLOTS:,} values on the stack and memo; rest not inspected",
                        unchecked=True)

    @staticmethod
    def _set_items(target, items: list):
        if isinstance(target, _Dict):
            for key, value in zip(items[0::2], items[1::2]):
                if isinstance(key, (str, int, float, bool)) or key is None:
                    target[key] = value
        return target

    def _call(self, func, args, pos: int) -> _Call:
        """A call the unpickler makes (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST). What is called, and
        a class or function handed to the call (``copyreg._reconstructor(cls, base, state)``
        and ``__newobj__`` call it; the instance's ``__setstate__`` runs at BUILD), runs code
        of its own: off the allow list that is HIGH, whatever the module."""
        call = _Call(func, args, pos)
        if isinstance(func, _Global):
            if func.verdict == "nested":
                self._nested(func, args, pos)
            elif func.verdict == "unknown":
                self.scan.add(func.module, func.name, func.pos, "called", self.member)
        if isinstance(args, tuple):
            for value in args:
                if isinstance(value, _Global) and value.verdict == "unknown":
                    self.scan.add(value.module, value.name, value.pos, "called", self.member)
        return call

    # ---- nested payloads (the bytes a nested loader unpickles)

    def _payload(self, args):
        """(bytes, None) for the first argument when the stream spells it out, else (None, why)."""
        if not isinstance(args, tuple) or not args:
            return None, "its argument is built at load time"
        value = args[0]
        if isinstance(value, _BytesRef):
            return _Window(self.f, value.start, value.size), None
        # protocol 2 spells bytes as _codecs.encode(text, 'latin1')
        if isinstance(value, _Call) and _is_global(value.func, ("_codecs", "encode")) \
                and isinstance(value.args, tuple) and len(value.args) == 2 \
                and isinstance(value.args[0], (str, _StrRef)) \
                and str(value.args[1]).lower().replace("_", "-") in ("latin1", "latin-1", "iso-8859-1"):
            text = value.args[0]
            if isinstance(text, _StrRef):
                if text.size > MAX_NESTED_BYTES:
                    return None, f"its payload of {text.size:,} bytes is over the {MAX_NESTED_BYTES:,}-byte limit"
                self.f.seek(text.start)
                raw = self.f.read(text.size)
                text = raw.decode("utf-8", "surrogatepass") if text.utf8 else raw.decode("latin-1")
            try:
                return io.BytesIO(text.encode("latin-1")), None
            except UnicodeEncodeError:
                return None, "its argument is not latin-1 text (the load would fail)"
        return None, "its argument is built at load time"

    def _nested(self, func: _Global, args, pos: int) -> None:
        loader = NESTED[(func.module, func.name)]
        where = f"{self.member + ' > ' if self.member else ''}{func.module}.{func.name} payload at byte {pos}"
        data, why = self._payload(args)
        if data is None and "load would fail" in why:
            return
        if data is None:
            verdict = "unchecked" if "limit" in why else "dangerous"
            self.scan.add(func.module, func.name, pos, verdict, self.member,
                          f"{loader} runs on data that cannot be checked: {why}")
            return
        if self.depth + 1 > MAX_DEPTH:
            self.scan.add(func.module, func.name, pos, "unchecked", self.member,
                          f"{loader} payload nested deeper than {MAX_DEPTH} levels: not checked")
            return
        size = data.seek(0, io.SEEK_END)
        key = _place(self.f, args[0].start, size) if isinstance(args[0], _BytesRef) else None
        if key is not None and key in self.scan.nested_done:
            return  # the same payload called again (memo): scanned once
        if key is not None:
            self.scan.nested_done.add(key)
        _scan_source(self.scan, data, size, where, self.depth + 1)

    # ---- joblib arrays: data written into the pickle stream after the wrapper

    def _joblib_array(self, wrapper: _Call, r: _Reader, pos: int):
        layout = _joblib_layout(wrapper.state)
        if layout is None:
            raise _Stop(f"joblib array of unknown layout at byte {pos}; rest of the stream not checked",
                        unchecked=True)
        has_object, nbytes, aligned = layout
        if has_object:  # joblib unpickles the array with a fresh Unpickler on the file
            if self.depth + 1 > MAX_DEPTH:
                raise _Stop(f"joblib object array nested too deep at byte {pos}", unchecked=True)
            inner = _Walker(self.scan, self.f, self.end, self.member, self.depth + 1)
            inner_reader = _Reader(self.f, r.file_pos, self.end)
            inner.run(inner_reader)
            r.raw(inner_reader.file_pos - r.file_pos)
        else:
            if aligned:
                r.raw(r.raw_byte())
            r.raw(nbytes)
        return _ANY


def _is_dtype(value) -> bool:
    return (isinstance(value, _Call) and _is_global(value.func, ("numpy", "dtype"))
            and isinstance(value.args, tuple) and bool(value.args) and isinstance(value.args[0], str))


def _dtype_has_object(dtype, depth: int = 0) -> bool | None:
    """Does a numpy.dtype of the stream hold Python objects? None when the stream does not say.

    Checks the type code, the NPY_ITEM_HASOBJECT flag, and every field and
    sub-array dtype, so a structured dtype cannot hide an object field behind flags 0.
    """
    if depth > 32 or not _is_dtype(dtype):
        return None
    if dtype.args[0][:1] == "O":
        return True
    if dtype.state is None:
        return False
    dstate = dtype.state
    if not isinstance(dstate, tuple) or len(dstate) < 8:
        return None
    if not isinstance(dstate[7], int):
        return None
    if dstate[7] & 1:
        return True
    inner = []
    if dstate[2] is not None:  # sub-array: (base dtype, shape)
        if not (isinstance(dstate[2], tuple) and dstate[2]):
            return None
        inner.append(dstate[2][0])
    names, fields = dstate[3], dstate[4]
    if fields is not None:
        if not isinstance(fields, _Dict) or not isinstance(names, tuple) or len(names) != len(fields):
            return None
        for value in fields.values():
            if not (isinstance(value, tuple) and value):
                return None
            inner.append(value[0])
    for sub in inner:
        verdict = _dtype_has_object(sub, depth + 1)
        if verdict is not False:
            return verdict
    return False


def _joblib_layout(state) -> tuple[bool, int, bool] | None:
    """(has objects, data bytes, padded) of a NumpyArrayWrapper state, or None if not literal."""
    if not isinstance(state, _Dict):
        return None
    shape, dtype = state.get("shape"), state.get("dtype")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        return None
    has_object = _dtype_has_object(dtype)
    if has_object is None:
        return None
    if has_object:
        return True, 0, False
    count = 1
    for n in shape:
        count *= n
    dstate = dtype.state if isinstance(dtype.state, tuple) else ()
    itemsize = dstate[5] if len(dstate) >= 6 and isinstance(dstate[5], int) and dstate[5] > 0 else None
    if itemsize is None:
        try:
            import numpy as np

            itemsize = np.dtype(dtype.args[0]).itemsize  # a type code such as 'f8': builds no object
        except Exception:  # numpy parses the code with its own grammar; anything unparsable: unknown
            return None
    aligned = state.get("numpy_array_alignment_bytes") is not None
    return False, count * itemsize, aligned


# ------------------------------------------------------------------ containers

_COMPRESSIONS = (  # joblib's compressors, by the magic it checks
    (b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"), (b"\x5d\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"), (b"ZF", "joblib-zfile"),
)


def _zlib_magic(head: bytes) -> bool:
    return len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


def _decompressor(kind: str, f):
    import bz2
    import gzip
    import lzma
    import zlib

    if kind == "gzip":
        return gzip.GzipFile(fileobj=f, mode="rb")
    if kind == "bz2":
        return bz2.BZ2File(f, "rb")
    if kind == "xz":
        return lzma.LZMAFile(f, "rb", format=lzma.FORMAT_XZ)
    if kind == "lzma":
        return lzma.LZMAFile(f, "rb", format=lzma.FORMAT_ALONE)
    if kind in ("zlib", "joblib-zfile"):
        return _ZlibReader(f, zlib)
    raise _Stop(f"{kind}-compressed: no decompressor available here; contents not checked", unchecked=True)


class _ZlibReader(io.RawIOBase):
    """Streaming zlib, bounded per read (zlib.decompress would inflate a bomb at once)."""

    def __init__(self, f, zlib):
        self.f, self.d, self.zlib, self.pending = f, zlib.decompressobj(), zlib, b""

    def readable(self):
        return True

    def readinto(self, buf):
        while not self.pending:
            if self.d.eof:
                return 0
            chunk = self.d.unconsumed_tail or self.f.read(64 * 1024)
            if not chunk:
                raise EOFError("compressed data ends before the end-of-stream marker")
            self.pending = self.d.decompress(chunk, len(buf))
        n = min(len(buf), len(self.pending))
        buf[:n], self.pending = self.pending[:n], self.pending[n:]
        return n


def _spool(stream, limit: int):
    """Copy at most ``limit`` bytes of ``stream`` to a seekable spooled file: (file, size, error, over)."""
    import tempfile

    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    size, error = 0, None
    try:
        while size <= limit:
            chunk = stream.read(min(1024 * 1024, limit + 1 - size))
            if not chunk:
                break
            out.write(chunk)
            size += len(chunk)
    except Exception as exc:  # damaged stream: keep what came out before the damage
        error = f"{type(exc).__name__}: {exc}"
    over = size > limit
    out.seek(0)
    return out, min(size, limit), error, over


def _scan_compressed(scan: _Scan, f, size: int, kind: str, where: str | None, depth: int,
                     name: str = "", loaded: bool = True) -> bool:
    """Scan the decompressed stream; False when the data does not decompress at all.

    The stream is named as pandas names it (``model.pkl.gz`` holds ``model.pkl``); what is
    not a model by that name or by its bytes is left alone when ``loaded`` is False.
    """
    f.seek(0)
    if kind == "joblib-zfile":  # joblib < 0.10: 'ZF', 19 hex digits of length, optional space, zlib data
        head = f.read(22)
        f.seek(22 if head[21:22] == b" " else 21)
        if not _zlib_magic(f.read(2)):
            return False
        f.seek(22 if head[21:22] == b" " else 21)
    try:
        stream = _decompressor(kind, f)
    except _Stop as exc:
        if loaded:
            scan.problem(str(exc), where, exc.unchecked)
        return True
    out, n, error, over = _spool(stream, MAX_NESTED_BYTES)
    with out:
        if n == 0 and error:
            return False
        inner = _strip_compression(name) if name else ""
        inner_loaded = loaded or is_model_file(inner)
        if not inner_loaded and _sniff_file(out, n) is None:
            return True  # data.csv.gz and the like: nothing a model loader reads
        label = f"{kind}-compressed"
        if error:
            scan.problem(f"{label} stream damaged after {n:,} bytes ({error}); what came before was checked",
                         where, False)
        if over:
            scan.problem(f"{label}: more than {MAX_NESTED_BYTES:,} bytes once decompressed; rest not checked",
                         where, True)
        _scan_source(scan, out, n, where, depth + 1, compressed=False, name=inner, loaded=inner_loaded)
    return True


def _sniff_file(f, size: int) -> str | None:
    """``sniff`` on a seekable file's first bytes (more of them only for a text-like pickle)."""
    f.seek(0)
    head = f.read(512)
    if head[:1] in _CODE2OP and head[:1] != b"\x80" and len(head) == 512:
        head += f.read(SNIFF_BYTES - 512)
    f.seek(0)
    return sniff(head, size)


def _zip_member_head(archive, info) -> bytes:
    with archive.open(info) as member:
        head = member.read(512)
        if head[:1] in _CODE2OP and head[:1] != b"\x80" and len(head) == 512:
            head += member.read(SNIFF_BYTES - 512)
    return head


def _is_pt2(archive, names: list[str]) -> bool:
    """A torch.export archive: ``<name>/archive_format`` says ``pt2`` (older ones hold the
    serialized program as JSON)."""
    for n in names:
        if n.endswith("serialized_exported_program.json"):
            return True
        if n == "archive_format" or n.endswith("/archive_format"):
            try:
                with archive.open(n) as fh:
                    if fh.read(16).strip() == b"pt2":
                        return True
            except Exception:  # a damaged member: not a pt2 marker
                continue
    return False


def zip_kind(path: str) -> str | None:
    """'pt2', 'keras', 'torchscript', 'torch' or 'zip' for a zip archive; None if not one."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()[:MAX_MEMBERS]
            if _is_pt2(archive, names):
                return "pt2"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if "config.json" in names and ("metadata.json" in names or path.lower().endswith(".keras")):
        return "keras"
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    if any(n.endswith("data.pkl") for n in names):
        return "torch"
    return "zip"


def _scan_zip(scan: _Scan, f, where: str | None, depth: int, name: str = "", loaded: bool = True) -> None:
    """Members a loader unpickles (``*/data.pkl`` of torch, ``.npy`` of ``np.load``), members
    whose name or bytes say model, the Keras config; the raw tensor data of a torch
    archive is skipped (torch reads it as bytes, never as a pickle)."""
    import zipfile

    try:
        archive = zipfile.ZipFile(f)
        infos = archive.infolist()
    except Exception as exc:  # BadZipFile, OverflowError, ... on hostile headers
        if loaded:
            scan.problem(f"damaged zip archive: {exc}", where, False)
        return
    if len(infos) > MAX_MEMBERS:
        scan.problem(f"zip archive with {len(infos):,} members; only the first {MAX_MEMBERS:,} checked", where, True)
    infos = infos[:MAX_MEMBERS]
    names = [i.filename for i in infos]
    raw_data = tuple(n[: -len("data.pkl")] + "data/" for n in names if n.endswith("data.pkl"))
    keras = "config.json" in names and ("metadata.json" in names or name.endswith(".keras"))
    if keras or raw_data or _is_pt2(archive, names):
        scan.model_seen = True
    # model.pkl.zip: pandas unpickles the one member whatever its name
    every = loaded and not raw_data and name.endswith(".zip") and is_model_file(name[:-4])
    for info in infos:
        member_name = info.filename
        if info.is_dir() or (raw_data and member_name.startswith(raw_data)):
            continue
        label = f"{where} > {member_name}" if where else member_name
        member_loaded = every or member_name.endswith((".pkl", ".npy")) or is_model_file(member_name)
        try:
            if keras and member_name == "config.json":
                with archive.open(info) as member:
                    text = member.read(MAX_CONFIG_BYTES + 1)
                _keras_config(scan, text, label)
                continue
            if not member_loaded and sniff(_zip_member_head(archive, info), info.file_size) is None:
                continue
            with archive.open(info) as member:
                out, n, error, over = _spool(member, MAX_NESTED_BYTES)
        except Exception as exc:  # zipfile on hostile headers: BadZipFile, OverflowError, ...
            # PyTorch's own zip reader may still read this member: not checked is a finding.
            if member_loaded:
                scan.problem(f"unreadable zip member ({type(exc).__name__}: {exc})", label, True)
            continue
        with out:
            if error:
                scan.problem(f"damaged zip member ({error})", label, False)
            if over:
                scan.problem(f"member larger than {MAX_NESTED_BYTES:,} bytes once decompressed; rest not checked",
                             label, True)
            _scan_source(scan, out, n, label, depth + 1, name=member_name.lower(), loaded=member_loaded)


# ------------------------------------------------------------------ Keras

_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras", "keras_hub", "keras_nlp",
                  "keras_cv")


def _keras_config(scan: _Scan, text: bytes, where: str | None) -> None:
    """A Keras model config: Lambda layers carry Python bytecode (run by Keras 2 ``.h5`` loading,
    and by ``.keras`` loading with ``safe_mode=False``); a ``module`` outside Keras is imported
    by Keras 3 to rebuild the object; a registered custom object needs code given at load time."""
    import json

    scan.model_seen = True
    if len(text) > MAX_CONFIG_BYTES:
        scan.problem(f"Keras config larger than {MAX_CONFIG_BYTES:,} bytes; not checked", where, True)
        return
    try:
        config = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        scan.problem(f"Keras config is not valid JSON ({exc})", where, True)
        return
    _keras_walk(scan, config, where)


def _keras_walk(scan: _Scan, config, where: str | None) -> None:
    stack, visited = [config], 0
    while stack:
        node = stack.pop()
        visited += 1
        if visited > 1_000_000:
            scan.problem("Keras config too large to walk; rest not checked", where, True)
            return
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        cls, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
        if not isinstance(cls, str):
            continue
        module = module if isinstance(module, str) else ""
        if cls in ("Lambda", "__lambda__") or (cls == "function" and isinstance(node.get("config"), dict)
                                                and "code" in node["config"]):
            scan.add(module or "keras.layers", cls, 0, "dangerous", where,
                     "a Keras Lambda layer: its Python bytecode runs when the model is loaded "
                     "(Keras 2 .h5 always; Keras 3 with safe_mode=False)")
        elif module and module != "builtins" and not (module in _KERAS_MODULES
                                                      or module.startswith(tuple(m + "." for m in _KERAS_MODULES))):
            scan.add(module, cls, 0, "dangerous", where,
                     f"Keras imports module {module!r} to rebuild this object when the model is loaded: "
                     "a config can name any installed module and function (CVE-2025-1550)")
        elif module == "builtins" or (isinstance(registered, str) and ">" in registered):
            scan.add(module or "keras-custom", registered if isinstance(registered, str) else cls, 0, "unknown",
                     where, "a custom Keras object: loading needs custom_objects or registered code, "
                            "which then runs on this config")


def _scan_hdf5(scan: _Scan, f, size: int, where: str | None) -> None:
    """Keras 2 ``.h5``: the model config is a JSON attribute (``model_config``) stored as plain
    bytes; every JSON object that starts like a Keras config is decoded and walked."""
    import json

    start_re = re.compile(rb'\{\s*"(?:class_name|module)"\s*:')
    decoder = json.JSONDecoder()
    limit, pos, chunk, found = min(size, MAX_NESTED_BYTES), 0, 4 * 1024 * 1024, 0
    while pos < limit and found < 64:
        f.seek(pos)
        block = f.read(min(chunk, limit - pos))
        m = start_re.search(block)
        if m is None:
            if pos + len(block) >= limit:
                break
            pos += max(1, len(block) - 64)  # overlap: a start cut by the block edge is found next time
            continue
        at = pos + m.start()
        window, obj, end = 1024 * 1024, None, None
        while obj is None:
            f.seek(at)
            text = f.read(min(window, size - at)).decode("utf-8", "replace")
            try:
                obj, end = decoder.raw_decode(text)
            except (ValueError, RecursionError) as exc:
                # Read more only when the JSON ran off the window, not when it is simply broken.
                cut = (getattr(exc, "pos", len(text)) >= len(text) - 8
                       or str(getattr(exc, "msg", "")).startswith("Unterminated"))
                if not cut or window >= MAX_CONFIG_BYTES or at + window >= size:
                    break
                window *= 4
        found += 1
        if obj is None:
            if b"Lambda" in block[m.start():m.start() + 4096] or b'"module"' in block[m.start():m.start() + 64]:
                scan.problem(f"a Keras config at byte {at:,} could not be decoded", where, True)
            pos = at + 1
            continue
        scan.model_seen = True
        _keras_walk(scan, obj, where)
        pos = at + max(1, len(text[:end].encode("utf-8", "replace")))


# ------------------------------------------------------------------ NumPy, safetensors

def _scan_npy(scan: _Scan, f, size: int, where: str | None, depth: int) -> None:
    """An .npy file, its header read by NumPy's own reader: an object dtype, however spelled,
    is what ``np.load`` decides, and then the data is a pickle."""
    import warnings

    import numpy as np
    from numpy.lib import format as npf

    scan.model_seen = True
    f.seek(0)
    try:
        version = npf.read_magic(f)
    except ValueError as exc:
        scan.problem(f"bad .npy magic ({exc})", where, False)
        return
    width = 2 if version == (1, 0) else 4
    raw = f.read(width)
    if len(raw) < width:
        scan.problem("truncated .npy header", where, False)
        return
    hlen = int.from_bytes(raw, "little")
    start = 8 + width + hlen
    if hlen > 16 * MAX_LINE:
        scan.problem(f"NumPy header of {hlen:,} bytes; not read (np.load with allow_pickle=True reads it)",
                     where, True)
        _walk_sequence(scan, f, size, where, depth, start=start, first_only=True, quiet=True)
        return
    f.seek(0)
    buf = io.BytesIO(f.read(start))
    try:
        npf.read_magic(buf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns about Python 2 headers it filters
            if version == (1, 0):
                _, _, dtype = npf.read_array_header_1_0(buf, max_header_size=hlen + 1)
            elif version == (2, 0):
                _, _, dtype = npf.read_array_header_2_0(buf, max_header_size=hlen + 1)
            else:
                impl = getattr(npf, "_read_array_header", None)
                if impl is None:
                    from numpy.lib import _format_impl as impl_mod

                    impl = impl_mod._read_array_header
                _, _, dtype = impl(buf, version, max_header_size=hlen + 1)
    except Exception as exc:  # numpy raises ValueError, TypeError, SyntaxError... on a hostile header
        # Another NumPy version may read what this one refuses: the data is checked as a pickle too.
        scan.problem(f"NumPy {np.__version__} cannot read this .npy header ({type(exc).__name__}: "
                     f"{str(exc)[:200]})", where, True)
        _walk_sequence(scan, f, size, where, depth, start=start, first_only=True, quiet=True)
        return
    if dtype.hasobject:
        _walk_sequence(scan, f, size, where, depth, start=start, first_only=True)


def _safetensors_problem(f, size: int) -> str | None:
    """Why these bytes are not a well-formed safetensors file (None: they are)."""
    import json

    f.seek(0)
    n = int.from_bytes(f.read(8), "little")
    if n > MAX_SAFETENSORS_HEADER or 8 + n > size:
        return f"safetensors header of {n:,} bytes does not fit the file"
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return f"safetensors header is not valid JSON ({exc})"
    if not isinstance(header, dict):
        return "safetensors header is not a JSON object"
    data = size - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            begin, end = (int(v) for v in info["data_offsets"])
            ok = isinstance(info["dtype"], str) and all(int(d) >= 0 for d in info["shape"])
        except (TypeError, ValueError, KeyError):
            return f"safetensors tensor {str(key)[:80]!r}: malformed header entry"
        if not ok or not 0 <= begin <= end <= data:
            return f"safetensors tensor {str(key)[:80]!r}: offsets outside the data"
    return None


# ------------------------------------------------------------------ tar


def _looks_like_tar(f) -> bool:
    import tarfile

    f.seek(0)
    block = f.read(512)
    if len(block) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


def _scan_tar(scan: _Scan, f, size: int, where: str | None, depth: int, name: str = "",
              loaded: bool = True) -> bool:
    """The legacy torch tar format ('storages', 'tensors' and 'pickle' are all unpickled), or
    any tar: members whose name or bytes say model are scanned.

    False when this is not a tar at all (the bytes are then walked as a pickle when loaded).
    """
    import tarfile

    wanted = ("storages", "tensors", "pickle")
    f.seek(0)
    try:
        archive = tarfile.open(fileobj=f, mode="r:")
        members, legacy = [], []
        for i, info in enumerate(archive):
            if i >= MAX_MEMBERS:
                scan.problem(f"tar archive with more than {MAX_MEMBERS:,} members; the rest not checked",
                             where, True)
                break
            members.append(info)
            if info.name in wanted:
                legacy.append(info)  # every occurrence: tarfile reads the last one, scanned too
    except Exception:  # tarfile on bytes that only look like a header
        return False
    if not members:
        return False
    if not legacy:
        stem = _strip_compression(name)
        _scan_tar_members(scan, archive, members, where, depth, loaded and stem != name and is_model_file(stem))
        return True
    scan.model_seen = True
    for info in sorted(legacy, key=lambda m: wanted.index(m.name)):
        label = f"{where} > {info.name}" if where else info.name
        if not info.isfile():
            # torch extracts the member and opens it: a link leads to any file on the machine.
            scan.problem(f"member is a {'link' if info.issym() or info.islnk() else 'special file'}: "
                         "torch.load would read what it points to", label, True)
            continue
        try:
            member = archive.extractfile(info)
            out, n, _, _ = _spool(member, MAX_NESTED_BYTES)
        except Exception as exc:
            scan.problem(f"unreadable tar member ({type(exc).__name__}: {exc})", label, True)
            continue
        with out:
            if info.name == "pickle":
                _scan_source(scan, out, n, label, depth + 1, compressed=False)
            else:
                _scan_tar_table(scan, out, n, label, depth + 1, then_views=info.name == "storages")
    return True


def _scan_tar_members(scan: _Scan, archive, members: list, where: str | None, depth: int, every: bool) -> None:
    """A tar of files (``models.tar.gz``): each member that says model, by name or by bytes."""
    for info in members:
        member_loaded = every or is_model_file(info.name)
        label = f"{where} > {info.name}" if where else info.name
        if not info.isfile():
            if member_loaded and (info.issym() or info.islnk()):
                scan.problem("member is a link: extracting the archive puts another file under this model name",
                             label, True)
            continue
        try:
            member = archive.extractfile(info)
            if not member_loaded:
                head = member.read(512)
                if head[:1] in _CODE2OP and head[:1] != b"\x80" and len(head) == 512:
                    head += member.read(SNIFF_BYTES - 512)
                if sniff(head, info.size) is None:
                    continue
                member = archive.extractfile(info)
            out, n, _, over = _spool(member, MAX_NESTED_BYTES)
        except Exception as exc:
            if member_loaded:
                scan.problem(f"unreadable tar member ({type(exc).__name__}: {exc})", label, True)
            continue
        with out:
            if over:
                scan.problem(f"member larger than {MAX_NESTED_BYTES:,} bytes; rest not checked", label, True)
            _scan_source(scan, out, n, label, depth + 1, name=info.name.lower(), loaded=member_loaded)


def _scan_tar_table(scan: _Scan, f, size: int, label: str, depth: int, then_views: bool) -> None:
    """'storages'/'tensors': a count pickle, per entry a pickle and raw data, ('storages') a views pickle."""
    count, end, stop = _walk_one(scan, f, 0, size, label, depth)
    if stop is not None:
        scan.problem(str(stop), label, stop.unchecked)
        return
    if count == 0 and type(count) is int:
        if then_views and end < size:
            _, _, stop = _walk_one(scan, f, end, size, label, depth)
            if stop is not None:
                scan.problem(str(stop), label, stop.unchecked)
        return
    if end < size:
        _, _, stop = _walk_one(scan, f, end, size, label, depth)  # the first entry's pickle
    scan.problem("legacy torch tar format: raw data between the pickles of this member; only its first "
                 "entry was checked", label, True)


_MODEL_KINDS = ("pickle", "npy", "hdf5", "safetensors", "gguf", "tflite")


def _scan_source(scan: _Scan, f, size: int, where: str | None, depth: int, *,
                 compressed: bool = True, name: str = "", loaded: bool = True) -> None:
    """Scan a seekable binary file of ``size`` bytes, by what its bytes are.

    ``loaded``: a loader reads these bytes as a model (the name says so, or a nested
    payload); then what cannot be parsed is a problem. Otherwise (a file or member
    found by the walk or in a container) bytes that say no model are left alone.
    """
    if depth > MAX_DEPTH:
        scan.model_seen = True  # what lies deeper was not looked at: a finding, whatever the names say
        scan.problem(f"nested deeper than {MAX_DEPTH} levels; not checked", where, True)
        return
    kind = _sniff_file(f, size)
    f.seek(0)
    head = f.read(64)
    if loaded or kind in _MODEL_KINDS:
        scan.model_seen = True
    if kind == "zip":
        _scan_zip(scan, f, where, depth, name, loaded)
        return
    if kind == "npy":  # an .npy without this magic is unpickled by np.load: walked below
        _scan_npy(scan, f, size, where, depth)
        return
    if kind == "hdf5":
        _scan_hdf5(scan, f, size, where)
        return
    if kind in ("gguf", "tflite"):
        return  # formats without code
    if kind == "safetensors":
        why = _safetensors_problem(f, size)
        if why:
            scan.problem(why, where, False)
        return
    if compressed:
        comp = kind if kind in ("gzip", "bz2", "xz") else None
        if comp is None and loaded:  # weak magics: only where the name says model (joblib's own)
            comp = next((k for magic, k in _COMPRESSIONS if head.startswith(magic)), None)
            if comp is None and _zlib_magic(head):
                comp = "zlib"
        if comp is not None and _scan_compressed(scan, f, size, comp, where, depth, name, loaded):
            # Some magics are also valid first opcodes (']' is EMPTY_LIST, 'B' BINBYTES):
            # pickle.load would read the same bytes as a pickle, so that reading is walked too.
            if head[:1] in (b"]", b"B"):
                _walk_sequence(scan, f, size, where, depth, quiet=True)
            return
    if (kind == "tar" or loaded) and _looks_like_tar(f) and _scan_tar(scan, f, size, where, depth, name, loaded):
        return
    if loaded and name.endswith(".onnx") and head[:1] == b"\x08":
        return  # an ONNX protobuf (field 1, ir_version): no code (external data is checked by the loader)
    if loaded and head.startswith(b"version https://git-lfs"):
        scan.problem("a Git LFS pointer: the model file itself is not in this tree, so it was not checked",
                     where, False)
        return
    if loaded or kind == "pickle":
        _walk_sequence(scan, f, size, where, depth)


def _walk_one(scan: _Scan, f, start: int, end: int, where, depth: int, joblib_arrays: bool = True):
    """Walk one pickle at ``start``: (result value, end offset, stop) - stop is the _Stop, if any."""
    walker = _Walker(scan, f, end, where, depth, joblib_arrays)
    reader = _Reader(f, start, end)
    try:
        result = walker.run(reader)
        stop = None
    except _Stop as exc:
        result, stop = _ANY, exc
    if walker.saw_joblib_array and joblib_arrays:
        # pickle.load (not joblib.load) reads the array bytes as opcodes: walk that reading
        # too, keeping what it finds dangerous (raw data read as opcodes is noise otherwise).
        plain = _Scan()
        plain.opcodes = scan.opcodes
        try:
            _Walker(plain, f, end, where, depth, joblib_arrays=False).run(_Reader(f, start, end))
        except _Stop:
            pass
        scan.opcodes = plain.opcodes
        for item in plain.items:
            if item["verdict"] == "dangerous":
                scan.add(item["module"], item["name"], item["offset"], "dangerous", item["member"],
                         item.get("detail", ""))
    return result, max(reader.pos, reader.file_pos), stop


def _walk_sequence(scan: _Scan, f, size: int, where, depth: int, *, start: int = 0, first_only: bool = False,
                   quiet: bool = False) -> None:
    """The pickles a loader reads from ``start``: one, the five of legacy torch.save, or every one that follows.

    ``quiet``: the bytes are also something else (a compressed stream); only what a
    complete pickle, or a dangerous global, shows is kept, and no reason is given.
    """
    if start >= size:
        if not quiet:
            scan.problem("empty file" if size == 0 else "truncated: no pickle after the header", where, False)
        return
    f.seek(start)
    if f.read(1) not in _CODE2OP:
        if not quiet:
            scan.problem("not a pickle, zip or .npy file (format not recognised)", where, False)
        return
    pos, index, legacy_torch = start, 0, False
    while pos < size:
        # A pickle after the first (or a quiet reading) is kept whole when it parses to STOP;
        # bytes that are not a pickle give noise, so from a broken one only dangerous globals are kept.
        tentative = quiet or (index > 0 and not legacy_torch)
        target = _Scan() if tentative else scan
        if tentative:
            target.opcodes = scan.opcodes
        before = len(target.items)
        result, end, stop = _walk_one(target, f, pos, size, where, depth)
        if tentative:
            scan.opcodes = target.opcodes
            for item in target.items:
                if stop is None or item["verdict"] == "dangerous":
                    scan.add(item["module"], item["name"], item["offset"], item["verdict"], item["member"],
                             item.get("detail", ""))
            if stop is not None:
                return
        elif stop is not None:
            if index == 0 and len(scan.items) == before and stop.args[0].startswith("not a valid pickle"):
                scan.problem(f"not a pickle, zip or .npy file (format not recognised: {stop})", where, False)
            else:
                scan.problem(str(stop), where, stop.unchecked)
            return
        if index == 0 and type(result) is int and result == TORCH_MAGIC:
            legacy_torch = True
        index += 1
        if first_only or (legacy_torch and index >= 5):
            return  # torch.load reads magic, protocol, sys_info, the object, storage keys; then raw data
        pos = end
        if not legacy_torch:
            f.seek(pos)
            if f.read(1) not in _CODE2OP:
                return


# ------------------------------------------------------------------ entry points

def _finish(scan: _Scan, name: str) -> tuple[list[dict], str | None]:
    """Results and reasons; where the name or the bytes say model, every reason is a finding
    too (MS003): what the scan could not parse is never only a skip."""
    if scan.reasons and (scan.model_seen or is_model_file(name)):
        for text in scan.reasons:
            scan.add("", "", 0, "unchecked" if text in scan.unchecked else "unparsed", None, text)
    called = {(i["module"], i["name"], i["member"]) for i in scan.items if i["verdict"] == CALLED}
    items = [i for i in scan.items if not (i["verdict"] == "unknown" and (i["module"], i["name"], i["member"]) in called)]
    return items, "; ".join(scan.reasons) or None


def scan_bytes(data: bytes, name: str) -> tuple[list[dict], str | None]:
    """(results, reason) for the bytes of one artifact called ``name``."""
    scan = _Scan()
    _guarded(scan, io.BytesIO(data), len(data), name)
    return _finish(scan, name)


def _guarded(scan: _Scan, f, size: int, name: str) -> None:
    """Hostile bytes reach library code (zipfile, tarfile, numpy, decompressors): whatever
    they raise ends this file's scan with a reason, never the audit."""
    try:
        low = name.lower()
        _scan_source(scan, f, size, None, 0, name=low.rsplit("/", 1)[-1], loaded=is_model_file(low))
    except OSError as exc:
        scan.problem(f"unreadable: {exc.strerror or exc}", None, True)
    except RecursionError:
        scan.problem("nested too deeply to check", None, True)
    except Exception as exc:
        scan.problem(f"could not be checked ({type(exc).__name__}: {exc})", None, True)


def scan_file(path: str) -> tuple[list[dict], str | None]:
    """(results, reason) for one file, streamed: nothing larger than a few MB is held in memory.

    results: dicts with module, name, offset, verdict ('dangerous', 'unknown' or
    'unchecked'), member, and for nested or unchecked items a 'detail'.
    """
    from .reading import NotRegularFile, open_regular

    scan = _Scan()
    try:
        fh = open_regular(path)
    except NotRegularFile as exc:
        scan.problem(exc.strerror[0].lower() + exc.strerror[1:], None, True)
        return _finish(scan, path)
    except OSError as exc:
        gone = exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # nothing a loader could load
        scan.problem(f"unreadable: {exc.strerror or exc}", None, not gone)
        return _finish(scan, path)
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_BYTES:
            scan.problem(f"too large ({size:,} bytes; the limit is {MAX_BYTES:,})", None, True)
            return _finish(scan, path)
        if size == 0:
            scan.problem("empty file", None, False)
            return _finish(scan, path)
        _guarded(scan, fh, size, path)
    return _finish(scan, path)


def finding_fields(item: dict) -> dict:
    """Rule, severity, confidence, title, message, cwe and evidence for one scan result."""
    verdict = item["verdict"]
    dotted = f"{item['module']}.{item['name']}" if item.get("module") else ""
    where = f" (in {item['member']})" if item.get("member") else ""
    detail = item.get("detail", "")
    evidence = {"scanner": "pickle-opcodes", "global": dotted or None, "member": item.get("member"),
                "offset": item["offset"]}
    if detail:
        evidence["detail"] = detail
    if verdict == "dangerous":
        message = (f"Loading this file would import {dotted}{where}"
                   + (f": {detail}" if detail else ", which can run arbitrary code")
                   + ". Do not load it; use safetensors or torch.load(weights_only=True).")
        return dict(rule=RULE_DANGEROUS, severity="HIGH", confidence="HIGH", cwe=502, evidence=evidence,
                    title="Model file imports a dangerous global", message=message)
    if verdict == "unchecked":
        message = (f"A loader would unpickle{' ' + dotted if dotted else ''} data in this file{where} that "
                   f"the scan could not check: {detail}. Treat it as untrusted; load it only with "
                   "weights_only=True or convert it to safetensors.")
        return dict(rule=RULE_UNCHECKED, severity="MEDIUM", confidence="LOW", cwe=502, evidence=evidence,
                    title="Model file could not be checked completely", message=message)
    if verdict == "unparsed":
        message = (f"This file{where} is named or built like a model file but could not be parsed: {detail}. "
                   "Nothing in it was checked; find out what it is before any loader opens it.")
        return dict(rule=RULE_UNCHECKED, severity="LOW", confidence="MEDIUM", cwe=502, evidence=evidence,
                    title="Model file could not be parsed", message=message)
    if verdict == CALLED:
        message = (f"Loading this file would call {dotted}{where}, which is not on the allow list of known "
                   "constructors: whatever that callable does runs at load time, with arguments the file "
                   "chooses. Do not load it unless you trust that name (workbench robustness "
                   f"--trust-import {item['module']}:{item['name']}); prefer safetensors.")
        return dict(rule=RULE_UNKNOWN, severity="HIGH", confidence="MEDIUM", cwe=502, evidence=evidence,
                    title="Model file calls a global that is not on the allow list", message=message)
    return dict(rule=RULE_UNKNOWN, severity="MEDIUM", confidence="LOW", cwe=829, evidence=evidence,
                title="Model file imports an unreviewed global",
                message=(f"Loading this file would import {dotted}{where}. Review it, or load with "
                         "weights_only=True / an allow list."))


def fingerprint_code(item: dict) -> str:
    """The code identity of a result for its fingerprint (stable across runs).

    Byte offsets are left out: they move whenever anything before them changes.
    """
    def steady(text: str) -> str:
        return re.sub(r"(byte|bytes) \d[\d,]*", r"\1 #", text)

    dotted = f"{item['module']}.{item['name']}" if item.get("module") else ""
    tail = f":{item['verdict']}:{steady(item.get('detail', ''))}" if item["verdict"] in ("unchecked", "unparsed") else ""
    return f"{steady(item.get('member') or '')}:{dotted}{tail}"
