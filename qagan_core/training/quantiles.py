"""Quantile-transfer degradations: per-photo training pairs for G_H's global head.

An addition to the paper (docs/architecture.md, "How the global head learns"), the
head objective ``quantile_pairs`` of the ``fixes`` preset: for a low folder whose
photos each have their own defects (haze, a cast, an exposure error) rather than one
shared look. Unlike ``degradation.py`` nothing is fitted: a high-quality photo's
values are moved, per channel of an opponent colour space (luma, r - g,
b - (r + g) / 2; casts and saturation live in the last two), from the high
folder's quantile function to

    q_k(u) = Q_H(u) + [mean_L(u) - mean_H(u)] + s(u) [Q_k(u) - mean_L(u)]

``Q_H`` is the quantile function of the pooled high folder, ``mean_L`` and ``mean_H``
the means over photos of each folder's per-photo quantile functions, ``Q_k`` that of
low photo ``k`` (drawn per pair) and ``u`` one of ``LEVELS`` levels; ``q_k`` is made
non-decreasing, values in between are linear, the result is clipped and rounded to
8 bits as photos are. The share ``s(u)`` (``deconvolved_share``) is the part of the
low photos' spread that the high photos' spread does not explain: contents vary in
both folders, what is left is taken for per-photo defects and drawn from real low
photos. ``s = 0`` is one degradation for every photo (a look taken off).
BENCHMARKS.md, "Quantile-transfer pairs", measures both.

At a few dozen photos per folder that share draws contents more than defects
(BENCHMARKS.md, "Do the low photos vary more than the high ones?"), so a share
``generic_rate`` of the degraded photos also gets a ``generic_defect``: a random
global change of exposure, tone, contrast or colour of fixed, folder-independent
strengths, a prior for what a photo's own defects are (BENCHMARKS.md, "Generic
defects").
"""

from __future__ import annotations

import math

import torch

from ..pixels import thumbnail

# RGB -> (luma, r - g, b - (r + g) / 2)
OPPONENT = torch.tensor([[0.299, 0.587, 0.114], [1.0, -1.0, 0.0], [-0.5, -0.5, 1.0]])
OPPONENT_INVERSE = torch.linalg.inv(OPPONENT)
LEVELS = 65
STATS_SIZE = 64  # the thumbnails whose quantiles describe a photo


