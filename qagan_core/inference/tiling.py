"""Tiled processing: run a network on overlapping tiles and blend them.

Geometry (per axis). The image is first padded to a multiple of ``align``
(16, the encoder's total down-sampling) exactly as an untiled pass pads it, and
tile sizes, strides and start offsets are multiples of ``align`` as well, so
every tile sees the same max-pooling grid as the untiled pass. Adjacent tiles
share a band of ``2 * overlap`` pixels (stride = ``tile - 2 * overlap``).

Tile lengths are balanced per axis (``balanced_tile``) so the tiles split the
image evenly instead of the last one repeating most of its neighbour.

Padding is applied per tile (the rows and columns beyond the image edge are
looked up, not copied into a padded image), and the blend is accumulated one
band of tiles at a time, each band's finished rows handed on (``tiled_rows``):
the input is never copied and no full-size buffer is allocated.

Blending. A tile's outputs near its edges are wrong (the network sees zero
padding instead of the neighbouring pixels), so each tile's weight along an
axis is ``clamp((d - overlap / 2) / overlap, 0, 1)`` where ``d`` is the
distance to its nearest edge that is not an image border: the outermost
``overlap / 2`` pixels are discarded and the next ``overlap`` pixels are
cross-faded linearly with the neighbour (the two ramps sum to one). Every kept
pixel therefore has at least ``overlap / 2`` pixels of real context, and every
fully weighted pixel at least ``1.5 * overlap``. The output is divided by the
summed weights, which also covers the last tile (aligned to the image end,
with a larger overlap).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ALIGN = 16
MIN_TILE = 64

# Receives finished rows ``r0 .. r1`` of a result: ``emit(r0, r1, rows)``, rows ``[B,C,r1-r0,W]``.
RowSink = Callable[[int, int, torch.Tensor], None]


def round_down(value: int, multiple: int) -> int:
    return (value // multiple) * multiple


def tile_starts(length: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` sharing ``2 * overlap`` pixels.

    With ``align`` > 1 (and ``tile``, ``length`` multiples of it), every start is a
    multiple of ``align``.
    """
    if length <= tile:
        return [0]
    stride = max(align, round_down(tile - 2 * overlap, align))
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return sorted(set(starts))


