"""Full-reference metrics on RGB images in 0..1: PSNR and SSIM.

SSIM follows Wang et al. 2004: Gaussian window 11x11 with sigma 1.5,
K1 = 0.01, K2 = 0.03, data range 1, computed per channel over the 'valid'
region and averaged. Both accept ``[3,H,W]`` or ``[B,3,H,W]``; for a batch the
per-image values are averaged. ``border`` crops that many pixels from each
side first.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import QAGANError


def _prepare(a: torch.Tensor, b: torch.Tensor, border: int) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape:
        raise QAGANError(f"images differ in size: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.dim() == 3:
        a, b = a[None], b[None]
    if a.dim() != 4:
        raise QAGANError(f"expected [3,H,W] or [B,3,H,W], got {tuple(a.shape)}")
    if border:
        if a.shape[-1] <= 2 * border or a.shape[-2] <= 2 * border:
            raise QAGANError(f"border {border} leaves no pixels in a {tuple(a.shape[-2:])} image")
        a = a[..., border:-border, border:-border]
        b = b[..., border:-border, border:-border]
    return a.double(), b.double()


def psnr_per_image(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> torch.Tensor:
    a, b = _prepare(a, b, border)
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse.clamp_min(1e-20))


def psnr(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> float:
    """Mean PSNR in dB (identical images give 200 dB, the 1e-20 MSE floor)."""
    return float(psnr_per_image(a, b, border).mean())


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim_per_image(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> torch.Tensor:
    a, b = _prepare(a, b, border)
    c = a.shape[1]
    if min(a.shape[-2:]) < 11:
        raise QAGANError(f"SSIM needs images of at least 11x11 pixels, got {tuple(a.shape[-2:])}")
    win = _gaussian_window().to(a.device)[None, None].expand(c, 1, 11, 11)
    c1, c2 = 0.01**2, 0.03**2

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, win, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


def ssim(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> float:
    return float(ssim_per_image(a, b, border).mean())


def psnr_from_mse(mse: float) -> float:
    return 10.0 * math.log10(1.0 / max(mse, 1e-20))
