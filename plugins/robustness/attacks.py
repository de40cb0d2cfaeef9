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
- APGD (Croce & Hein 2020), L-inf and L2: PGD without a step size to tune.
  The step starts at 2 eps and is halved at checkpoints when the loss stopped
  rising (or the previous halving did not help); momentum 0.75; restarts from
  the best point. Losses: cross-entropy (``apgd-ce``), the difference of logits
  ratio (``apgd-dlr``, invariant to the logits' scale) and its targeted form
  over the top classes (``apgd-t``).
- Square (Andriushchenko et al. 2020), L-inf and L2: score-based black-box
  random search; only forward passes. The paper's schedule of p, one random
  square per sample and query, the margin loss, and per-sample stopping.
- Carlini-Wagner L2 (2017): minimal L2 perturbation by Adam in tanh space.
- FAB-T (Croce & Hein 2020), L-inf and L2: minimal perturbation by projections
  onto the linearised boundary towards each of the top classes; part of the
  standard AutoAttack ensemble (APGD-CE, APGD-T, FAB-T, Square).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

GRADIENT_ATTACKS = ("fgsm", "pgd", "pgd_l2", "deepfool", "apgd-ce", "apgd-dlr", "apgd-t", "cw", "autoattack")
BLACK_BOX_ATTACKS = ("square", "square-l2")
ATTACKS = GRADIENT_ATTACKS + BLACK_BOX_ATTACKS
#: the threat model of each attack; None: the run's ``norm`` (APGD and AutoAttack have both)
NORM_OF = {"fgsm": "linf", "pgd": "linf", "pgd_l2": "l2", "deepfool": "l2", "square": "linf", "square-l2": "l2",
           "cw": "l2", "apgd-ce": None, "apgd-dlr": None, "apgd-t": None, "autoattack": None}
#: attacks that find a minimal perturbation once (not an eps-bounded one): a sample counts as broken at eps
#: when the perturbation found is at most eps
MINIMAL = ("deepfool", "cw")
#: AutoAttack's ensembles, run in this order on the samples still robust (per-sample worst case)
ENSEMBLES = {"standard": ("apgd-ce", "apgd-t", "fab-t", "square"), "quick": ("apgd-ce", "apgd-t")}


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
        generator=None, early_stop: bool = False):
    """Projected gradient descent in the L-inf or L2 ball of radius ``eps`` around ``x``.

    ``early_stop``: a sample whose iterate already succeeds keeps it and is not attacked further (a sweep
    counts robust accuracy, which this can only lower; the work left shrinks as samples fall).
    """
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
        if early_stop and restarts <= 1:
            return _pgd_early(target, x0, yy, adv, eps, steps, alpha, norm, targeted)
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


def _pgd_early(target: AttackTarget, x0, y, adv, eps: float, steps: int, alpha: float, norm: str, targeted: bool):
    """PGD steps on the samples not yet broken only (see :func:`pgd`'s ``early_stop``)."""
    import torch

    adv = adv.detach().clone()
    # the samples still attacked, compacted: a finished sample is written back once, not gathered every step
    rows = torch.arange(x0.shape[0], device=x0.device)
    cur, xr, yr = adv, x0, y
    for step in range(steps):
        grad, logits = _loss_and_grad(target, cur, yr, targeted)
        going = ~_success(logits, yr, targeted)
        if not bool(going.all()):
            adv[rows[~going]] = cur[~going]
            rows, cur, xr, yr, grad = rows[going], cur[going], xr[going], yr[going], grad[going]
            if rows.numel() == 0:
                return adv
        if norm == "linf":
            new = (cur + alpha * grad.sign() - xr).clamp_(-eps, eps).add_(xr)
        else:
            g = grad / _view(_flat_norm(grad, "l2").clamp_min(1e-12), grad)
            delta = cur + alpha * g - xr
            new = xr + delta * _view((eps / _flat_norm(delta, "l2").clamp_min(1e-12)).clamp(max=1.0), delta)
        cur = target.project(xr, new).detach()
    adv[rows] = cur
    return adv


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


def _eps_rows(eps, n: int, device):
    """eps as one value per sample (a sweep attacks several epsilons in one batch)."""
    import torch

    if isinstance(eps, torch.Tensor):
        return eps.to(device=device, dtype=torch.float32).reshape(n)
    return torch.full((n,), float(eps), device=device)


