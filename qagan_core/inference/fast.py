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
   full-resolution pixels, in strips of rows to bound memory (the input may be
   uint8: each strip is converted to float when it is reached).

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

from ..model.qagan import QAGAN, Transform
from ..pixels import row_strips, to_float
from .tiling import RowSink, collect_rows

DEFAULT_WORKING_SIZE = 1024
DEFAULT_RADIUS = 2
DEFAULT_EPS = 1e-3
# Pixels per strip of rows when applying the coefficients at full resolution.
STRIP_PIXELS = 1 << 16


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


def apply_local_affine_rows(
    x: torch.Tensor,
    coeffs: torch.Tensor,
    emit: RowSink,
    pointwise: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """Apply ``coeffs`` (``[B,12,h,w]``, from ``fit_local_affine``) to ``x`` ``[B,3,H,W]`` (float or
    uint8), strip by strip of rows: ``emit(r0, r1, rows)`` receives each float32 result strip.

    ``pointwise(x_strip)``, when given, is added (a per-pixel function of the
    input). The coefficients are upsampled bilinearly (as ``F.interpolate`` with
    ``align_corners=False``): for each strip, the coefficient rows it needs along
    the width, then along the height.
    """
    big_h, big_w = x.shape[-2:]
    h = coeffs.shape[-2]
    scale = h / big_h
    for r0, r1 in row_strips(big_h, big_w, STRIP_PIXELS):
        rows = torch.arange(r0, r1, device=x.device, dtype=torch.float32)
        src = ((rows + 0.5) * scale - 0.5).clamp(min=0)
        y0 = src.floor().long().clamp(max=h - 1)
        y1 = (y0 + 1).clamp(max=h - 1)
        frac = (src - y0.float()).view(1, 1, -1, 1)
        first, last = int(y0[0]), int(y1[-1]) + 1
        wide = F.interpolate(coeffs[:, :, first:last], size=(last - first, big_w), mode="bilinear",
                             align_corners=False)
        c = torch.lerp(wide[:, :, y0 - first], wide[:, :, y1 - first], frac)  # [B,12,rows,W]
        xs = to_float(x[:, :, r0:r1])
        y = pointwise(xs) if pointwise is not None else torch.zeros_like(xs)
        for ch in range(3):  # y_c += A[c,0] x_0 + A[c,1] x_1 + A[c,2] x_2 + b_c, in place
            yc = y[:, ch]
            yc += c[:, 9 + ch]
            for i in range(3):
                yc.addcmul_(c[:, 3 * ch + i], xs[:, i])
        emit(r0, r1, y)


def apply_local_affine(
    x: torch.Tensor,
    coeffs: torch.Tensor,
    pointwise: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``apply_local_affine_rows`` collected into one float32 tensor ``[B,3,H,W]``."""
    return collect_rows(lambda emit: apply_local_affine_rows(x, coeffs, emit, pointwise), x.shape[-2])


def transfer(
    model: QAGAN,
    x: torch.Tensor,
    x_lo: torch.Tensor,
    out_lo: torch.Tensor,
    transform: Transform | None,
    emit: RowSink,
    radius: int = DEFAULT_RADIUS,
    eps: float = DEFAULT_EPS,
) -> None:
    """The full-resolution result from the working-resolution pair ``(x_lo, out_lo)``, unclamped,
    emitted strip by strip of rows (``emit(r0, r1, rows)``).

    ``transform`` is the image's global transform (``model.global_transform``);
    G_H's pointwise part (``GeneratorH.pointwise``) is applied exactly at full
    resolution and only the rest of the change is transferred.
    """
    base_lo = model.g_h.pointwise(x_lo.float(), transform)
    if base_lo is None:
        apply_local_affine_rows(x, fit_local_affine(x_lo, out_lo, radius, eps), emit)
        return
    coeffs = fit_local_affine(x_lo, out_lo.float() - base_lo, radius, eps)

    def pointwise(t: torch.Tensor) -> torch.Tensor:
        base = model.g_h.pointwise(t, transform)
        assert base is not None
        return base

    apply_local_affine_rows(x, coeffs, emit, pointwise)
