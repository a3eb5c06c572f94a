"""Tiled processing: run a network on overlapping tiles and blend them.

Tiles overlap by ``overlap`` pixels on each side; each tile's output is
weighted by a ramp that rises linearly over the overlap, so seams blend
smoothly and the weights sum to one everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` overlapping by ``overlap``."""
    if length <= tile:
        return [0]
    stride = max(1, tile - 2 * overlap)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return sorted(set(starts))


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool, device, dtype) -> torch.Tensor:
    w = torch.ones(length, device=device, dtype=dtype)
    if overlap > 0:
        ramp = (torch.arange(overlap, device=device, dtype=dtype) + 0.5) / overlap
        if not at_start:
            w[:overlap] = ramp
        if not at_end:
            w[-overlap:] = torch.minimum(w[-overlap:], ramp.flip(0))
    return w


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    overlap: int,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply ``fn`` (``[B,C,h,w] -> [B,C',h,w]``) to ``x`` tile by tile and blend."""
    b, _, h, w = x.shape
    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    out: torch.Tensor | None = None
    weight = torch.zeros(1, 1, h, w, device=x.device, dtype=x.dtype)
    count, total = 0, len(ys) * len(xs)
    for y0 in ys:
        wy = _ramp(th, min(overlap, th // 2), y0 == 0, y0 + th >= h, x.device, x.dtype)
        for x0 in xs:
            wx = _ramp(tw, min(overlap, tw // 2), x0 == 0, x0 + tw >= w, x.device, x.dtype)
            piece = fn(x[:, :, y0 : y0 + th, x0 : x0 + tw])
            if out is None:
                out = torch.zeros(b, piece.shape[1], h, w, device=x.device, dtype=piece.dtype)
            m = (wy[:, None] * wx[None, :])[None, None]
            out[:, :, y0 : y0 + th, x0 : x0 + tw] += piece * m
            weight[:, :, y0 : y0 + th, x0 : x0 + tw] += m
            count += 1
            if on_tile is not None:
                on_tile(count, total)
    assert out is not None
    return out / weight