def _cpu_rand(shape, generator, device, kind="uniform"):
    """Random numbers drawn on the CPU, so that a seed gives the same attack on every device."""
    import torch

    t = torch.empty(shape)
    if kind == "uniform":
        t.uniform_(0, 1, generator=generator)
    else:
        t.normal_(generator=generator)
    return t.to(device)


def _cpu_randint(high, shape, generator, device):
    """Integers in [0, high) per element; ``high`` may be a tensor (one bound per element)."""
    import torch

    u = torch.rand(shape, generator=generator)
    return (u * torch.as_tensor(high, dtype=torch.float32)).long().clamp_max(
        torch.as_tensor(high).long() - 1).to(device)


def _signs(shape, generator, device):
    return _cpu_randint(2, shape, generator, device).float() * 2.0 - 1.0


def _as_image(x):
    """(n, c, h, w) view of a batch; tabular rows become 1 x F images."""
    if x.dim() == 4:
        return x, x.shape[1:]
    return x.reshape(x.shape[0], 1, 1, -1), (1, 1, x.shape[-1])


def _window_side(p: float, h: int, w: int, minimum: int = 1) -> tuple[int, int]:
    """The square's side: sqrt(p * h * w) pixels (the paper's); a 1 x F row gets a segment of p * F."""
    if h == 1:
        return 1, max(minimum if w >= minimum else 1, min(w, int(round(p * w))))
    s = max(minimum, int(round(math.sqrt(p * h * w))))
    s = min(s, h, w)
    return s, s


def _window(m: int, hs: int, ws: int, h: int, w: int, generator, device, placement: str = "paper"):
    """One uniformly placed hs x ws window per sample, anywhere inside the image (the paper's placement).

    ``placement="reference"`` draws the corner as the reference code does (``randint(0, h - s)``: the last
    row and column of corners are never drawn, so on a small image the bottom and right edges are rarely
    changed) and one window for the whole batch; kept to explain the difference with it in a test.
    """
    import torch

    if placement == "reference":
        r0 = _cpu_randint(max(h - hs, 1), (1,), generator, device).expand(m)
        c0 = _cpu_randint(max(w - ws, 1), (1,), generator, device).expand(m)
    else:
        r0 = _cpu_randint(h - hs + 1, (m,), generator, device)
        c0 = _cpu_randint(w - ws + 1, (m,), generator, device)
    rows = r0[:, None] + torch.arange(hs, device=device)[None, :]
    cols = c0[:, None] + torch.arange(ws, device=device)[None, :]
    return rows, cols


