"""Learned degradations: training pairs for G_H's global head from unpaired folders.

An addition to the paper (docs/architecture.md, "How the global head learns").
A *degradation* is a colour transform of the head's own family (``apply_curve``:
3x3 mix, bias, a tone curve per channel) predicted from a noise vector ``z``
alone, never from the photo: the difference between the two folders is assumed
independent of the content. It is fitted so that the per-photo colour statistics
(``descriptor``) of degraded high-quality thumbnails are distributed like those of
the low-quality folder (``sliced_distance``). Degrading the high-quality photos
then gives (degraded, original) pairs on real contents, and the head learns by
regression to undo the degradation.

``z_dim`` 0 (what training uses) fits one transform for every photo: for a look
(a grade carried by the high folder) the inverse of the grade. Training averages
several such fits (``fit_mean_degradation``): single short fits land up to 1 dB
apart from the inverse grade depending on their seed. With noise
(``z_dim`` > 0, benchmarks/degradation_pairs.py) the degradation varies from
photo to photo, as generic defects do.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..model.generators import GlobalCurveHead, apply_curve
from ..pixels import resize

DESCRIPTOR_QUANTILES = (0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98)
FIT_DIRECTIONS = 128


def descriptor(x: torch.Tensor) -> torch.Tensor:
    """Per-photo colour statistics of thumbnails ``[B,3,s,s]``: ``[B, 42]``.

    Per channel: mean, std, 7 quantiles; chroma (max - min over channels): mean
    and 4 quantiles; opponent colours (r - g, b - (r + g) / 2): mean, std and 3
    quantiles each (casts and saturation are joint, not per-channel, properties).
    """
    x = x.float().clamp(0, 1)
    flat = x.flatten(2)
    q = torch.tensor(DESCRIPTOR_QUANTILES, device=x.device)
    quantiles = torch.quantile(flat, q, dim=2).permute(1, 2, 0).flatten(1)
    chroma = (x.amax(1) - x.amin(1)).flatten(1)
    chroma_q = torch.quantile(chroma, torch.tensor((0.25, 0.5, 0.75, 0.95), device=x.device), dim=1).t()
    r, g, b = flat[:, 0], flat[:, 1], flat[:, 2]
    opponent = torch.stack([r - g, b - (r + g) / 2], 1)
    opponent_q = torch.quantile(opponent, torch.tensor((0.1, 0.5, 0.9), device=x.device), dim=2)
    return torch.cat([flat.mean(2), flat.std(2), quantiles, chroma.mean(1, keepdim=True), chroma_q,
                      opponent.mean(2), opponent.std(2), opponent_q.permute(1, 2, 0).flatten(1)], 1)


def sliced_distance(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein-1 distance between two sets of vectors ``[N,D]``, ``[M,D]``
    along the unit columns of ``directions`` ``[D,K]``."""
    pa, pb = (a @ directions).sort(0).values, (b @ directions).sort(0).values
    if pb.shape[0] != pa.shape[0]:
        pb = pb[torch.linspace(0, pb.shape[0] - 1, pa.shape[0]).round().long()]
    return (pa - pb).abs().mean()


