"""Device, precision, threads, seeds, and batch halving on out-of-memory.

torch is imported inside the functions: this module is light to import.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

from .errors import RobustnessError

AMP_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


@dataclass
class RunDevice:
    """What a run executes on; ``describe()`` goes into the stored settings."""

    device: object             # torch.device
    amp: str | None            # None, "bf16" or "fp16"
    threads: int | None        # CPU threads pinned (None on GPUs)

    @property
    def type(self) -> str:
        return self.device.type

    def autocast(self):
        """Autocast for the forward pass on a GPU; a no-op context otherwise."""
        import torch

        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=getattr(torch, AMP_DTYPES[self.amp]))

    def describe(self) -> dict:
        import torch

        out = {"device": str(self.device), "amp": self.amp, "threads": self.threads, "torch": torch.__version__}
        if self.device.type == "cuda":
            out["gpu"] = torch.cuda.get_device_name(self.device)
        return out


def available() -> list[str]:
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def select(override: str | None = None, amp: str | None = None, threads: int | None = None) -> RunDevice:
    """CUDA, then MPS, then CPU, unless ``override`` names one; autocast only on a GPU."""
    import torch

    have = available()
    if override:
        kind = override.split(":")[0]
        if kind not in ("cpu", "cuda", "mps"):
            raise RobustnessError(f"unknown device {override!r} (use cpu, cuda, cuda:N or mps)")
        if kind not in have:
            raise RobustnessError(f"device {override!r} is not available here (available: {', '.join(have)})")
        device = torch.device(override)
    else:
        device = torch.device(have[0])
    if amp is not None:
        if amp not in AMP_DTYPES:
            raise RobustnessError(f"unknown precision {amp!r} (use bf16 or fp16)")
        if device.type == "cpu":
            raise RobustnessError(f"--amp {amp} needs a GPU; this run is on the CPU (leave --amp out)")
        if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise RobustnessError("this GPU does not support bf16; use --amp fp16")
    pinned = None
    if device.type == "cpu":
        # Pinned so that repeated runs use the same kernels and reproduce, and so
        # that two runs on a shared machine do not oversubscribe the cores.
        pinned = int(threads or os.cpu_count() or 1)
        torch.set_num_threads(pinned)
    return RunDevice(device, amp, pinned)


def seed_everything(seed: int) -> dict:
    """Seeds Python, NumPy and torch; returns what was set, for the stored settings."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    return {"seed": seed}


def is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def run_in_batches(n: int, batch_size: int, fn, *, on_halve=None, device=None):
    """Call ``fn(start, stop)`` over ``range(n)`` in chunks; halve the chunk and retry on OOM.

    Returns the list of ``fn`` results and the batch size that finally worked.
    """
    import torch

    out, start, size = [], 0, max(1, int(batch_size))
    while start < n:
        stop = min(n, start + size)
        try:
            out.append(fn(start, stop))
        except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
            if not is_oom(exc):
                raise
            if size == 1:
                raise RobustnessError("out of memory even with a batch of one sample") from None
            size = max(1, size // 2)
            if device is not None and getattr(device, "type", None) == "cuda":
                torch.cuda.empty_cache()
            if on_halve:
                on_halve(size)
            continue
        start = stop
    return out, size
