"""Adversarial attacks in input space, written for this project.

All attacks take an :class:`AttackTarget` (the input-space model with frozen
weights, the input bounds, the mutable-feature mask and the autocast context)
and a batch ``x, y``. ``y`` is the true label for untargeted attacks and the
target label for targeted ones. Only input gradients are computed: the model's
weights have ``requires_grad`` off during a run (see :func:`frozen`), so the
backward pass skips every weight gradient.

Losses are summed over the batch, not averaged, so a sample's gradient does
not depend on the batch size (batches may be halved on out-of-memory).

- FGSM (Goodfellow et al. 2015): one signed-gradient step of size eps.
- PGD (Madry et al. 2018), L-inf and L2: random start in the ball, ``steps``
  steps of size ``alpha``, projection onto the ball and the input bounds;
  ``restarts`` keeps, per sample, the first restart that succeeds.
- DeepFool (Moosavi-Dezfooli et al. 2016), L2: minimal perturbation by
  linearising the decision boundaries; untargeted.
- Square (Andriushchenko et al. 2020), L-inf: score-based black-box search
  with random square updates; only forward passes.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

GRADIENT_ATTACKS = ("fgsm", "pgd", "pgd_l2", "deepfool")
BLACK_BOX_ATTACKS = ("square",)
ATTACKS = GRADIENT_ATTACKS + BLACK_BOX_ATTACKS
NORM_OF = {"fgsm": "linf", "pgd": "linf", "pgd_l2": "l2", "deepfool": "l2", "square": "linf"}


@dataclass
class AttackTarget:
    model: object              # callable: input-space x -> logits
    low: object                # tensor broadcastable to x
    high: object
    mask: object = None        # 1 where perturbation is allowed, or None
    autocast: object = None    # () -> context manager

    def logits(self, x):
        with (self.autocast() if self.autocast else contextlib.nullcontext()):
            out = self.model(x)
        return out.float()

    def __post_init__(self):
        # Scalar bounds clip with one fused clamp instead of a min and a max.
        self._scalar = None
        if getattr(self.low, "dim", None) and self.low.dim() == 0 and self.high.dim() == 0:
            self._scalar = (float(self.low), float(self.high))

    def project(self, x0, x):
        """Keep immutable features and clip to the input bounds."""
        import torch

        if self.mask is not None:
            x = x0 + (x - x0) * self.mask
        if self._scalar is not None:
            return x.clamp(*self._scalar)
        return torch.max(torch.min(x, self.high), self.low)

    def project_(self, x0, x):
        """In-place :meth:`project` for a tensor the caller owns (the PGD loop)."""
        if self.mask is None and self._scalar is not None:
            return x.clamp_(*self._scalar)
        return self.project(x0, x)


@contextlib.contextmanager
def frozen(module):
    """Weights without gradients for the duration (input gradients only), restored afterwards."""
    params = [p for p in module.parameters()] if hasattr(module, "parameters") else []
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def _loss_and_grad(target: AttackTarget, x, y, targeted: bool):
    import torch
    import torch.nn.functional as F

    x = x.detach().requires_grad_(True)
    logits = target.logits(x)
    loss = F.cross_entropy(logits, y, reduction="sum")
    if targeted:
        loss = -loss  # descend towards the target class
    (grad,) = torch.autograd.grad(loss, x)
    return grad, logits.detach()


def _flat_norm(t, kind: str):
    flat = t.reshape(t.shape[0], -1)
    return flat.abs().amax(dim=1) if kind == "linf" else flat.norm(dim=1)


def _view(v, like):
    return v.view(-1, *([1] * (like.dim() - 1)))


def fgsm(target: AttackTarget, x, y, eps: float, *, targeted: bool = False):
    grad, _ = _loss_and_grad(target, x, y, targeted)
    return target.project(x, x + eps * grad.sign()).detach()


def _success(logits, y, targeted: bool):
    pred = logits.argmax(1)
    return pred == y if targeted else pred != y


def pgd(target: AttackTarget, x, y, eps: float, *, steps: int = 10, alpha: float | None = None,
        norm: str = "linf", random_start: bool = True, restarts: int = 1, targeted: bool = False,
        generator=None):
    """Projected gradient descent in the L-inf or L2 ball of radius ``eps`` around ``x``."""
    import torch

    if alpha is None:
        alpha = 2.5 * eps / max(steps, 1)
    best = x.clone()
    done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for r in range(max(1, restarts)):
        todo = ~done if r else torch.ones_like(done)
        if not todo.any():
            break
        x0, yy = x[todo], y[todo]
        adv = x0.clone()
        if random_start and eps > 0:
            if norm == "linf":
                # drawn on the CPU so that a seed gives the same start on every device
                noise = torch.empty(x0.shape).uniform_(-eps, eps, generator=generator).to(x0.device)
            else:
                noise = torch.empty(x0.shape).normal_(generator=generator).to(x0.device)
                n = _view(_flat_norm(noise, "l2").clamp_min(1e-12), noise)
                radius = torch.empty(x0.shape[0]).uniform_(0, 1, generator=generator).to(x0.device)
                noise = noise / n * _view(radius, noise) * eps
            adv = target.project(x0, x0 + noise)
        for _ in range(steps):
            grad, _ = _loss_and_grad(target, adv, yy, targeted)
            if norm == "linf":
                # in place: no new tensors per step (the step is memory-bound on small models)
                adv = adv.detach().add_(grad.sign_(), alpha=alpha).sub_(x0).clamp_(-eps, eps).add_(x0)
                adv = target.project_(x0, adv)
            else:
                g = grad / _view(_flat_norm(grad, "l2").clamp_min(1e-12), grad)
                adv = adv.detach() + alpha * g
                delta = adv - x0
                scale = (eps / _flat_norm(delta, "l2").clamp_min(1e-12)).clamp(max=1.0)
                adv = target.project(x0, x0 + delta * _view(scale, delta))
        adv = adv.detach()
        if restarts <= 1:
            return adv
        with torch.no_grad():
            ok = _success(target.logits(adv), yy, targeted)
        idx = todo.nonzero().squeeze(1)
        # first restart: keep everything; later ones: only fill in samples not yet broken
        keep = torch.ones_like(ok) if r == 0 else ok
        best[idx[keep]] = adv[keep]
        done[idx[ok]] = True
    return best


def deepfool(target: AttackTarget, x, y, *, max_iter: int = 50, overshoot: float = 0.02, num_classes: int | None = None):
    """Minimal L2 perturbation (untargeted). Returns (x_adv, found) where found marks samples it broke."""
    import torch

    x0 = x.detach()
    with torch.no_grad():
        logits = target.logits(x0)
    k = num_classes or logits.shape[1]
    r_tot = torch.zeros_like(x0)
    active = logits.argmax(1) == y
    adv = x0.clone()
    found = ~active  # already misclassified: no perturbation needed
    for _ in range(max_iter):
        if not active.any():
            break
        idx = active.nonzero().squeeze(1)
        xa = adv[idx].detach().requires_grad_(True)
        out = target.logits(xa)
        ya = y[idx]
        grads = []
        for c in range(k):
            (g,) = torch.autograd.grad(out[:, c].sum(), xa, retain_graph=c < k - 1)
            grads.append(g)
        grads = torch.stack(grads, 1)                           # (n, k, ...)
        g_true = grads[torch.arange(len(idx)), ya].unsqueeze(1)
        w = (grads - g_true).reshape(len(idx), k, -1)
        f = (out - out.gather(1, ya[:, None])).detach()          # (n, k)
        wn = w.norm(dim=2).clamp_min(1e-8)
        ratio = f.abs() / wn
        ratio[torch.arange(len(idx)), ya] = float("inf")
        best = ratio.argmin(1)
        w_best = w[torch.arange(len(idx)), best]
        r = ((ratio[torch.arange(len(idx)), best] + 1e-4) / wn[torch.arange(len(idx)), best])[:, None] * w_best
        r_tot[idx] = r_tot[idx] + r.view_as(xa)
        new = target.project(x0[idx], x0[idx] + (1 + overshoot) * r_tot[idx])
        adv[idx] = new.detach()
        with torch.no_grad():
            broke = target.logits(adv[idx]).argmax(1) != ya
        found[idx[broke]] = True
        active[idx[broke]] = False
    return adv.detach(), found


def _margin(logits, y, targeted: bool):
    """Negative once the attack succeeds."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.clone()
    other.scatter_(1, y[:, None], -float("inf"))
    best_other = other.amax(1)
    return (best_other - true) if targeted else (true - best_other)


