"""Fast full-resolution enhancement: run G_H at a working resolution, transfer the edit.

Method: a per-pixel local affine colour transform, fitted at the working
resolution and applied to the full-resolution pixels (the "fast guided filter"
of He & Sun, arXiv:1505.00996, with a colour guide as in He, Sun & Tang,
TPAMI 2013; the same model underlies bilateral guided upsampling, Chen et al.,
SIGGRAPH Asia 2016, and HDRNet, Gharbi et al., SIGGRAPH 2017).

1. ``lo`` = the image downscaled (antialiased) so its long side is ``working_size``;
   ``out_lo`` = G_H(``lo``).
2. G_H's output is ``curve(x) + delta(x)``: a per-image colour transform
   (``global_transform``, a pointwise function computed from a fixed-size
   thumbnail, so it is the same at every resolution) plus a local change. The
   pointwise part is applied exactly to the full-resolution pixels; only the
   local change ``delta`` is transferred.
3. In every ``(2r+1)^2`` window of the working image, ``delta`` is modelled as
   an affine function of the input colour, ``delta_c = A_c . x + b_c`` (a 3x3
   matrix and a bias per pixel), fitted by ridge regression (``eps``) and
   averaged over the windows covering each pixel -- the colour guided filter.
4. The 12 coefficient maps are upsampled bilinearly and applied to the
   full-resolution pixels, in strips of rows to bound memory.

Why this method: QAGAN's enhancement is a smooth, content-dependent colour and
tone change, which a local affine colour model captures well; the affine
transform is applied to the original pixels, so every full-resolution edge and
texture is kept (a texture of contrast ``t`` comes out with contrast ``A t``,
never blurred), and edges in the coefficients follow edges of the image
because they are fitted against the image itself. Cost at full resolution is
a few multiply-adds per pixel, independent of the network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..model.generators import apply_curve
from ..model.qagan import QAGAN, Transform

DEFAULT_WORKING_SIZE = 1024
DEFAULT_RADIUS = 2
DEFAULT_EPS = 1e-3
# Rows per strip when applying the coefficients at full resolution.
STRIP_PIXELS = 1 << 19


def working_shape(h: int, w: int, working_size: int) -> tuple[int, int]:
    """``(h, w)`` scaled so the long side is ``working_size`` (never upscaled)."""
    scale = min(1.0, working_size / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over ``(2r+1)^2`` windows, windows truncated at the borders."""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    return F.avg_pool2d(x, k, stride=1, padding=radius, count_include_pad=False)


def fit_local_affine(
    guide: torch.Tensor, target: torch.Tensor, radius: int = DEFAULT_RADIUS, eps: float = DEFAULT_EPS
) -> torch.Tensor:
    """Colour guided-filter coefficients ``[B,12,h,w]`` with ``target ~ A guide + b``.

    Channels 0..8 hold ``A[c, i]`` (row-major), 9..11 the bias ``b[c]``; both are
    already averaged over the windows (ready to be upsampled and applied).
    """
    guide, target = guide.float(), target.float()
    b, _, h, w = guide.shape
    mean_i = box_mean(guide, radius)  # [B,3,h,w]
    mean_p = box_mean(target, radius)
    products = guide[:, :, None] * guide[:, None, :]  # [B,3,3,h,w]
    e_ii = box_mean(products.reshape(b, 9, h, w), radius).view(b, 3, 3, h, w)
    cov_ii = e_ii - mean_i[:, :, None] * mean_i[:, None, :]
    cross = guide[:, :, None] * target[:, None, :]  # [B,3(i),3(c),h,w]
    e_ip = box_mean(cross.reshape(b, 9, h, w), radius).view(b, 3, 3, h, w)
    cov_ip = e_ip - mean_i[:, :, None] * mean_p[:, None, :]
    eye = torch.eye(3, device=guide.device, dtype=guide.dtype)
    sigma = cov_ii.permute(0, 3, 4, 1, 2) + eps * eye  # [B,h,w,3,3]
    rhs = cov_ip.permute(0, 3, 4, 1, 2)  # [B,h,w,3(i),3(c)]
    coef = torch.linalg.solve(sigma, rhs)  # [B,h,w,3(i),3(c)]
    a = coef.transpose(-1, -2).permute(0, 3, 4, 1, 2)  # [B,3(c),3(i),h,w]
    bias = mean_p - (a * mean_i[:, None]).sum(2)
    coeffs = torch.cat([a.reshape(b, 9, h, w), bias], 1)
    return box_mean(coeffs, radius)


def apply_local_affine(
    x: torch.Tensor,
    coeffs: torch.Tensor,
    pointwise: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Apply ``coeffs`` (``[B,12,h,w]``, from ``fit_local_affine``) to ``x`` ``[B,3,H,W]``.

    ``pointwise(x_strip)``, when given, is added (a per-pixel function of the
    input, evaluated strip by strip to bound memory). The coefficients are
    upsampled bilinearly (as ``F.interpolate`` with ``align_corners=False``):
    along the width once, along the height per strip.
    """
    b, _, big_h, big_w = x.shape
    h = coeffs.shape[-2]
    wide = F.interpolate(coeffs, size=(h, big_w), mode="bilinear", align_corners=False)
    out = torch.empty(b, 3, big_h, big_w, device=x.device, dtype=torch.float32)
    strip = max(1, STRIP_PIXELS // big_w)
    scale = h / big_h
    for r0 in range(0, big_h, strip):
        r1 = min(big_h, r0 + strip)
        rows = torch.arange(r0, r1, device=x.device, dtype=torch.float32)
        src = ((rows + 0.5) * scale - 0.5).clamp(min=0)
        y0 = src.floor().long().clamp(max=h - 1)
        y1 = (y0 + 1).clamp(max=h - 1)
        frac = (src - y0.float()).view(1, 1, -1, 1)
        c = torch.lerp(wide[:, :, y0], wide[:, :, y1], frac)  # [B,12,rows,W]
        xs = x[:, :, r0:r1].float()
        y = pointwise(xs) if pointwise is not None else torch.zeros_like(xs)
        for ch in range(3):  # y_c += A[c,0] x_0 + A[c,1] x_1 + A[c,2] x_2 + b_c, in place
            yc = y[:, ch]
            yc += c[:, 9 + ch]
            for i in range(3):
                yc.addcmul_(c[:, 3 * ch + i], xs[:, i])
        out[:, :, r0:r1] = y
    return out


def transfer(
    model: QAGAN,
    x: torch.Tensor,
    x_lo: torch.Tensor,
    out_lo: torch.Tensor,
    transform: Transform | None,
    radius: int = DEFAULT_RADIUS,
    eps: float = DEFAULT_EPS,
) -> torch.Tensor:
    """Full-resolution result from the working-resolution pair ``(x_lo, out_lo)``; unclamped.

    ``transform`` is the image's global transform (``model.global_transform``).
    """
    if transform is None or not model.config.residual_output:
        return apply_local_affine(x, fit_local_affine(x_lo, out_lo, radius, eps))

    def pointwise(t: torch.Tensor) -> torch.Tensor:
        return apply_curve(t, *transform)

    delta_lo = out_lo.float() - pointwise(x_lo.float())
    coeffs = fit_local_affine(x_lo, delta_lo, radius, eps)
    return apply_local_affine(x, coeffs, pointwise)