def balanced_tile(length: int, tile: int, overlap: int, align: int = 1) -> int:
    """Tile length along an axis: as many tiles as ``tile`` needs, but shrunk to split evenly.

    Avoids a last tile that mostly repeats its neighbour (4000 px with 976-px
    tiles: 5 tiles of 912 px instead of 5 of 976 px). Up to ``align - 1`` pixels
    above ``tile`` when ``overlap`` is not a multiple of ``align / 2``.
    """
    if length <= tile:
        return length
    inner = length - 2 * overlap
    count = -(-inner // max(1, tile - 2 * overlap))
    stride = -(-inner // count)
    stride += (-stride) % align
    size = stride + 2 * overlap
    size += (-size) % align
    return min(length, size)


def _axis_weight(length: int, overlap: int, at_start: bool, at_end: bool, device, dtype) -> torch.Tensor:
    """Blend weight along one axis of a tile (see the module docstring)."""
    d = torch.arange(length, device=device, dtype=torch.float32) + 0.5
    w = torch.ones(length, device=device, dtype=torch.float32)
    if overlap > 0:
        ramp_in = ((d - overlap / 2) / overlap).clamp(0, 1)
        if not at_start:
            w = torch.minimum(w, ramp_in)
        if not at_end:
            w = torch.minimum(w, ramp_in.flip(0))
    return w.to(dtype)


def _source_index(length: int, padded: int, mode: str, device: torch.device) -> torch.Tensor:
    """For each index along an axis padded from ``length`` to ``padded``, the index it copies
    (as ``F.pad`` with ``mode`` "reflect" or "replicate" at the end of the axis)."""
    idx = torch.arange(padded, device=device)
    if mode == "reflect":
        return torch.where(idx < length, idx, 2 * (length - 1) - idx)
    return idx.clamp(max=length - 1)


def collect_rows(run: Callable[[RowSink], None], height: int) -> torch.Tensor:
    """The tensor that ``run(emit)`` emits strip by strip of rows, stitched together."""
    out: torch.Tensor | None = None

    def emit(r0: int, r1: int, rows: torch.Tensor) -> None:
        nonlocal out
        if out is None:
            out = rows.new_empty((*rows.shape[:2], height, rows.shape[-1]))
        out[:, :, r0:r1] = rows

    run(emit)
    assert out is not None
    return out


def tiled_rows(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    overlap: int,
    emit: RowSink,
    on_tile: Callable[[int, int], None] | None = None,
    align: int = ALIGN,
) -> None:
    """Apply ``fn`` (``[B,C,h,w] -> [B,C',h,w]`` float) to ``x`` tile by tile and blend; each band
    of rows is emitted (``emit(r0, r1, rows)``, float32) as soon as no later tile touches it.

    Only one band of tiles is held: the padding is applied tile by tile and the
    blend is accumulated per band, so nothing of the image's full size is
    allocated. ``tile`` is rounded down to a multiple of ``align`` (at least
    ``MIN_TILE``) and ``overlap`` is limited to a quarter of the tile, so tiles
    always advance and every pixel gets a positive weight.
    """
    b, _, h, w = x.shape
    ph, pw = (-h) % align, (-w) % align
    mode = "reflect" if ph < h and pw < w else "replicate"
    hp, wp = h + ph, w + pw
    rows_from = _source_index(h, hp, mode, x.device)
    cols_from = _source_index(w, wp, mode, x.device)
    tile = max(MIN_TILE, round_down(tile, align))
    overlap = max(0, min(overlap, tile // 4))
    th, tw = balanced_tile(hp, tile, overlap, align), balanced_tile(wp, tile, overlap, align)
    ys, xs = tile_starts(hp, th, overlap, align), tile_starts(wp, tw, overlap, align)
    acc: torch.Tensor | None = None  # blended outputs of padded rows y0 .. y0 + th
    weight = torch.zeros(1, 1, th, wp, device=x.device, dtype=torch.float32)
    count, total = 0, len(ys) * len(xs)
    for k, y0 in enumerate(ys):
        wy = _axis_weight(th, overlap, y0 == 0, y0 + th >= hp, x.device, torch.float32)
        band = x.index_select(2, rows_from[y0 : y0 + th])
        for x0 in xs:
            wx = _axis_weight(tw, overlap, x0 == 0, x0 + tw >= wp, x.device, torch.float32)
            piece = fn(band.index_select(3, cols_from[x0 : x0 + tw]))
            if acc is None:
                acc = torch.zeros(b, piece.shape[1], th, wp, device=x.device, dtype=torch.float32)
            m = (wy[:, None] * wx[None, :])[None, None]
            acc[:, :, :, x0 : x0 + tw] += piece.float() * m
            weight[:, :, :, x0 : x0 + tw] += m
            count += 1
            if on_tile is not None:
                on_tile(count, total)
        assert acc is not None
        done = (ys[k + 1] if k + 1 < len(ys) else hp) - y0  # rows no later tile touches
        kept = min(h, y0 + done) - y0
        emit(y0, y0 + kept, (acc[:, :, :kept] / weight[:, :, :kept])[..., :w])
        acc = torch.cat([acc[:, :, done:], acc.new_zeros(b, acc.shape[1], done, wp)], 2)
        weight = torch.cat([weight[:, :, done:], weight.new_zeros(1, 1, done, wp)], 2)


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    overlap: int,
    on_tile: Callable[[int, int], None] | None = None,
    align: int = ALIGN,
) -> torch.Tensor:
    """``tiled_rows`` collected into one float32 tensor ``[B,C',H,W]``."""
    return collect_rows(lambda emit: tiled_rows(fn, x, tile, overlap, emit, on_tile, align), x.shape[-2])
