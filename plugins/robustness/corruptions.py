"""Common corruptions, each a function of a batch and a severity, seeded through a generator.

Severities are in input units where that makes sense:

- ``gaussian_noise``: noise standard deviation;
- ``salt_pepper``: fraction of inputs set to the low or high end of the range;
- ``blur``: standard deviation, in pixels, of a Gaussian blur (images only);
- ``brightness``: offset added to every input;
- ``contrast``: fraction of contrast removed (0 = none, 1 = flat grey at the image mean);
- ``feature_noise``: tabular noise, as a multiple of each feature's standard deviation.

Every result is clipped to the input bounds and leaves immutable features alone.
"""

from __future__ import annotations

import math

IMAGE_CORRUPTIONS = ("gaussian_noise", "salt_pepper", "blur", "brightness", "contrast")
TABULAR_CORRUPTIONS = ("gaussian_noise", "salt_pepper", "brightness", "feature_noise")
CORRUPTIONS = ("gaussian_noise", "salt_pepper", "blur", "brightness", "contrast", "feature_noise")


def _blur(x, sigma: float):
    import torch
    import torch.nn.functional as F

    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(2 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=x.device)
    k = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    pad_mode = "reflect" if radius < min(x.shape[2], x.shape[3]) else "replicate"
    out = F.pad(x, (radius, radius, 0, 0), mode=pad_mode)
    out = F.conv2d(out, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode=pad_mode)
    return F.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def corrupt(name: str, x, severity: float, *, low, high, generator=None, feature_std=None, mask=None):
    """The corrupted batch; ``low``/``high`` are the input bounds (tensors)."""
    import torch

    if name == "gaussian_noise":
        out = x + severity * torch.randn(x.shape, generator=generator, device="cpu").to(x.device)
    elif name == "salt_pepper":
        u = torch.rand(x.shape, generator=generator, device="cpu").to(x.device)
        lo = torch.broadcast_to(low, x.shape)
        hi = torch.broadcast_to(high, x.shape)
        out = torch.where(u < severity / 2, lo, torch.where(u > 1 - severity / 2, hi, x))
    elif name == "blur":
        if x.dim() != 4:
            raise ValueError("blur applies to images only")
        out = _blur(x, severity)
    elif name == "brightness":
        out = x + severity
    elif name == "contrast":
        if x.dim() == 4:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
        else:
            mean = x.mean(dim=1, keepdim=True)
        out = mean + (x - mean) * (1.0 - severity)
    elif name == "feature_noise":
        if feature_std is None:
            feature_std = torch.ones(1, *x.shape[1:], device=x.device)
        out = x + severity * feature_std * torch.randn(x.shape, generator=generator, device="cpu").to(x.device)
    else:
        raise ValueError(f"unknown corruption {name!r}")
    if mask is not None:
        out = x + (out - x) * mask
    return torch.max(torch.min(out, high), low)
