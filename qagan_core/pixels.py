"""Image tensors: their value conventions, resizing, and work in strips of rows.

An image tensor ``[3,H,W]`` or ``[B,3,H,W]`` is either float (values 0..1) or
uint8 (0..255, the compact form of 8-bit photos: a quarter of float32's
memory). Functions here convert to float32 only a strip of rows at a time, so a
very large uint8 image is never copied to float as a whole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Pixels per strip of rows (per channel and image) when a whole image is converted piecewise.
STRIP_PIXELS = 1 << 18


def to_float(x: torch.Tensor) -> torch.Tensor:
    """float32 values 0..1: uint8 divided by 255, float as float32 (``x`` itself if it is)."""
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    if not x.is_floating_point():
        raise ValueError(f"expected a float or uint8 image, got {x.dtype}")
    return x.float()


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float values 0..1 as uint8 0..255, clamped and rounded (how photos are written)."""
    return x.detach().float().clamp(0, 1).mul_(255.0).round_().to(torch.uint8)


def row_strips(height: int, width: int, pixels: int = STRIP_PIXELS) -> list[tuple[int, int]]:
    """``(r0, r1)`` row ranges of at most ``pixels`` pixels (at least one row) covering ``height``."""
    rows = max(1, pixels // max(1, width))
    return [(r0, min(height, r0 + rows)) for r0 in range(0, height, rows)]


def scaled_shape(h: int, w: int, scale: float, min_side: int = 1) -> tuple[int, int]:
    """``(h, w)`` times ``scale``, rounded, each side at least ``min_side``."""
    return max(min_side, round(h * scale)), max(min_side, round(w * scale))


def long_side_shape(h: int, w: int, max_side: int, min_side: int = 1) -> tuple[int, int]:
    """``(h, w)`` downscaled so the long side is at most ``max_side`` (never upscaled)."""
    return scaled_shape(h, w, min(1.0, max_side / max(h, w)), min_side)


def resize(x: torch.Tensor, size: tuple[int, int], antialias: bool = True) -> torch.Tensor:
    """``x`` (``[3,H,W]`` or ``[B,3,H,W]``, float or uint8) resized bilinearly to ``size``; float32.

    Antialiased bilinear resizing is separable: the width is resized strip by
    strip of rows (converted to float one strip at a time), then the height, so
    the result equals ``F.interpolate`` on the whole float image, bit for bit.
    """
    batch = x if x.dim() == 4 else x[None]
    if not antialias:
        y = F.interpolate(to_float(batch), size=size, mode="bilinear", align_corners=False)
    else:
        h, w = batch.shape[-2:]
        parts = [
            F.interpolate(to_float(batch[:, :, r0:r1]), size=(r1 - r0, size[1]), mode="bilinear",
                          antialias=True, align_corners=False)
            for r0, r1 in row_strips(h, w)
        ]
        wide = parts[0] if len(parts) == 1 else torch.cat(parts, 2)
        y = F.interpolate(wide, size=size, mode="bilinear", antialias=True, align_corners=False)
    return y if x.dim() == 4 else y[0]


def thumbnail(x: torch.Tensor, side: int) -> torch.Tensor:
    """``x`` resized (antialiased, aspect ratio not kept) to ``side`` x ``side``: how the global
    colour head sees a whole photo."""
    return resize(x, (side, side))


def fit_long_side(x: torch.Tensor, max_side: int, min_side: int = 1) -> torch.Tensor:
    """``x`` (``[3,H,W]`` or ``[B,3,H,W]``) as float, downscaled (antialiased, clamped to 0..1) so
    its long side is at most ``max_side`` (each side at least ``min_side``); ``to_float(x)``
    when it already fits."""
    h, w = x.shape[-2:]
    if max_side >= max(h, w):
        return to_float(x)
    return resize(x, long_side_shape(h, w, max_side, min_side)).clamp(0, 1)
