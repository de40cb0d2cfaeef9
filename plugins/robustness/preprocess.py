"""Explicit preprocessing, so that attacks perturb the input space whatever the model's normalisation.

The data is in input space (say pixels in [0, 1]); the model sees
``(x - mean) / std``. Epsilons are therefore in input units, and the
adversarial examples stay inside the input range (or per-feature bounds for
tabular data). Immutable tabular features are never perturbed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from .errors import RobustnessError


@dataclass
class Preprocessing:
    input_range: tuple[float, float] = (0.0, 1.0)
    mean: list[float] = field(default_factory=list)        # per channel (images) or per feature; empty = 0
    std: list[float] = field(default_factory=list)         # idem; empty = 1
    lower: list[float] | None = None                        # per-feature bounds (tabular), override input_range
    upper: list[float] | None = None
    immutable: list[int] = field(default_factory=list)      # tabular feature indices never perturbed

    def describe(self) -> dict:
        return {"input_range": list(self.input_range), "mean": self.mean, "std": self.std,
                "lower": self.lower, "upper": self.upper, "immutable": self.immutable}

    def check(self, kind: str, sample_shape: tuple) -> None:
        lo, hi = self.input_range
        if not lo < hi:
            raise RobustnessError(f"input range {lo:g},{hi:g}: the low end must be below the high end")
        width = sample_shape[0]  # channels for images, features for tables
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values and len(values) not in (1, width):
                raise RobustnessError(f"--{name} has {len(values)} values; the data has {width} "
                                      f"{'channels' if kind == 'image' else 'features'}")
        if any(s <= 0 for s in self.std):
            raise RobustnessError("--std values must be positive")
        for name, values in (("lower", self.lower), ("upper", self.upper)):
            if values is not None and (kind != "tabular" or len(values) != width):
                raise RobustnessError(f"per-feature {name} bounds need tabular data with {width} features")
        bad = [i for i in self.immutable if not 0 <= i < (width if kind == "tabular" else -1)]
        if bad:
            raise RobustnessError(f"immutable feature index {bad[0]} is not a feature of this tabular data")

    def check_data(self, x, source: str) -> None:
        """Per-feature bounds: every sample must lie inside them (the first one outside is named)."""
        import numpy as np

        if self.lower is None and self.upper is None:
            return
        lo = np.asarray(self.lower if self.lower is not None else [-np.inf] * x.shape[1], dtype=np.float32)
        hi = np.asarray(self.upper if self.upper is not None else [np.inf] * x.shape[1], dtype=np.float32)
        out = ((x < lo) | (x > hi)).any(axis=1)
        if out.any():
            i = int(np.argmax(out))
            j = int(np.argmax((x[i] < lo) | (x[i] > hi)))
            raise RobustnessError(f"{source}: sample {i}, feature {j} = {x[i, j]:g} is outside its bounds "
                                  f"[{lo[j]:g}, {hi[j]:g}]")

    def _shape(self, values, kind: str, sample_shape: tuple):
        import torch

        t = torch.tensor(values, dtype=torch.float32)
        if kind == "image":
            return t.view(1, -1, 1, 1)
        return t.view(1, -1)

    def wrap(self, module, kind: str, sample_shape: tuple):
        """The model as a function of input-space x."""
        mean = self._shape(self.mean or [0.0], kind, sample_shape)
        std = self._shape(self.std or [1.0], kind, sample_shape)
        if not self.mean and not self.std:
            return module
        return Normalised(module, mean, std)

    def bounds(self, kind: str, sample_shape: tuple, device):
        """(low, high) tensors broadcastable against a batch."""
        import torch

        if self.lower is not None or self.upper is not None:
            lo = torch.tensor(self.lower if self.lower is not None else [self.input_range[0]] * sample_shape[0])
            hi = torch.tensor(self.upper if self.upper is not None else [self.input_range[1]] * sample_shape[0])
            return lo.view(1, -1).float().to(device), hi.view(1, -1).float().to(device)
        lo, hi = self.input_range
        return (torch.tensor(float(lo), device=device), torch.tensor(float(hi), device=device))

    def mutable_mask(self, kind: str, sample_shape: tuple, device):
        """1 where a perturbation is allowed; None when every input may change."""
        import torch

        if not self.immutable:
            return None
        mask = torch.ones(1, sample_shape[0], device=device)
        mask[0, self.immutable] = 0.0
        return mask


@functools.lru_cache(maxsize=1)
def _normalised_class():
    """Built on first use, so that importing this module does not import torch."""
    import torch.nn as nn

    class _Normalised(nn.Module):
        def __init__(self, inner, mean, std):
            super().__init__()
            self.inner = inner
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x):
            return self.inner((x - self.mean) / self.std)

    return _Normalised


def Normalised(inner, mean, std):  # noqa: N802 - reads as the class it builds
    return _normalised_class()(inner, mean, std)