def new_degradation(z_dim: int) -> GlobalCurveHead:
    """An unfitted degradation model with ``z_dim`` noise inputs (even; 0: one transform)."""
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):  # the global RNG is left alone
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")  # no inputs
        torch.manual_seed(0)
        return GlobalCurveHead(channels=z_dim // 2, hidden=128)


def fit_target(high: torch.Tensor, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What a degradation is fitted to: the low thumbnails' descriptors (as they are and
    mirrored) and a scale per statistic, so that every statistic counts alike."""
    target = torch.cat([descriptor(low), descriptor(low.flip(-1))])
    return target, torch.cat([descriptor(high), target]).std(0) + 1e-3


def fit_degradation(high: torch.Tensor, low: torch.Tensor, z_dim: int, g: torch.Generator,
                    updates: int, lr: float, batch: int) -> GlobalCurveHead:
    """The degradation ``z [B, z_dim] -> transform`` that makes ``high`` thumbnails look
    like ``low`` ones (both ``[N,3,s,s]``, small: 16 to 32 pixels), fitted on the CPU.

    A ``GlobalCurveHead`` whose input vector is the noise (``channels`` = z_dim / 2
    gives z_dim inputs; 0: one transform); its last layer starts near zero, i.e.
    near the identity. ``updates`` of Adam, ``batch`` photos each, the learning
    rate decaying from ``lr`` along a cosine.
    """
    target, scale = fit_target(high, low)
    degradation = new_degradation(z_dim)
    for p in degradation.mlp[-1].parameters():
        torch.nn.init.normal_(p, std=1e-3, generator=g)
    optimizer = torch.optim.Adam(degradation.parameters(), lr=lr)
    for it in range(updates):
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * it / updates))
        pick = torch.randint(len(high), (batch,), generator=g)
        z = torch.randn(batch, z_dim, generator=g)
        y = apply_curve(high[pick], *degradation.from_summary(z))
        d = torch.randn(target.shape[1], FIT_DIRECTIONS, generator=g)
        loss = sliced_distance(descriptor(y) / scale, target / scale, d / d.norm(dim=0, keepdim=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return degradation.requires_grad_(False)


def fit_mean_degradation(high: torch.Tensor, low: torch.Tensor, g: torch.Generator, updates: int,
                         lr: float, batch: int, fits: int) -> GlobalCurveHead:
    """One transform (``z_dim`` 0): the mean of ``fits`` fits of ``fit_degradation``, each
    from its own start and draws of ``g``.

    The mean is taken over the transforms' raw parameters (the last layer's output; the
    tone curves' steps before their softmax) and stored as a degradation model that
    outputs it. Short fits of one look scatter around the inverse grade (and longer ones
    converge away from it, fitting the folders' content difference too); their mean
    scatters less (BENCHMARKS.md, "Averaged degradation fits").

    The fits run side by side, their parameters stacked (a model without inputs is its
    parameters), each with the draws of ``g`` that ``fit_degradation`` would take in turn:
    the same fits as ``fits`` calls of it, in one pass of small tensors instead of ``fits``.
    """
    target, scale = fit_target(high, low)
    base = new_degradation(0)
    first, middle, last = base.mlp[0], base.mlp[2], base.mlp[4]
    starts, picks, directions = [], [], []
    for _ in range(fits):  # g drawn in fit_degradation's order
        start = [torch.empty_like(p) for p in last.parameters()]
        for p in start:
            torch.nn.init.normal_(p, std=1e-3, generator=g)
        starts.append(start)
        for _ in range(updates):
            picks.append(torch.randint(len(high), (batch,), generator=g))
            torch.randn(batch, 0, generator=g)  # fit_degradation's noise z: empty
            directions.append(torch.randn(target.shape[1], FIT_DIRECTIONS, generator=g))
    picks_t = torch.stack(picks).view(fits, updates, batch)
    directions_t = torch.stack(directions).view(fits, updates, target.shape[1], FIT_DIRECTIONS)

    def stacked(t: torch.Tensor) -> torch.Tensor:
        return t.detach().expand(fits, *t.shape).clone().requires_grad_(True)

    params = [stacked(first.weight), stacked(first.bias), stacked(middle.weight), stacked(middle.bias),
              torch.stack([w for w, _ in starts]).requires_grad_(True),
              torch.stack([b for _, b in starts]).requires_grad_(True)]

    def outputs(rows: int) -> torch.Tensor:
        """Each fit's output for ``rows`` (empty) inputs, as ``fit_degradation`` computes it:
        ``[fits * rows, 9 + 3 + 3 * knots]``."""
        out = []
        for w1, b1, w2, b2, w3, b3 in zip(*params, strict=True):
            h = torch.relu(F.linear(torch.zeros(rows, 0), w1, b1))
            out.append(F.linear(torch.relu(F.linear(h, w2, b2)), w3, b3))
        return torch.cat(out)

    optimizer = torch.optim.Adam(params, lr=lr)
    target_scaled = target / scale
    for it in range(updates):
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * it / updates))
        y = apply_curve(high[picks_t[:, it].flatten()], *base.transform(outputs(batch)))
        loss = sum(sliced_distance(a / scale, target_scaled, d / d.norm(dim=0, keepdim=True))
                   for a, d in zip(descriptor(y).view(fits, batch, -1), directions_t[:, it], strict=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    degradation = new_degradation(0)
    torch.nn.init.zeros_(degradation.mlp[-1].weight)
    with torch.no_grad():
        degradation.mlp[-1].bias.copy_(outputs(1).mean(0))
    return degradation.requires_grad_(False)


@torch.no_grad()
def degrade(x: torch.Tensor, transform: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """``x`` ``[B,3,H,W]`` through a degradation's ``transform`` (one per image), rounded to
    8 bits as photos are."""
    return (apply_curve(x.float(), *transform).clamp(0, 1) * 255).round() / 255


@torch.no_grad()
def degraded_pairs(high: torch.Tensor, degrade_batch: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
                   passes: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``passes`` degraded versions of every high thumbnail ``[N,3,s,s]``: (degraded,
    original). ``degrade_batch(x, g)`` degrades a batch (8-bit, as photos are) with draws of
    ``g``: a fitted degradation (``fitted_degrader``) or ``QuantileDegradation.sample``.

    Odd passes take a random square crop (half to all of the side) resized back;
    passes 2 and 3 of every 4 are mirrored: the head sees more contents than photos.
    """
    xs, ts = [], []
    side = high.shape[-1]
    for p in range(passes):
        t = high
        if p % 2:
            crops = []
            for img in high:
                c = int(side * (0.5 + 0.5 * float(torch.rand((), generator=g))))
                a, b = (int(v) for v in torch.randint(0, side - c + 1, (2,), generator=g))
                crops.append(resize(img[None, :, a:a + c, b:b + c], (side, side))[0].clamp(0, 1))
            t = torch.stack(crops)
        if p % 4 >= 2:
            t = t.flip(-1)
        xs.append(degrade_batch(t, g))
        ts.append(t)
    return torch.cat(xs), torch.cat(ts)


def fitted_degrader(degradation: GlobalCurveHead,
                    z_dim: int) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """``degrade_batch`` of ``degraded_pairs`` for a fitted degradation with ``z_dim`` noise inputs."""
    return lambda x, g: degrade(x, degradation.from_summary(torch.randn(len(x), z_dim, generator=g)))
