"""Built-in architectures, the demo model, and safe loading of model files.

Safe by default:

* safetensors weights (the 8-byte header length is checked against the file
  size before anything is parsed) or a ``torch.load(weights_only=True)``
  state dict, for a built-in architecture or one named in a user Python file
  (``FILE.py:Class``; importing that file runs it, so naming it is trusting it);
* a pickle that needs more than tensors (a whole ``nn.Module``, a custom class) only
  with ``trust_imports=["MODULE:NAME", ...]``: it is loaded by torch's weights-only
  unpickler, which admits its own allow list plus exactly the named globals
  (``torch.serialization.safe_globals``); naming one trusts it to run with whatever
  arguments the file gives it. The code audit's scan runs first and refuses a file that
  calls or imports anything else; deny-listed names (``os:system``...) cannot be trusted;
* TorchScript only with ``trust_imports=["torch.jit:load"]`` (its code runs when loaded);
* there is never a fallback from ``weights_only=True`` to ``False``;
* a torch.export archive (``.pt2``) is recognised and refused with its own message;
* ONNX runs through onnxruntime for black-box attacks and corruptions, after
  every external-data path was checked to stay inside the model's folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import sys
import zipfile
from dataclasses import dataclass, field

from .errors import ModelFileError, RobustnessError, UnsafeModelError

# The safetensors library itself refuses headers above 100 MB.
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
SAFETENSORS_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                           "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}


def _nn():
    import torch.nn as nn

    return nn


def digits_cnn(in_channels: int = 1, num_classes: int = 10, size: int = 8):
    """A small CNN for 8x8 digits: two 3x3 convolutions, a pool, two dense layers."""
    nn = _nn()
    flat = 32 * (size // 2) * (size // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 64), nn.ReLU(), nn.Linear(64, num_classes))


def tabular_mlp(in_features: int, num_classes: int, hidden: int = 64):
    nn = _nn()
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


BUILTIN = {"digits_cnn": digits_cnn, "tabular_mlp": tabular_mlp}


@dataclass
class LoadedModel:
    module: object                 # torch.nn.Module (or a TorchScript module)
    source: str
    format: str                    # safetensors | state_dict | torchscript | pickle | builtin
    arch: str | None = None
    arch_kwargs: dict = field(default_factory=dict)
    trusted: bool = False
    notes: list[str] = field(default_factory=list)


# --- architectures -------------------------------------------------------------------------

def build_arch(arch: str, kwargs: dict | None = None):
    """``arch`` is a built-in name or ``FILE.py:Class`` (that file is imported: it runs)."""
    kwargs = dict(kwargs or {})
    if arch in BUILTIN:
        try:
            return BUILTIN[arch](**kwargs)
        except TypeError as exc:
            raise RobustnessError(f"architecture {arch}: bad arguments {kwargs}: {exc}") from None
    if ":" not in arch:
        raise RobustnessError(f"unknown architecture {arch!r}: use one of {', '.join(BUILTIN)} or FILE.py:Class")
    path, _, name = arch.rpartition(":")
    module = import_arch_file(path)
    cls = getattr(module, name, None)
    if cls is None:
        raise RobustnessError(f"{path}: no class or function named {name!r}")
    try:
        return cls(**kwargs)
    except Exception as exc:  # noqa: BLE001
        raise RobustnessError(f"{path}:{name}: constructing the model failed: {type(exc).__name__}: {exc}") from None


def import_arch_file(path: str, mod_name: str | None = None):
    """Import a user's architecture file (it runs). ``mod_name``: under that name, so that a
    whole-module pickle saved from ``mynet.py`` finds ``mynet.TinyNet``; else a private name."""
    if not os.path.isfile(path):
        raise RobustnessError(f"{path}: architecture file not found")
    if mod_name is not None:
        have = sys.modules.get(mod_name)
        if have is not None:
            if os.path.realpath(getattr(have, "__file__", "") or "") == os.path.realpath(path):
                return have
            raise RobustnessError(f"{path}: cannot be imported as {mod_name!r}: another module of that name "
                                  f"({getattr(have, '__file__', None) or 'built in'}) is already loaded")
    mod_name = mod_name or f"workbench_user_arch_{abs(hash(os.path.realpath(path)))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise RobustnessError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - a user file can raise anything; say which and where
        sys.modules.pop(mod_name, None)
        line = ""
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == path:
                line = f", line {tb.tb_lineno}"
            tb = tb.tb_next
        if isinstance(exc, SyntaxError) and exc.lineno:
            line = f", line {exc.lineno}"
        raise RobustnessError(f"{path}{line}: importing the architecture failed: {type(exc).__name__}: {exc}") from None
    return module


def _apply_state(module, state: dict, source: str) -> None:
    import torch

    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{source}: does not hold a state dict of tensors")
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
        if extra:
            parts.append("unexpected " + ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else ""))
        if shapes:
            parts.append("wrong shape " + "; ".join(shapes[:3]))
        raise ModelFileError(f"{source}: weights do not fit the architecture: {'; '.join(parts)}")
    module.load_state_dict(state, strict=True)


# --- safetensors ---------------------------------------------------------------------------

def check_safetensors(path: str) -> dict:
    """Validate a safetensors file's framing without trusting it; return its parsed header.

    The header length is compared with the file size before the header is read,
    so a file that claims a 2 GB header costs nothing.
    """
    size = os.path.getsize(path)
    if size < 8:
        raise ModelFileError(f"{path}: truncated safetensors file ({size} bytes, not even the 8-byte header length)")
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > MAX_SAFETENSORS_HEADER:
            raise ModelFileError(f"{path}: safetensors header claims {n:,} bytes, over the {MAX_SAFETENSORS_HEADER:,}-byte "
                                 "limit; refused as damaged or hostile")
        if 8 + n > size:
            raise ModelFileError(f"{path}: safetensors header claims {n:,} bytes but the file has only {size - 8:,} "
                                 "after the length; truncated or hostile")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: safetensors header is not valid JSON ({exc}); not a safetensors file") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: safetensors header is not a JSON object")
    data_len = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or "data_offsets" not in info or "shape" not in info:
            raise ModelFileError(f"{path}: tensor {name!r}: malformed header entry")
        try:
            begin, end = (int(v) for v in info["data_offsets"])
            count = 1
            for d in info["shape"]:
                count *= int(d)
        except (TypeError, ValueError):
            raise ModelFileError(f"{path}: tensor {name!r}: malformed offsets or shape") from None
        width = SAFETENSORS_DTYPE_BYTES.get(str(info.get("dtype")))
        if width is None:
            raise ModelFileError(f"{path}: tensor {name!r}: unsupported dtype {info.get('dtype')!r}")
        if not 0 <= begin <= end or end > data_len:
            raise ModelFileError(f"{path}: tensor {name!r} ends at byte {end:,} of the data but the file holds "
                                 f"only {data_len:,}; truncated")
        if end - begin != count * width:
            raise ModelFileError(f"{path}: tensor {name!r}: {end - begin} bytes do not match shape {info['shape']}")
    return header


def read_safetensors(path: str) -> tuple[dict, dict]:
    """(state dict on the CPU, metadata) of a checked safetensors file."""
    header = check_safetensors(path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a valid safetensors file: {exc}") from None
    return state, dict(header.get("__metadata__") or {})


def save_safetensors(module, path: str, arch: str | None, arch_kwargs: dict | None = None,
                     extra: dict | None = None) -> None:
    """Weights plus the architecture's name and arguments, so that ``load_model`` can rebuild it."""
    from safetensors.torch import save_file

    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    meta = {"format": "pt", "workbench_arch": arch or "", "workbench_arch_kwargs": json.dumps(arch_kwargs or {})}
    for k, v in (extra or {}).items():
        meta[str(k)] = str(v)
    save_file(state, path, metadata=meta)