def _square_p(p_init: float, it: int, n_queries: int) -> float:
    """The paper's halving schedule for the fraction of pixels changed, rescaled to n_queries."""
    i = int(it / n_queries * 10000)
    for step, div in ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
                      (8000, 256)):
        if i <= step:
            return p_init / div
    return p_init / 512


def square(target: AttackTarget, x, y, eps: float, *, n_queries: int = 500, p_init: float = 0.1,
           targeted: bool = False, generator=None):
    """Square attack, L-inf, score-based: random square patches of +-eps, kept when the margin drops."""
    import torch

    n = x.shape[0]
    if x.dim() == 4:
        c, h, w = x.shape[1:]
    else:  # tabular: treat features as a 1 x F image
        c, h, w = 1, 1, x.shape[1]
    view = (lambda t: t) if x.dim() == 4 else (lambda t: t.reshape(t.shape[0], -1))
    def as4(t):
        return t.reshape(-1, c, h, w)

    x4 = as4(x)
    signs = torch.randint(0, 2, (n, c, 1, w), generator=generator, device="cpu").to(x.device) * 2.0 - 1.0
    adv = target.project(x, view(x4 + eps * signs))
    with torch.no_grad():
        margin = _margin(target.logits(adv), y, targeted)
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    for it in range(n_queries):
        todo = (margin > 0).nonzero().squeeze(1)
        if todo.numel() == 0:
            break
        p = _square_p(p_init, it, n_queries)
        s = max(1, min(h, w, int(round(math.sqrt(p * h * w)))))
        m = todo.numel()
        r0 = torch.randint(0, h - s + 1, (m,), generator=generator, device="cpu").to(x.device)
        c0 = torch.randint(0, w - s + 1, (m,), generator=generator, device="cpu").to(x.device)
        win = (((rows[None, :] >= r0[:, None]) & (rows[None, :] < r0[:, None] + s))[:, :, None]
               & ((cols[None, :] >= c0[:, None]) & (cols[None, :] < c0[:, None] + s))[:, None, :])
        win = win[:, None, :, :].float()                                   # (m, 1, h, w)
        new_sign = (torch.randint(0, 2, (m, c, 1, 1), generator=generator, device="cpu").to(x.device) * 2.0 - 1.0)
        cur = as4(adv[todo])
        base = x4[todo]
        delta = (cur - base) * (1 - win) + eps * new_sign * win
        cand = target.project(x[todo], view(base + delta))
        with torch.no_grad():
            cand_margin = _margin(target.logits(cand), y[todo], targeted)
        better = cand_margin < margin[todo]
        if better.any():
            sel = todo[better]
            adv[sel] = cand[better]
            margin[sel] = cand_margin[better]
    return adv.detach()
