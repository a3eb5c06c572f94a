"""The two generators (paper §3.2, Figs. 2 and 4).

G_H (low -> high) is a decoder that forms a U-Net with the encoder E: it starts
from relu5_1 and takes a skip from each of relu4_1..relu1_1. G_L (high -> low)
feeds (f_H, f_L) at relu5_1 and relu4_1 into two QAMs, upsamples the relu5_1
branch, fuses it with the relu4_1 branch and decodes to RGB with a decoder that
mirrors VGG-19 (as in AdaIN style transfer [9]).

Both take encoder features computed by the caller, so one encoder pass serves
G_H, G_L's reference and the cycle loss. Inputs must be multiples of 16 in
height and width; ``pad_to_multiple`` / ``crop_to`` handle other sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..encoder import FEATURE_CHANNELS
from .config import ModelConfig
from .qam import QualityAttention


def conv3x3(in_ch: int, out_ch: int, relu: bool = True) -> nn.Sequential:
    """Reflection-padded 3x3 conv (no border artefacts), optionally with ReLU."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(in_ch, out_ch, 3)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def upsample(x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Nearest-neighbour x2 upsampling then conv: no checkerboard artefacts."""
    if size is None:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    return F.interpolate(x, size=size, mode="nearest")


def pad_to_multiple(x: torch.Tensor, multiple: int = 16) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W up to a multiple (replicate when the image is too small)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x[..., : size[0], : size[1]]


def apply_curve(
    x: torch.Tensor, mix: torch.Tensor, bias: torch.Tensor, knots: torch.Tensor
) -> torch.Tensor:
    """Per-image colour transform: y = curve_c((M x + b)_c).

    ``mix`` [B,3,3], ``bias`` [B,3], ``knots`` [B,3,K+1] increasing from 0 to 1:
    a monotone piecewise-linear tone curve per channel, evaluated at K+1 evenly
    spaced inputs; values outside 0..1 continue with the end slopes.
    """
    b, _, h, w = x.shape
    y = torch.einsum("bij,bjhw->bihw", mix, x) + bias.view(b, 3, 1, 1)
    k = knots.shape[-1] - 1
    pos = y.clamp(0, 1) * k
    idx = pos.floor().clamp(max=k - 1)
    frac = pos - idx
    idx = idx.long().flatten(2)  # [B,3,HW]
    lo = torch.gather(knots, 2, idx).view(b, 3, h, w)
    hi = torch.gather(knots, 2, idx + 1).view(b, 3, h, w)
    slope_lo = (knots[:, :, 1] - knots[:, :, 0]).view(b, 3, 1, 1) * k
    slope_hi = (knots[:, :, -1] - knots[:, :, -2]).view(b, 3, 1, 1) * k
    out = lo + frac * (hi - lo)
    out = out + torch.clamp(y, max=0) * slope_lo + torch.clamp(y - 1, min=0) * slope_hi
    return out


PIXEL_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
PIXEL_STATS = 3 * (2 + len(PIXEL_QUANTILES))


def pixel_stats(thumb: torch.Tensor) -> torch.Tensor:
    """Per-channel mean, std and quantiles of a thumbnail ``[B,3,s,s]``: ``[B, PIXEL_STATS]``.

    Direct evidence of exposure, contrast and colour cast for the global head,
    centred on 0 (a mid-grey image gives mean and quantiles 0).
    """
    flat = thumb.float().clamp(0, 1).flatten(2)  # [B,3,N]
    q = torch.tensor(PIXEL_QUANTILES, device=flat.device, dtype=flat.dtype)
    quantiles = torch.quantile(flat, q, dim=2).permute(1, 2, 0)  # [B,3,Q]
    mean = flat.mean(2, keepdim=True)
    std = flat.std(2, unbiased=False, keepdim=True)
    return torch.cat([mean - 0.5, std, quantiles - 0.5], 2).flatten(1)