def to_opponent(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", OPPONENT.to(x.device), x)


def from_opponent(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", OPPONENT_INVERSE.to(x.device), x)


def quantile_functions(x: torch.Tensor) -> torch.Tensor:
    """Per-photo, per-channel quantiles of ``x`` ``[N,3,h,w]`` at ``LEVELS`` levels: ``[N,3,LEVELS]``."""
    levels = torch.linspace(0, 1, LEVELS, device=x.device)
    return torch.quantile(x.flatten(2), levels, dim=2).permute(1, 2, 0).contiguous()


def pooled_quantiles(x: torch.Tensor) -> torch.Tensor:
    """Per-channel quantiles of all photos ``[N,3,h,w]`` together: ``[3,LEVELS]``."""
    return quantile_functions(x.transpose(0, 1).reshape(1, 3, -1, 1))[0]


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear ``x`` ``[3,n]`` -> ``[3,n]`` through ``(xp, fp)`` ``[3,L]`` per channel, ``xp``
    non-decreasing; constant beyond its ends."""
    xp = xp + torch.arange(xp.shape[1], device=xp.device) * 1e-7  # strictly increasing
    i = torch.searchsorted(xp, x.clamp(xp[:, :1], xp[:, -1:]).contiguous()).clamp(1, xp.shape[1] - 1)
    x0, x1, f0, f1 = xp.gather(1, i - 1), xp.gather(1, i), fp.gather(1, i - 1), fp.gather(1, i)
    return f0 + ((x - x0) / (x1 - x0)).clamp(0, 1) * (f1 - f0)


def deconvolved_share(q_low: torch.Tensor, q_high: torch.Tensor) -> torch.Tensor:
    """``sqrt(max(0, var_L - var_H) / var_L)`` per channel and level, the variances taken over the
    photos' quantile functions ``[N,3,L]``: the share of the low photos' spread the high ones' lacks.
    0 where a folder holds a single photo (no spread to compare)."""
    if min(len(q_low), len(q_high)) < 2:
        return torch.zeros_like(q_low[0])
    var_low, var_high = q_low.var(0), q_high.var(0)
    return ((var_low - var_high).clamp_min(0) / var_low.clamp_min(1e-8)).sqrt()


def generic_defect(x: torch.Tensor, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Photo ``x`` ``[3,H,W]`` with a random global defect, on the 8-bit grid. In the opponent
    channels, each part drawn with probability 1/2 (``g``): a gain (log -0.35..0.35, about a
    stop either way) on the luma and the chroma alike, as an exposure error scales R, G and B;
    a luma gamma (log -0.4..0.4), a contrast about the photo's mean luma
    (0.6..1.15), a chroma offset (-0.06..0.06 per chroma channel: a cast) and a chroma gain
    (0.5..1.3: saturation). ``scale`` multiplies every strength (1: the ``fixes`` preset's)."""

    def draw(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=g))

    o = to_opponent(x[None].float())[0]
    luma, chroma = o[0].clamp(0, 1), o[1:]
    if draw(0, 1) < 0.5:  # an exposure error scales R, G and B: the chroma with the luma
        gain = math.exp(scale * draw(-0.35, 0.35))
        luma, chroma = luma * gain, chroma * gain
    if draw(0, 1) < 0.5:
        luma = luma.clamp(0, 1) ** math.exp(scale * draw(-0.4, 0.4))
    if draw(0, 1) < 0.5:
        mean = luma.mean()
        luma = mean + (1 + scale * (draw(0.6, 1.15) - 1)) * (luma - mean)
    if draw(0, 1) < 0.5:
        offset = torch.tensor([draw(-0.06, 0.06), draw(-0.06, 0.06)], device=x.device)
        chroma = chroma + scale * offset[:, None, None]
    if draw(0, 1) < 0.5:
        chroma = chroma * (1 + scale * (draw(0.5, 1.3) - 1))
    y = from_opponent(torch.cat([luma[None], chroma])[None])[0]
    return (y.clamp(0, 1) * 255).round() / 255


class QuantileDegradation:
    """The degradations ``q_k`` of the module docstring, from high and low thumbnails
    ``[N,3,s,s]``.

    ``shrink``: ``"deconvolved"`` (``deconvolved_share``) or one share for every level.
    ``pooled``: the folders' difference taken between their pooled quantile functions,
    ``Q_L(u) - Q_H(u)`` (histogram matching of the pooled folders), instead of the mean of
    the per-photo ones. ``generic_rate``: the share of the photos of ``sample`` that also get a
    ``generic_defect``."""

    def __init__(self, high: torch.Tensor, low: torch.Tensor, shrink: str | float = "deconvolved",
                 pooled: bool = False, generic_rate: float = 0.0) -> None:
        self.generic_rate = generic_rate
        h = to_opponent(thumbnail(high.float(), STATS_SIZE))
        lo = to_opponent(thumbnail(low.float(), STATS_SIZE))
        self.q_high_pooled = pooled_quantiles(h)  # Q_H [3,L]
        self.q_high, self.q_low = quantile_functions(h), quantile_functions(lo)
        self.mean_low = self.q_low.mean(0)
        self.offset = (pooled_quantiles(lo) - self.q_high_pooled if pooled
                       else self.mean_low - self.q_high.mean(0))
        self.shrink = (deconvolved_share(self.q_low, self.q_high) if shrink == "deconvolved"
                       else torch.full_like(self.mean_low, float(shrink)))

    def to(self, device: torch.device) -> QuantileDegradation:
        for name in ("q_high_pooled", "q_high", "q_low", "mean_low", "offset", "shrink"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def __call__(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Photo ``x`` ``[3,H,W]`` with low photo ``k``'s degradation, on the 8-bit grid."""
        q = self.q_high_pooled + self.offset + self.shrink * (self.q_low[k] - self.mean_low)
        q = q.cummax(1).values  # non-decreasing
        o = to_opponent(x[None].float())[0]
        y = from_opponent(interp(o.flatten(1), self.q_high_pooled, q).view_as(o)[None])[0]
        return (y.clamp(0, 1) * 255).round() / 255

    @torch.no_grad()
    def sample(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Each photo of ``x`` ``[B,3,H,W]`` with the degradation of a low photo drawn by ``g``, and
        a share ``generic_rate`` of them with a ``generic_defect``; float32 even under autocast
        (the 8-bit grid needs it)."""
        picks = torch.randint(len(self.q_low), (len(x),), generator=g).tolist()
        with torch.autocast(x.device.type, enabled=False):
            out = [self(img, k) for img, k in zip(x, picks, strict=True)]
            if self.generic_rate:
                out = [generic_defect(y, g) if float(torch.rand((), generator=g)) < self.generic_rate else y
                       for y in out]
            return torch.stack(out)