def _place(m: int, c: int, rows, cols):
    """Advanced-indexing tuple addressing each sample's window: t[idx] has shape (m, c, hs, ws)."""
    import torch

    dev = rows.device
    return (torch.arange(m, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
            rows[:, None, :, None], cols[:, None, None, :])


def _eta(hs: int, ws: int) -> "object":
    """The L2 attack's square pattern: two halves of opposite sign, each with mass 1/(k+1)^2 on its k-th
    concentric ring, unit L2 norm (Andriushchenko et al. 2020, section 3.2)."""
    import torch

    def half(a: int, b: int):
        if a == 0:
            return torch.zeros(a, b)
        ca, cb = a // 2, b // 2
        ii = torch.arange(a)[:, None]
        jj = torch.arange(b)[None, :]
        ring = torch.maximum((ii - ca).abs(), (jj - cb).abs())
        # rings are cumulative in the paper: each pixel gets the sum over the rings that contain it
        k = ring.max().item() + 1
        cum = torch.zeros(a, b)
        for r in range(k):
            cum += (ring <= r).float() / (r + 1) ** 2
        return cum / cum.norm().clamp_min(1e-12)

    if hs == 1:  # a segment of a row: one sign each half
        out = torch.cat([half(1, ws // 2), -half(1, ws - ws // 2)], dim=1) if ws > 1 else -torch.ones(1, 1)
    else:
        out = torch.cat([half(hs // 2, ws), -half(hs - hs // 2, ws)], dim=0)
    return out / out.norm().clamp_min(1e-12)


def square(target: AttackTarget, x, y, eps, *, n_queries: int = 5000, p_init: float = 0.8,
           targeted: bool = False, generator=None, norm: str = "linf", placement: str = "paper"):
    """Square attack, score-based, L-inf or L2 (Andriushchenko et al. 2020); ``eps`` a number or one per sample.

    Every query proposes, for every sample still classified correctly, a new
    perturbation in one random square (side sqrt(p h w), p halving on the
    paper's schedule rescaled to ``n_queries``, placed uniformly inside the
    image, drawn per sample) and keeps it when the margin loss drops. A sample
    stops as soon as it is misclassified (margin <= 0). L-inf: stripes of
    +-eps to start, squares of +-eps per channel. L2: the paper's
    meta-pixel start; each step moves the perturbation's mass from a second
    random square into the first with the pattern eta, at total norm eps.
    """
    import torch

    n = x.shape[0]
    dev = x.device
    x4, (c, h, w) = _as_image(x)
    e = _eps_rows(eps, n, dev)
    ev = _view(e, x4)
    back = (lambda t: t) if x.dim() == 4 else (lambda t: t.reshape(t.shape[0], *x.shape[1:]))

    def bounds(cand4, idx):
        return _as_image(target.project(x[idx], back(cand4)))[0]

    def margin_of(adv4, idx):
        with torch.no_grad():
            return _margin(target.logits(back(adv4)), y[idx], targeted)

    all_idx = torch.arange(n, device=dev)
    if norm == "linf":
        delta = ev * _signs((n, c, 1, w), generator, dev)
    else:
        delta = _l2_init(n, c, h, w, generator, dev, placement)
        delta = delta / _view(_flat_norm(delta, "l2").clamp_min(1e-12), delta) * ev
    adv4 = bounds(x4 + delta, all_idx)
    margin = margin_of(adv4, all_idx)
    for it in range(n_queries):
        todo = (margin > 0).nonzero().squeeze(1)
        if todo.numel() == 0:
            break
        m = todo.numel()
        p = _square_p(p_init, it, n_queries)
        base, cur, et = x4[todo], adv4[todo], ev[todo]
        if norm == "linf":
            hs, ws = _window_side(p, h, w)
            rows, cols = _window(m, hs, ws, h, w, generator, dev, placement)
            idx = _place(m, c, rows, cols)
            d = cur - base
            sign = _signs((1 if placement == "reference" else m, c, 1, 1), generator, dev)
            d[idx] = (et * sign).expand(m, c, hs, ws)
        else:
            hs, ws = _window_side(p, h, w, minimum=3)
            if h > 1 and hs % 2 == 0 and hs < h:
                hs = ws = hs + 1
            rows, cols = _window(m, hs, ws, h, w, generator, dev, placement)
            rows2, cols2 = _window(m, hs, ws, h, w, generator, dev, placement)
            idx, idx2 = _place(m, c, rows, cols), _place(m, c, rows2, cols2)
            d = cur - base
            win = d[idx]                                                    # (m, c, hs, ws)
            in_both = torch.zeros_like(d)
            in_both[idx] = 1.0
            in_both[idx2] = 1.0
            norm_img = _flat_norm(d, "l2")
            norm_windows = _flat_norm(d * in_both, "l2")
            win_norm = win.pow(2).sum(dim=(-2, -1), keepdim=True).sqrt()
            pattern = _eta(hs, ws).to(dev)
            flip = _cpu_randint(2, (1 if placement == "reference" else m,), generator, dev).bool().expand(m)
            if hs == ws:  # the pattern's orientation is random too
                pattern = torch.where(_view(flip, d), pattern.t()[None, None], pattern[None, None])
            new = pattern * _signs((m, c, 1, 1), generator, dev) + win / (win_norm + 1e-12)
            # the mass free under the budget plus what the two windows held, spread over the channels
            budget = ((et.pow(2) - _view(norm_img, d).pow(2)).clamp_min(0) / c + _view(norm_windows, d).pow(2)).sqrt()
            new = new / (new.pow(2).sum(dim=(-2, -1), keepdim=True).sqrt() + 1e-12) * budget
            d[idx2] = 0.0
            d[idx] = new
            d = d / _view(_flat_norm(d, "l2").clamp_min(1e-12), d) * et
        cand = bounds(base + d, todo)
        cand_margin = margin_of(cand, todo)
        better = (cand_margin < margin[todo]) | (cand_margin <= 0)
        if better.any():
            sel = todo[better]
            adv4[sel] = cand[better]
            margin[sel] = cand_margin[better]
    return back(adv4).detach()


def _l2_init(n: int, c: int, h: int, w: int, generator, device, placement: str = "paper"):
    """The L2 Square start: a grid of meta-pixels of side h // 5, each the pattern eta (randomly oriented)
    with a random sign per channel. ``placement="reference"`` walks the grid as the reference code does
    (h // s rows of blocks from an offset, drawing for blocks past the edge too)."""
    import torch

    delta = torch.zeros(n, c, h, w, device=device)
    s = max(1, h // 5)
    if h == 1:  # a tabular row: random signs
        return _signs((n, c, 1, w), generator, device)
    start = (h - s * 5) // 2 if h >= 5 else 0
    count_h = h // s if placement == "reference" else (h - start) // s
    count_w = w // s if placement == "reference" else (w - start) // s
    base = _eta(s, s).to(device)
    for i in range(count_h):
        for j in range(count_w):
            flip = bool(_cpu_randint(2, (1,), generator, device)[0])
            pattern = base.t() if flip else base
            r, col = start + i * s, start + j * s
            block = delta[:, :, r:r + s, col:col + s]
            block += (pattern * _signs((n, c, 1, 1), generator, device))[:, :, :block.shape[2], :block.shape[3]]
    return delta


# ------------------------------------------------------------------ APGD
def _dlr(logits, y, y_target=None):
    """Difference of logits ratio (untargeted), or its targeted form (Croce & Hein 2020, eq. 6 and 7).

    With fewer than 3 (targeted: 4) classes, the denominator uses the lowest logit there is.
    """
    import torch

    srt, ind = logits.sort(dim=1)
    k = logits.shape[1]
    u = torch.arange(len(y), device=logits.device)
    zy = logits[u, y]
    if y_target is None:
        other = torch.where(ind[:, -1] == y, srt[:, -2], srt[:, -1])
        return -(zy - other) / (srt[:, -1] - srt[:, -min(3, k)] + 1e-12)
    third, fourth = srt[:, -min(3, k)], srt[:, -min(4, k)]
    return -(zy - logits[u, y_target]) / (srt[:, -1] - 0.5 * (third + fourth) + 1e-12)


def apgd(target: AttackTarget, x, y, eps, *, n_iter: int = 100, norm: str = "linf", loss: str = "ce",
         y_target=None, targeted: bool = False, generator=None, schedule: bool = True, rho: float = 0.75,
         trace: list | None = None):
    """Auto-PGD (Croce & Hein 2020). Returns (x_adv, fooled).

    ``loss``: "ce" or "dlr". ``y`` is the true label; ``y_target``, when given,
    the class to reach (``targeted``: success means reaching it; otherwise,
    as in APGD-T, the target only steers the DLR loss and any wrong class
    counts). Step size 2 eps, momentum 0.75, checkpoints after 22 % of the
    iterations then at intervals shrinking by 3 % down to 6 %; at a checkpoint
    the step is halved, and the iterate reset to the best point, for each
    sample whose loss rose in fewer than ``rho`` of the steps since the last
    checkpoint, or whose best loss did not improve after a step kept at the
    last checkpoint. ``schedule=False`` keeps the step at 2 eps (the
    ablation). A sample stops once the attack succeeded on it. ``trace``, if
    given, receives the mean step size over the batch at each checkpoint.
    """
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    dev = x.device
    x = x.detach()
    e = _eps_rows(eps, n, dev)
    goal = y_target if y_target is not None else y

    def project(xa, x0, ee):
        d = xa - x0
        if norm == "linf":
            ev = _view(ee, d)
            d = torch.max(torch.min(d, ev), -ev)
        else:
            d = d * _view((ee / _flat_norm(d, "l2").clamp_min(1e-12)).clamp(max=1.0), d)
        return target.project(x0, x0 + d)

    def direction(g):
        if norm == "linf":
            return g.sign()
        return g / _view(_flat_norm(g, "l2").clamp_min(1e-12), g)

    def loss_grad(xa, yy, tt):
        xa = xa.detach().requires_grad_(True)
        logits = target.logits(xa)
        if loss == "ce":
            li = -F.cross_entropy(logits, tt, reduction="none") if targeted else \
                F.cross_entropy(logits, yy, reduction="none")
        else:
            li = _dlr(logits, yy, tt if y_target is not None else None)
        (g,) = torch.autograd.grad(li.sum(), xa)
        return li.detach(), g.detach(), logits.detach()

    def succeeded(logits, yy, tt):
        pred = logits.argmax(1)
        return pred == tt if targeted else pred != yy

    if norm == "linf":
        t = _cpu_rand(x.shape, generator, dev) * 2 - 1
        start = t / _view(_flat_norm(t, "linf").clamp_min(1e-12), t) * _view(e, t)
    else:
        t = _cpu_rand(x.shape, generator, dev, "normal")
        start = t / _view(_flat_norm(t, "l2").clamp_min(1e-12), t) * _view(e, t)
    xa = project(x + start, x, e)
    li, g, logits = loss_grad(xa, y, goal)
    fooled = succeeded(logits, y, goal)
    adv = xa.clone()
    x_best, g_best, loss_best = xa.clone(), g.clone(), li.clone()
    x_old = xa.clone()
    step = 2.0 * e
    k = max(int(0.22 * n_iter), 1)
    size_decr, k_min = max(int(0.03 * n_iter), 1), max(int(0.06 * n_iter), 1)
    since = 0
    n_up = torch.zeros(n, device=dev)
    prev = li.clone()
    best_at_check = loss_best.clone()
    reduced_at_check = torch.ones(n, dtype=torch.bool, device=dev)
    for i in range(n_iter):
        act = (~fooled).nonzero().squeeze(1)
        if act.numel() == 0:
            break
        x0, xa_a, ea = x[act], xa[act], e[act]
        a = 0.75 if i > 0 else 1.0
        z = project(xa_a + _view(step[act], xa_a) * direction(g[act]), x0, ea)
        new = project(xa_a + (z - xa_a) * a + (xa_a - x_old[act]) * (1 - a), x0, ea)
        x_old[act] = xa_a
        li_a, g_a, logits = loss_grad(new, y[act], goal[act])
        xa[act], g[act] = new, g_a
        ok = succeeded(logits, y[act], goal[act])
        adv[act[ok]] = new[ok]
        fooled[act[ok]] = True
        n_up[act] += (li_a > prev[act]).float()
        prev[act] = li_a
        up = li_a > loss_best[act]
        better = act[up]
        x_best[better], g_best[better], loss_best[better] = new[up], g_a[up], li_a[up]
        since += 1
        if since == k:
            if schedule:
                # the official code checks every sample, including those already fooled (they are frozen here)
                cut = (n_up <= k * rho) | (~reduced_at_check & (best_at_check >= loss_best))
                reduced_at_check = cut
                best_at_check = loss_best.clone()
                step = torch.where(cut, step / 2, step)
                xa[cut], g[cut] = x_best[cut], g_best[cut]
            if trace is not None:
                trace.append(float(step[~fooled].mean()) if (~fooled).any() else float("nan"))
            k = max(k - size_decr, k_min)
            since = 0
            n_up.zero_()
    # a sample never fooled keeps the point of highest loss
    out = torch.where(_view(fooled, x), adv, x_best)
    return out.detach(), fooled


def apgd_targeted(target: AttackTarget, x, y, eps, *, n_targets: int = 9, n_iter: int = 100, norm: str = "linf",
                  generator=None):
    """APGD-T: APGD on the targeted DLR loss towards each of the ``n_targets`` classes with the highest clean
    logits after the top one, each run on the samples not yet fooled; any wrong class counts.
    Returns (x_adv, fooled)."""
    import torch

    with torch.no_grad():
        order = target.logits(x).argsort(dim=1, descending=True)
    adv = x.clone()
    fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    e = _eps_rows(eps, x.shape[0], x.device)
    for rank in range(1, min(n_targets, order.shape[1] - 1) + 1):
        todo = (~fooled).nonzero().squeeze(1)
        if todo.numel() == 0:
            break
        a, ok = apgd(target, x[todo], y[todo], e[todo], n_iter=n_iter, norm=norm, loss="dlr",
                     y_target=order[todo, rank], generator=generator)
        adv[todo] = a
        fooled[todo[ok]] = True
    return adv, fooled


def ensemble(target: AttackTarget, x, y, eps, *, version: str = "standard", norm: str = "linf", generator=None,
             n_queries: int = 5000, p_init: float = 0.8, n_iter: int = 100, on_member=None):
    """AutoAttack: each attack of the ensemble on the samples that survived the previous ones (per-sample worst
    case). Returns (x_adv, fooled). ``on_member(name, fooled)`` after each attack."""
    import torch

    with torch.no_grad():
        fooled = target.logits(x).argmax(1) != y
    adv = x.clone()
    e = _eps_rows(eps, x.shape[0], x.device)
    for name in ENSEMBLES[version]:
        todo = (~fooled).nonzero().squeeze(1)
        if todo.numel() > 0:
            xs, ys, es = x[todo], y[todo], e[todo]
            if name == "apgd-ce":
                a, ok = apgd(target, xs, ys, es, n_iter=n_iter, norm=norm, generator=generator)
            elif name == "apgd-t":
                a, ok = apgd_targeted(target, xs, ys, es, n_targets=9 if version == "standard" else 3,
                                      n_iter=n_iter, norm=norm, generator=generator)
            elif name == "fab-t":
                # a minimal perturbation: it counts at eps when it is no larger
                a, found, size = fab_targeted(target, xs, ys, n_targets=9, n_iter=n_iter, norm=norm, eps=es)
                ok = found & (size <= es + 1e-7)
            else:
                a = square(target, xs, ys, es, n_queries=n_queries, p_init=p_init, norm=norm, generator=generator)
                with torch.no_grad():
                    ok = target.logits(a).argmax(1) != ys
            adv[todo[ok]] = a[ok]
            fooled[todo[ok]] = True
        if on_member:
            on_member(name, fooled)
    return adv.detach(), fooled


# ------------------------------------------------------------------ Carlini-Wagner
def cw_l2(target: AttackTarget, x, y, *, c: float = 1.0, kappa: float = 0.0, steps: int = 100, lr: float = 0.01,
          targeted: bool = False):
    """Carlini-Wagner L2 (2017), one constant c: Adam on w with x' = low + (high - low)(tanh w + 1)/2, minimising
    ||x' - x||^2 + c max(margin, -kappa). Returns (x_adv, found): the smallest perturbation that succeeded."""
    import torch

    x0 = x.detach()
    n = x0.shape[0]
    low = torch.as_tensor(target.low, device=x0.device).expand_as(x0)
    high = torch.as_tensor(target.high, device=x0.device).expand_as(x0)
    span = (high - low).clamp_min(1e-12)
    w = torch.atanh(((x0 - low) / span * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    best = x0.clone()
    best_norm = torch.full((n,), float("inf"), device=x0.device)
    found = torch.zeros(n, dtype=torch.bool, device=x0.device)
    for _ in range(steps):
        xa = low + span * (torch.tanh(w) + 1) / 2
        if target.mask is not None:
            xa = x0 + (xa - x0) * target.mask
        logits = target.logits(xa)
        dist = (xa - x0).reshape(n, -1).pow(2).sum(1)
        m = _margin(logits, y, targeted)
        loss = (dist + c * m.clamp_min(-kappa)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            ok = _success(logits, y, targeted)
            d2 = dist.sqrt()
            upd = ok & (d2 < best_norm)
            best[upd] = xa.detach()[upd]
            best_norm[upd] = d2[upd]
            found |= ok
    return best.detach(), found


# ------------------------------------------------------------------ a PGD sweep as one batched attack
def pgd_sweep(target: AttackTarget, x, y, eps_list, *, steps: int = 10, alpha=None, rel_alpha: float | None = None,
              norm: str = "linf", random_start: bool = True, generator=None):
    """PGD at every eps of ``eps_list`` (ascending) in one batch: one row per (eps, sample), each with its own
    eps and step (``alpha``, or ``rel_alpha`` * eps, or 2.5 eps / steps).

    Untargeted only. A row stops once its iterate is misclassified, and so do the rows of the same sample at
    larger eps: the adversarial example found lies in their larger balls too, so the sample is broken there
    without attacking it again. Returns ``adv`` of shape (E, n, ...): row (k, i) is the adversarial example
    of sample i at eps_list[k] (for a sample broken at a smaller eps, that smaller eps's example).
    """
    import torch
    import torch.nn.functional as F

    E, n = len(eps_list), x.shape[0]
    dev = x.device
    x0 = x.detach().repeat(E, *([1] * (x.dim() - 1)))
    yy = y.repeat(E)
    level = torch.arange(E, device=dev).repeat_interleave(n)
    sample = torch.arange(n, device=dev).repeat(E)
    e = torch.as_tensor([float(v) for v in eps_list], dtype=torch.float32, device=dev)[level]
    if rel_alpha is not None:
        a = e * rel_alpha
    elif alpha is not None:
        a = torch.full_like(e, float(alpha))
    else:
        a = 2.5 * e / max(steps, 1)
    ev, av = _view(e, x0), _view(a, x0)
    adv = x0.clone()
    if random_start:
        # drawn on the CPU level by level, as pgd() draws them for one eps
        if norm == "linf":
            u = torch.cat([torch.empty(x.shape).uniform_(-1, 1, generator=generator) for _ in range(E)]).to(dev)
            noise = u * ev
        else:
            parts = []
            for _ in range(E):
                g = torch.empty(x.shape).normal_(generator=generator)
                g = g / _view(_flat_norm(g, "l2").clamp_min(1e-12), g)
                parts.append(g * _view(torch.empty(n).uniform_(0, 1, generator=generator), g))
            noise = torch.cat(parts).to(dev) * ev
        adv = target.project(x0, x0 + noise)
    first = torch.full((n,), E, dtype=torch.long, device=dev)   # the smallest level at which each sample broke
    out = adv.clone()

    def settle(rows, logits):
        wrong = logits.argmax(1) != yy[rows]
        hit = rows[wrong]
        if hit.numel():
            out[hit] = adv[hit]
            # the smallest broken level per sample (scatter of a minimum)
            first.scatter_reduce_(0, sample[hit], level[hit], reduce="amin")

    for step in range(steps + 1):
        act = (level < first[sample]).nonzero().squeeze(1)
        if act.numel() == 0:
            break
        xa = adv[act].detach().requires_grad_(step < steps)
        logits = target.logits(xa)
        if step == steps:  # the last iterate: broken or not, it is the row's answer
            out[act] = adv[act]
            settle(act, logits.detach())
            break
        loss = F.cross_entropy(logits, yy[act], reduction="sum")
        (grad,) = torch.autograd.grad(loss, xa)
        settle(act, logits.detach())
        keep = level[act] < first[sample[act]]
        act, grad = act[keep], grad[keep]
        if act.numel() == 0:
            break
        x0a, eva, ava = x0[act], ev[act], av[act]
        if norm == "linf":
            new = adv[act] + ava * grad.sign()
            new = torch.max(torch.min(new, x0a + eva), x0a - eva)
        else:
            g = grad / _view(_flat_norm(grad, "l2").clamp_min(1e-12), grad)
            d = adv[act] + ava * g - x0a
            d = d * _view((eva.flatten() / _flat_norm(d, "l2").clamp_min(1e-12)).clamp(max=1.0), d)
            new = x0a + d
        adv[act] = target.project(x0a, new).detach()
    # rows at or above a sample's breaking level take the example found at that level
    broke = first < E
    src = first.clamp_max(E - 1)[sample] * n + sample
    above = broke[sample] & (level >= first.clamp_max(E - 1)[sample])
    out[above] = out[src[above]]
    return out.reshape(E, n, *x.shape[1:])


# ------------------------------------------------------------------ FAB-T
def _project_on_hyperplane(w, c, lo, hi, norm: str, iters: int = 40):
    """Per row, the smallest d (L-inf or L2) with <w, d> = c and lo <= d <= hi (lo <= 0 <= hi), by bisection
    on the multiplier: d(t) = clip(t sign(c) u, lo, hi) with u = sign(w) (L-inf) or w (L2); <w, d(t)> grows
    with t towards c. When no d in the box reaches c, the box's best point towards it."""
    import torch

    u = w.sign() if norm == "linf" else w
    s = torch.where(c >= 0, 1.0, -1.0)[:, None]
    reach = torch.maximum(lo.abs(), hi.abs())
    if norm == "linf":
        t_hi = reach.amax(1)
    else:
        t_hi = (reach / w.abs().clamp_min(1e-12)).amax(1)
    t_lo = torch.zeros_like(t_hi)
    target_c = c.abs()

    def d_of(t):
        return torch.max(torch.min(t[:, None] * s * u, hi), lo)

    for _ in range(iters):
        mid = (t_lo + t_hi) / 2
        got = (w * d_of(mid)).sum(1) * s[:, 0]
        below = got < target_c
        t_lo = torch.where(below, mid, t_lo)
        t_hi = torch.where(below, t_hi, mid)
    return d_of(t_hi)


def fab_targeted(target: AttackTarget, x, y, *, n_targets: int = 9, n_iter: int = 100, norm: str = "linf",
                 alpha_max: float = 0.1, eta: float = 1.05, beta: float = 0.9, eps=None):
    """FAB-T (Croce & Hein 2020, the fast adaptive boundary attack, targeted at the top classes): a minimal
    perturbation. Each step linearises the boundary between the true class and the target, projects both
    the iterate and the original input onto it (within the input bounds), and moves to a convex combination
    biased towards the original (alpha <= alpha_max, overshoot eta); once the iterate is adversarial, the
    smallest such point is kept and the iterate steps back towards the original (beta). Each target is tried
    on the samples whose smallest perturbation so far exceeds ``eps`` (a number or one per sample; None:
    every sample, every target). Returns (x_adv, found, norm of x_adv - x)."""
    import torch

    n = x.shape[0]
    dev = x.device
    x0 = x.detach()
    flat0 = x0.reshape(n, -1)
    low = torch.as_tensor(target.low, device=dev).expand_as(x0).reshape(n, -1)
    high = torch.as_tensor(target.high, device=dev).expand_as(x0).reshape(n, -1)
    mask = None if target.mask is None else torch.as_tensor(target.mask, device=dev).expand_as(x0).reshape(n, -1)
    with torch.no_grad():
        order = target.logits(x0).argsort(dim=1, descending=True)
    best = x0.clone()
    best_norm = torch.full((n,), float("inf"), device=dev)
    enough = None if eps is None else _eps_rows(eps, n, dev)
    for rank in range(1, min(n_targets, order.shape[1] - 1) + 1):
        todo = (torch.ones_like(best_norm, dtype=torch.bool) if enough is None else
                best_norm > enough + 1e-7).nonzero().squeeze(1)
        if todo.numel() == 0:
            break
        tt, yy, orig = order[todo, rank], y[todo], flat0[todo]
        lo_o, hi_o = low[todo] - orig, high[todo] - orig
        if mask is not None:  # immutable features: no room to move
            lo_o, hi_o = lo_o * mask[todo], hi_o * mask[todo]
        cur = orig.clone()
        for _ in range(n_iter + 1):
            xa = cur.reshape(-1, *x0.shape[1:]).detach().requires_grad_(True)
            logits = target.logits(xa)
            u = torch.arange(len(todo), device=dev)
            g = logits[u, yy] - logits[u, tt]            # negative once the target wins
            (grad,) = torch.autograd.grad(g.sum(), xa)
            grad = grad.reshape(len(todo), -1)
            if mask is not None:
                grad = grad * mask[todo]
            with torch.no_grad():
                wrong = logits.argmax(1) != yy
                dist = _flat_norm(cur - orig, norm)
                better = wrong & (dist < best_norm[todo])
                if better.any():
                    best[todo[better]] = cur[better].reshape(-1, *x0.shape[1:])
                    best_norm[todo[better]] = dist[better]
                # back towards the original from an adversarial iterate; the boundary's linearisation at the
                # point just evaluated still serves (g moved along it), which saves a forward pass per step
                back = torch.where(wrong[:, None], (1 - beta) * orig + beta * cur, cur)
                g = g.detach() + (grad * (back - cur)).sum(1)
                cur = back
                d_k = _project_on_hyperplane(grad, -g, lo_o - (cur - orig), hi_o - (cur - orig), norm)
                d_o = _project_on_hyperplane(grad, -g - (grad * (orig - cur)).sum(1), lo_o, hi_o, norm)
                nk, no = _flat_norm(d_k, norm), _flat_norm(d_o, norm)
                a = (nk / (nk + no).clamp_min(1e-12)).clamp(max=alpha_max)[:, None]
                cur = (1 - a) * (cur + eta * d_k) + a * (orig + eta * d_o)
                cur = torch.max(torch.min(cur, orig + hi_o), orig + lo_o)
    found = best_norm < float("inf")
    return best.detach(), found, torch.where(found, best_norm, torch.zeros_like(best_norm))