class GlobalCurveHead(nn.Module):
    """Predicts the per-image colour transform of ``apply_curve``.

    Input: mean and std of relu5_1 over the thumbnail and, with
    ``use_pixel_stats``, the thumbnail's own per-channel statistics
    (``pixel_stats``).
    """

    def __init__(
        self, knots: int = 16, channels: int = 512, hidden: int = 256, use_pixel_stats: bool = False
    ) -> None:
        super().__init__()
        self.knots = knots
        self.use_pixel_stats = use_pixel_stats
        n_in = 2 * channels + (PIXEL_STATS if use_pixel_stats else 0)
        self.mlp = nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 9 + 3 + 3 * knots),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def summarize(self, relu5: torch.Tensor, thumb: torch.Tensor | None = None) -> torch.Tensor:
        """The head's input vector: relu5_1 mean and std (and the thumbnail's pixel statistics)."""
        stats = torch.cat([relu5.mean(dim=(2, 3)), relu5.std(dim=(2, 3), unbiased=False)], 1)
        if self.use_pixel_stats:
            if thumb is None:
                raise ValueError("the global head with pixel statistics needs the thumbnail")
            stats = torch.cat([stats, pixel_stats(thumb).to(stats.dtype)], 1)
        return stats

    def from_summary(self, stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The transform (mix, bias, knots) for input vectors from ``summarize``."""
        return self.transform(self.mlp(stats))

    def transform(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The transform (mix, bias, knots) of the MLP's outputs ``p`` ``[B, 9 + 3 + 3 * knots]``."""
        b = p.shape[0]
        mix = torch.eye(3, device=p.device, dtype=p.dtype).expand(b, 3, 3) + p[:, :9].view(b, 3, 3)
        bias = p[:, 9:12]
        steps = torch.softmax(p[:, 12:].view(b, 3, self.knots), dim=-1)  # zero -> identity
        knots = torch.cat([torch.zeros_like(steps[:, :, :1]), steps.cumsum(-1)], dim=-1)
        return mix, bias, knots

    def forward(
        self, relu5: torch.Tensor, thumb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.from_summary(self.summarize(relu5, thumb))


class GeneratorH(nn.Module):
    """G_H: U-Net decoder over E's relu features (low -> high quality)."""

    widths = (256, 128, 64, 32)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3, c4, c5 = FEATURE_CHANNELS
        w4, w3, w2, w1 = self.widths
        self.dec4 = nn.Sequential(conv3x3(c5 + c4, w4), conv3x3(w4, w4))
        self.dec3 = nn.Sequential(conv3x3(w4 + c3, w3), conv3x3(w3, w3))
        self.dec2 = nn.Sequential(conv3x3(w3 + c2, w2), conv3x3(w2, w2))
        self.dec1 = nn.Sequential(conv3x3(w2 + c1, w1), conv3x3(w1, w1))
        self.to_rgb = conv3x3(w1, 3, relu=False)
        if config.residual_output:
            nn.init.zeros_(self.to_rgb[1].weight)
            nn.init.zeros_(self.to_rgb[1].bias)
        self.curve = (
            GlobalCurveHead(config.curve_knots, use_pixel_stats=config.curve_pixel_stats)
            if config.global_curve
            else None
        )

    def global_transform(
        self, relu5_thumb: torch.Tensor, thumb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """The colour transform from E(thumbnail)'s relu5_1 (and the thumbnail itself)."""
        return None if self.curve is None else self.curve(relu5_thumb, thumb)

    def forward(
        self,
        x: torch.Tensor,
        feats: list[torch.Tensor],
        transform: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``x`` [B,3,H,W] (H, W multiples of 16), ``feats`` = E(x).

        ``transform`` is the global colour transform from ``global_transform``
        applied to E(thumbnail of x); required when ``global_curve`` is on.
        """
        f1, f2, f3, f4, f5 = feats
        h = self.dec4(torch.cat([upsample(f5, f4.shape[-2:]), f4], 1))
        h = self.dec3(torch.cat([upsample(h, f3.shape[-2:]), f3], 1))
        h = self.dec2(torch.cat([upsample(h, f2.shape[-2:]), f2], 1))
        h = self.dec1(torch.cat([upsample(h, f1.shape[-2:]), f1], 1))
        delta = self.to_rgb(h)
        if not self.config.residual_output:
            return torch.sigmoid(delta)
        base = self.pointwise(x, transform)
        if base is None:
            base = x
        return base + delta.to(base.dtype)

    def pointwise(
        self, x: torch.Tensor, transform: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None
    ) -> torch.Tensor | None:
        """The part of the output that is a pointwise function of the input pixels: the global
        colour transform applied to ``x`` (residual output with ``global_curve``), else None.

        It stays in float32 under autocast: it carries the whole image, and 16-bit
        rounding there would show.
        """
        if self.curve is None or not self.config.residual_output:
            return None
        if transform is None:
            raise ValueError("G_H with global_curve needs the global transform")
        with torch.autocast(x.device.type, enabled=False):
            return apply_curve(x.float(), *(t.float() for t in transform))


class GeneratorL(nn.Module):
    """G_L: QAMs at relu5_1 and relu4_1, fusion, VGG-mirror decoder (high -> low)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c5, c4 = FEATURE_CHANNELS[4], FEATURE_CHANNELS[3]
        if config.use_qam:
            self.block5: nn.Module = QualityAttention(c5, config.qam_reduction, config.qam_residual)
            self.block4: nn.Module = QualityAttention(c4, config.qam_reduction, config.qam_residual)
        else:
            self.block5 = conv3x3(c5, c5)
            self.block4 = conv3x3(c4, c4)
        self.fuse = conv3x3(c5 + c4, 512)
        self.dec3 = nn.Sequential(conv3x3(512, 256))
        self.dec2 = nn.Sequential(conv3x3(256, 256), conv3x3(256, 256), conv3x3(256, 128))
        self.dec1 = nn.Sequential(conv3x3(128, 128), conv3x3(128, 64))
        self.dec0 = nn.Sequential(conv3x3(64, 64))
        self.to_rgb = conv3x3(64, 3, relu=False)
        if config.residual_output:
            nn.init.zeros_(self.to_rgb[1].weight)
            nn.init.zeros_(self.to_rgb[1].bias)

    def forward(
        self, x_h: torch.Tensor, feats_h: list[torch.Tensor], feats_l: list[torch.Tensor]
    ) -> torch.Tensor:
        """``x_h`` high-quality image, ``feats_h`` = E(x_h), ``feats_l`` = E(low-quality reference)."""
        if self.config.use_qam:
            q5 = self.block5(feats_h[4], feats_l[4])
            q4 = self.block4(feats_h[3], feats_l[3])
        else:
            q5 = self.block5(feats_h[4])
            q4 = self.block4(feats_h[3])
        h = self.fuse(torch.cat([upsample(q5, q4.shape[-2:]), q4], 1))
        h = self.dec3(h)
        h = self.dec2(upsample(h, feats_h[2].shape[-2:]))
        h = self.dec1(upsample(h, feats_h[1].shape[-2:]))
        h = self.dec0(upsample(h, feats_h[0].shape[-2:]))
        delta = self.to_rgb(h)
        if not self.config.residual_output:
            return torch.sigmoid(delta)
        return x_h + delta