# --- torch.load ----------------------------------------------------------------------------

def _weights_only_load(path: str):
    """``torch.load(weights_only=True)``, after the code audit's opcode walk has named what the file imports.

    The walk never executes anything; it gives the refusal a name (``builtins.exec``)
    and tells garbage from pickles. The gate itself is torch's weights-only unpickler.
    """
    import pickle
    import struct
    import warnings

    import torch
    from workbench_plugins.code_audit.model_scan import scan_file

    results, reason = scan_file(path)
    suspicious = sorted({f"{r['module']}.{r['name']}" for r in results
                         if r["verdict"] in ("dangerous", "unknown", "called")})
    needed = trust_value(results)
    advice = ("loading it could run code. Save a state dict or safetensors instead"
              + (f", or pass --trust-import {needed} if you trust exactly those names" if needed else ""))
    if any(r["verdict"] == "dangerous" for r in results):
        raise UnsafeModelError(f"{path}: refused: the pickle inside imports {', '.join(suspicious[:5])}; {advice}")
    if reason and "format not recognised" in reason:
        raise ModelFileError(f"{path}: not a PyTorch state dict or safetensors file ({reason})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols; the refusal below says enough
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        what = f" (it imports {', '.join(suspicious[:5])})" if suspicious else ""
        raise UnsafeModelError(f"{path}: refused: the file is a pickle that needs more than plain tensors "
                               f"to load{what}; {advice}") from None
    # torch's unpickler lets garbage through as struct/index/type errors: all mean "not a checkpoint"
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, AttributeError,
            struct.error, IndexError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a PyTorch state dict or safetensors file: {first[:300]}") from None


def _unwrap_state(obj, path: str) -> dict:
    """Checkpoints often nest the weights under a key; take the one dict of tensors."""
    import torch

    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model", "weights"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
    raise ModelFileError(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors "
                         "(save model.state_dict(), or use safetensors)")


# --- trusted imports ------------------------------------------------------------------------

TORCHSCRIPT_TRUST = "torch.jit:load"  # the name that lets TorchScript code in an archive run


def parse_trust_imports(spec) -> list[tuple[str, str]]:
    """``"mod.sub:Name,other:Cls"`` (or a list of such) -> [(module, name)]; a bad item or a
    name the scan's deny list holds (``os:system``, ``builtins:eval``...) is refused."""
    from workbench_plugins.code_audit.model_scan import classify

    items = spec if isinstance(spec, (list, tuple)) else [spec or ""]
    out: list[tuple[str, str]] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            module, sep, name = part.partition(":")
            if not sep or not module or not name or not all(p.isidentifier() for p in module.split(".") + name.split(".")):
                raise RobustnessError(f"--trust-import: {part!r} is not MODULE:NAME (for example "
                                      "torch.nn.modules.linear:Linear)")
            if (module, name) != ("torch.jit", "load") and classify(module, name) in ("dangerous", "nested"):
                raise UnsafeModelError(f"--trust-import: {module}:{name} runs code, processes or other loaders "
                                       "whatever the file's source; it cannot be trusted by name")
            if (module, name) not in out:
                out.append((module, name))
    return out


def trust_value(results) -> str:
    """The ``--trust-import`` value that names exactly what a scanned file calls or imports."""
    names = sorted({f"{r['module']}:{r['name']}" for r in results
                    if r["verdict"] in ("called", "unknown") and r["module"] and r["module"] != "?"})
    return ",".join(names)


def _resolve_trusted(trusted: list[tuple[str, str]], arch: str | None) -> list:
    """Import each trusted MODULE and fetch NAME. The ``--arch`` file is importable under its
    own module name (``mynet.py`` -> ``mynet``), so a whole-module pickle saved from it loads."""
    import importlib

    arch_file = arch.rpartition(":")[0] if arch and ":" in arch else None
    arch_module = os.path.splitext(os.path.basename(arch_file))[0] if arch_file else None
    objects = []
    for module, name in trusted:
        if (module, name) == ("torch.jit", "load"):
            continue
        try:
            if module == arch_module:
                mod = import_arch_file(arch_file, arch_module)
            else:
                mod = importlib.import_module(module)  # naming it trusts it: importing runs its code
            obj = mod
            for attr in name.split("."):
                obj = getattr(obj, attr)
        except (ImportError, AttributeError) as exc:
            raise RobustnessError(f"--trust-import {module}:{name}: cannot be found ({type(exc).__name__}: {exc})"
                                  + ("; pass --arch FILE.py:Class for a class of your own file"
                                     if arch_module is None else "")) from None
        objects.append(obj)
    return objects


def _restricted_load(path: str, objects: list):
    """torch's weights-only unpickler, admitting its allow list plus exactly ``objects``.

    Whatever else the file imports or calls is refused by torch before it is resolved."""
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(objects):
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
        raise UnsafeModelError(f"{path}: refused: the file needs a global that was not trusted by name: "
                               f"{first[:300]}") from None
    except Exception as exc:  # noqa: BLE001 - a trusted class may raise anything while rebuilding
        raise ModelFileError(f"{path}: cannot be loaded: {type(exc).__name__}: {str(exc)[:200]}") from None


def _check_named(path: str, trusted: list[tuple[str, str]]) -> list[str]:
    """The code audit's scan first: anything dangerous, or called/imported and not named, refuses."""
    from workbench_plugins.code_audit.model_scan import scan_file

    results, reason = scan_file(path)
    dangerous = sorted({f"{r['module']}.{r['name']}" for r in results if r["verdict"] == "dangerous"})
    if dangerous:
        raise UnsafeModelError(f"{path}: refused even though trusted: the pickle scan found dangerous imports "
                               f"({', '.join(dangerous[:5])})")
    named = set(trusted)
    extra = sorted({f"{r['module']}:{r['name']}" for r in results
                    if r["verdict"] in ("called", "unknown") and (r["module"], r["name"]) not in named})
    if extra:
        raise UnsafeModelError(f"{path}: refused: the file also needs {', '.join(extra[:8])}, which "
                               f"--trust-import does not name; to trust exactly what it needs: "
                               f"--trust-import {trust_value(results)}")
    notes = [f"trusted by name: {r['module']}:{r['name']}" for r in results if r["verdict"] in ("called", "unknown")]
    if reason:
        notes.append(f"pickle scan: {reason}")
    return notes


def _scan_before_trust(path: str, expected: tuple[str, ...] = ()) -> list[str]:
    """Run the code audit's pickle scan; refuse a file that imports dangerous globals even when trusted.

    ``expected`` lists modules the trusted format itself needs (TorchScript's own
    list and tuple builders in ``torch.jit._pickle``): noted, not refused.
    """
    from workbench_plugins.code_audit.model_scan import scan_file

    results, reason = scan_file(path)
    dangerous = [f"{r['module']}.{r['name']}" for r in results
                 if r["verdict"] == "dangerous" and r["module"] not in expected]
    if dangerous:
        raise UnsafeModelError(f"{path}: refused even though trusted: the pickle scan found dangerous imports "
                               f"({', '.join(sorted(set(dangerous))[:5])})")
    notes = [f"pickle scan: {r['module']}.{r['name']} ({r['verdict']})" for r in results]
    if reason:
        notes.append(f"pickle scan: {reason}")
    return notes


# --- ONNX ----------------------------------------------------------------------------------

def check_onnx(path: str) -> None:
    """Refuse ONNX external data that points outside the model's folder (before anything is read)."""
    try:
        import onnx
    except ImportError:
        raise RobustnessError(f"{path}: ONNX models need the 'onnx' package, which is not installed") from None
    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types for garbage
        raise ModelFileError(f"{path}: not a valid ONNX model: {type(exc).__name__}: {str(exc)[:200]}") from None
    base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    tensors = list(proto.graph.initializer)
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                tensors.append(attr.t)
    for t in tensors:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in t.external_data if e.key == "location"), "")
        target = os.path.realpath(os.path.join(base, location))
        if os.path.isabs(location) or os.path.commonpath([base, target]) != base:
            raise UnsafeModelError(f"{path}: refused: tensor {t.name!r} reads external data from {location!r}, "
                                   "outside the model's folder")


class OnnxClassifier:
    """An ONNX model run by onnxruntime: forward passes only, for black-box attacks and corruptions.

    It quacks like the bits of ``nn.Module`` a sweep uses (``to``, ``eval``,
    ``parameters``); ``gradient_free`` tells the sweep to refuse gradient attacks.
    """

    gradient_free = True

    def __init__(self, path: str):
        try:
            import onnxruntime as ort
        except ImportError:
            raise RobustnessError(f"{path}: running ONNX models needs the 'onnxruntime' package") from None
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        try:
            self.session = ort.InferenceSession(path, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ModelFileError(f"{path}: onnxruntime cannot load the model: {str(exc)[:300]}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(f"{path}: the model has {len(inputs)} inputs; one (the batch) is expected")
        self.input_name = inputs[0].name
        self.path = path

    def __call__(self, x):
        import numpy as np
        import torch

        out = self.session.run(None, {self.input_name: x.detach().cpu().numpy().astype(np.float32, copy=False)})[0]
        return torch.from_numpy(np.ascontiguousarray(out)).to(x.device)

    def to(self, *args, **kwargs):
        return self

    def eval(self):
        return self

    def parameters(self):
        return iter(())


# --- entry point ---------------------------------------------------------------------------

def load_model(path: str, *, arch: str | None = None, arch_kwargs: dict | None = None,
               trust_imports=None, trust: bool = False) -> LoadedModel:
    """Load ``path`` safely; see the module docstring for what is accepted when.

    ``trust_imports``: ``"MODULE:NAME,..."`` or a list of them, the globals a pickle may use
    beyond torch's weights-only allow list (``TORCHSCRIPT_TRUST`` for TorchScript).
    ``trust`` (the old all-or-nothing flag) is refused: it trusted more than anyone named.
    """
    if trust:
        raise RobustnessError("trusting a whole model file was replaced by naming what it may import: "
                              "--trust-import MODULE:NAME[,...] (see the robustness README)")
    trusted = parse_trust_imports(trust_imports) if trust_imports else []
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(16)
    low = path.lower()
    if low.endswith(".onnx"):
        check_onnx(path)
        return LoadedModel(OnnxClassifier(path), path, "onnx")
    if low.endswith(".safetensors"):
        state, meta = read_safetensors(path)
        arch = arch or meta.get("workbench_arch") or None
        if arch_kwargs is None and meta.get("workbench_arch_kwargs"):
            try:
                arch_kwargs = json.loads(meta["workbench_arch_kwargs"])
            except json.JSONDecodeError:
                raise ModelFileError(f"{path}: metadata workbench_arch_kwargs is not JSON") from None
        if not arch:
            raise RobustnessError(f"{path}: safetensors holds weights only; name the architecture with "
                                  "--arch FILE.py:Class (or a built-in: " + ", ".join(BUILTIN) + ")")
        module = build_arch(arch, arch_kwargs)
        _apply_state(module, state, path)
        return LoadedModel(module.eval(), path, "safetensors", arch, dict(arch_kwargs or {}))
    kind = None
    if head.startswith(b"PK"):
        from workbench_plugins.code_audit.model_scan import zip_kind

        kind = zip_kind(path)
    if kind == "pt2":
        raise ModelFileError(f"{path}: a torch.export archive (.pt2), not a checkpoint: it holds an exported "
                             "graph that torch.load cannot read. Load it with torch.export.load() yourself and "
                             "save module.state_dict() as safetensors, or export to ONNX, then pass that file")
    if kind == "keras":
        raise ModelFileError(f"{path}: a Keras archive; robustness sweeps take PyTorch, safetensors or ONNX "
                             "models (export the Keras model to ONNX)")
    if kind == "torchscript":
        if ("torch.jit", "load") not in trusted:
            raise UnsafeModelError(f"{path}: refused: TorchScript archives can run code when loaded; pass "
                                   f"--trust-import {TORCHSCRIPT_TRUST} if you trust where it came from")
        import torch

        notes = _scan_before_trust(path, expected=("torch.jit._pickle",))
        try:
            module = torch.jit.load(path, map_location="cpu")
        except Exception as exc:  # noqa: BLE001
            raise ModelFileError(f"{path}: not a loadable TorchScript archive: {str(exc)[:200]}") from None
        return LoadedModel(module.eval(), path, "torchscript", trusted=True, notes=notes)
    if trusted:
        import torch

        notes = _check_named(path, trusted)
        obj = _restricted_load(path, _resolve_trusted(trusted, arch))
        if isinstance(obj, torch.nn.Module):
            return LoadedModel(obj.eval(), path, "pickle", arch, trusted=True, notes=notes)
        state = _unwrap_state(obj, path)
    else:
        state = _unwrap_state(_weights_only_load(path), path)
    if not arch:
        raise RobustnessError(f"{path}: a state dict needs its architecture: --arch FILE.py:Class "
                              "(or a built-in: " + ", ".join(BUILTIN) + ")")
    module = build_arch(arch, arch_kwargs)
    _apply_state(module, state, path)
    return LoadedModel(module.eval(), path, "state_dict", arch, dict(arch_kwargs or {}), trusted=bool(trusted))


# --- training the demo ---------------------------------------------------------------------

def train(module, dataset, *, epochs: int = 15, lr: float = 3e-3, batch_size: int = 64, seed: int = 0,
          device="cpu", on_epoch=None, check_cancelled=None):
    """Plain supervised training (Adam, cross-entropy), seeded; returns the module in eval mode."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(dataset.x)
    y = torch.as_tensor(dataset.y)
    module.to(device).train()
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    for epoch in range(epochs):
        if check_cancelled:
            check_cancelled()
        order = torch.randperm(len(y), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(y), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x[idx].to(device), y[idx].to(device)
            logits = module(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            total += len(idx)
        if on_epoch:
            on_epoch(epoch, loss_sum / total, correct / total)
    return module.eval()


def demo_model(seed: int = 0, epochs: int = 15, device="cpu"):
    """(LoadedModel, train set, test set): the digits CNN trained in seconds on the CPU."""
    import torch

    from .data import digits

    train_set, test_set = digits(seed=0)
    torch.manual_seed(seed)
    module = digits_cnn()
    train(module, train_set, epochs=epochs, seed=seed, device=device)
    loaded = LoadedModel(module, "built-in digits demo", "builtin", "digits_cnn", {})
    return loaded, train_set, test_set
