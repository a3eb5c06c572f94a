"""Enhancement (G_H) and degradation (G_L) of images of any size and number.

Modes of ``enhance`` (see ``resolve_mode``):

- ``"exact"``: G_H at full resolution; images larger than the tile size are
  processed in overlapping, 16-aligned tiles (``tiling.py``) that reproduce the
  untiled result (mean absolute difference far below 1/255 at the default
  overlap). The tile size follows the free device memory (``memory.py``) unless
  given, and shrinks automatically on an out-of-memory error.
- ``"fast"``: G_H at a working resolution (long side ``working_size``), the
  enhancement transferred to full resolution by a local affine colour
  transform (``fast.py``); keeps every full-resolution pixel of detail.
- ``"auto"`` (default): fast when the long side exceeds ``working_size``, else exact.

Progress inside one image (``enhance(on_step=...)``): the global transform, then
every tile of a tiled pass, or every encoder and decoder stage of an untiled one
(forward hooks, so the model code is untouched), then, in fast mode, the transfer
to full resolution. A single photo of a few megapixels takes tens of seconds on a
CPU, so a host's progress bar moves during it; cancellation is polled at each of
these steps too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from ..devices import is_out_of_memory
from ..encoder import FEATURE_NAMES
from ..errors import Cancelled, QAGANError
from ..model.qagan import QAGAN, Transform
from ..pixels import fit_long_side, long_side_shape, resize, row_strips, to_float, to_uint8
from .fast import DEFAULT_EPS, DEFAULT_RADIUS, DEFAULT_WORKING_SIZE, transfer
from .memory import (
    AUTO_PASS_PIXELS,
    BYTES_PER_PIXEL,
    estimate_bytes,
    memory_budget,
    module_bytes,
    run_with_oom_retry,
    tile_for_memory,
)
from .tiling import ALIGN, RowSink, collect_rows, tiled_rows

log = logging.getLogger("qagan")
T = TypeVar("T")

MODES = ("auto", "exact", "fast")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# Overlap (pixels per side) between tiles in exact mode. Measured with the
# random encoder and a perturbed G_H on 600x440 photos (tile 320): tiled vs
# untiled mean abs. difference x255 = 0.006-0.008 at 16, 0.004 at 32, 0.002 at 48,
# 0.001 at 64 (max 0.03/255), so 64 leaves a wide margin below 1/255 for
# trained networks that lean more on the deep (wide receptive field) features.
DEFAULT_OVERLAP = 64
MAX_BATCH = 8

Images = torch.Tensor | Sequence[torch.Tensor]
ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]
# ``on_step(done, total, stage)``: progress of a whole ``enhance`` call, STEP_UNITS per image.
StepFn = Callable[[int, int, str], None]
# ``on_part(done, total, label)``: a tile, or a stage of an untiled network pass, has finished.
PartFn = Callable[[int, int, str], None]
STEP_UNITS = 1000
# Share of one image's progress reached after the global transform, and after the network
# pass in fast mode (the rest is the transfer to full resolution).
GLOBAL_SHARE = 0.1
FAST_NETWORK_SHARE = 0.7


def _as_list(images: Images) -> tuple[list[torch.Tensor], bool]:
    if isinstance(images, torch.Tensor):
        if images.dim() == 3:
            return [images], False
        if images.dim() == 4:
            return list(images), True
        raise QAGANError(f"expected images [3,H,W] or [B,3,H,W], got shape {tuple(images.shape)}")
    return list(images), False


def _checked(x: torch.Tensor) -> torch.Tensor:
    """``x`` if it is a usable RGB image (float, or uint8 for 0..255); non-finite pixels (a float
    TIFF's NaN or inf) are replaced, with a warning: NaN and -inf by 0, +inf by 1."""
    if x.dim() != 3 or x.shape[0] != 3:
        raise QAGANError(f"expected an RGB image [3,H,W], got shape {tuple(x.shape)}")
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise QAGANError("cannot process an empty image")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise QAGANError(f"expected a float or uint8 image, got {x.dtype}")
    bad = sum(int((~torch.isfinite(x[:, r0:r1])).sum()) for r0, r1 in row_strips(*x.shape[1:]))
    if bad:
        log.warning("image has %d non-finite pixel values (NaN or inf): replaced by 0 (NaN, -inf) "
                    "and 1 (+inf)", bad)
        x = torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0)
    return x


def resolve_mode(mode: str, height: int, width: int, working_size: int = DEFAULT_WORKING_SIZE) -> str:
    """``"exact"`` or ``"fast"`` for an image of this size."""
    if mode not in MODES:
        raise QAGANError(f"unknown enhancement mode {mode!r} (use one of {', '.join(MODES)})")
    if mode == "auto":
        return "fast" if max(height, width) > working_size else "exact"
    return mode


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Compute dtype for the network: float32 on CPU/MPS; on CUDA, bfloat16 for ``"auto"``.

    bfloat16 autocast costs nothing visible: 65.8 dB PSNR against float32
    (BENCHMARKS.md; measured with CPU autocast, no GPU was available). The
    global colour transform, tile blending and transfer stay float32.
    """
    if precision not in PRECISIONS:
        raise QAGANError(f"unknown precision {precision!r} (use one of {', '.join(PRECISIONS)})")
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[precision]


def prepare_model(model: QAGAN) -> QAGAN:
    """Eval mode and channels-last weights (faster convolutions with oneDNN and cuDNN); in place."""
    model.eval()
    first = model.encoder.features[0].weight
    if not first.is_contiguous(memory_format=torch.channels_last):
        model.to(memory_format=torch.channels_last)
    return model


def network_stages(model: QAGAN) -> list[tuple[str, torch.nn.Module]]:
    """(label, module) for each stage of one G_H pass whose end is reported: the encoder's five
    slices (up to relu1_1 ... relu5_1) and G_H's four decoder blocks."""
    encoder, g_h = model.encoder, model.g_h
    stages = [(f"encode {name}", encoder.features[rng[-1]])
              for name, rng in zip(FEATURE_NAMES, encoder.slices, strict=True)]
    blocks = [g_h.dec4, g_h.dec3, g_h.dec2, g_h.dec1]
    return stages + [(f"decode {k + 1}/{len(blocks)}", b) for k, b in enumerate(blocks)]


def _with_stage_reports(model: QAGAN, fn: Callable[[], T], on_part: PartFn | None) -> T:
    """``fn()`` with ``on_part(k, n, label)`` called as each of the ``network_stages`` finishes."""
    stages = network_stages(model) if on_part is not None else []
    handles = []
    for k, (label, module) in enumerate(stages):
        def hook(_module: object, _inputs: object, _output: object, k: int = k, label: str = label) -> None:
            assert on_part is not None
            on_part(k + 1, len(stages), label)

        handles.append(module.register_forward_hook(hook))
    try:
        return fn()
    finally:
        for handle in handles:
            handle.remove()


def run_network_rows(
    model: QAGAN,
    x: torch.Tensor,
    transform: Transform | None,
    emit: RowSink,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    dtype: torch.dtype = torch.float32,
    on_part: PartFn | None = None,
    reserved: int = 0,
) -> None:
    """G_H on ``x`` ``[B,3,H,W]`` (float or uint8, on the model's device) at full resolution; the
    float32, unclamped result is emitted by bands of rows (``emit(r0, r1, rows)``).

    ``tile``: None = untiled when the pass fits the memory budget (``reserved``:
    bytes of full-size buffers already held), else the largest square tile that
    does; 0 = untiled. On out-of-memory the pass is retried with tiles half as
    large, down to the minimum tile. ``on_part(done, total, label)`` is called after
    each tile (label ``"tile k/n"``), or after each stage of an untiled pass
    (``network_stages``).
    """
    b, _, h, w = x.shape
    untiled = max(h, w) + (-max(h, w)) % ALIGN  # a "tile" holding the whole image
    if tile is None:
        budget = memory_budget(x.device, reserved=reserved) // b
        fits = h * w * BYTES_PER_PIXEL.get(dtype, BYTES_PER_PIXEL[torch.float32]) <= budget
        tile = untiled if fits else tile_for_memory(budget, dtype)
    elif tile == 0:
        tile = untiled

    def net(t: torch.Tensor) -> torch.Tensor:
        t = to_float(t).contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            return model.enhance_tensor(t, transform).float()

    def tile_done(count: int, total: int) -> None:
        if on_part is not None:
            on_part(count, total, f"tile {count}/{total}")

    def attempt(size: int) -> None:
        if h <= size and w <= size:
            emit(0, h, _with_stage_reports(model, lambda: net(x), on_part))
        else:
            tiled_rows(net, x, size, overlap, emit, tile_done)

    run_with_oom_retry(attempt, tile)


def run_network(
    model: QAGAN,
    x: torch.Tensor,
    transform: Transform | None,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    dtype: torch.dtype = torch.float32,
    on_part: PartFn | None = None,
    reserved: int = 0,
) -> torch.Tensor:
    """``run_network_rows`` collected into one float32 tensor ``[B,3,H,W]``."""
    return collect_rows(lambda emit: run_network_rows(model, x, transform, emit, tile, overlap, dtype,
                                                      on_part, reserved), x.shape[-2])


def _storage_bytes(x: torch.Tensor) -> int:
    return x.untyped_storage().nbytes()


def _enhance_batch(
    x: torch.Tensor,
    model: QAGAN,
    strength: float,
    mode: str,
    tile: int | None,
    overlap: int,
    working_size: int,
    dtype: torch.dtype,
    on_stage: Callable[[float, str], None],
    out_dtype: torch.dtype,
) -> torch.Tensor:
    """Enhance ``x`` ``[B,3,H,W]`` (float or uint8) already on the model's device; clamped result
    of ``out_dtype`` (float32, or uint8 rounded as photos are written).

    The result is produced strip by strip of rows into a buffer of its own
    dtype: besides the input and that buffer, nothing of the image's full size
    is allocated (fast mode and tiled exact mode). ``on_stage(fraction, label)`` is called as
    each step finishes, with the fraction of this batch's work done (module docstring).
    """
    h, w = x.shape[-2:]
    out = torch.empty(x.shape, dtype=out_dtype, device=x.device)
    reserved = _storage_bytes(x) + _storage_bytes(out)

    def finish(r0: int, r1: int, y: torch.Tensor) -> None:
        y = y.clamp_(0, 1)
        if strength != 1.0:  # blend with what full strength shows
            xc = to_float(x[:, :, r0:r1]).clamp(0, 1)
            y = xc + float(strength) * (y - xc)
        out[:, :, r0:r1] = to_uint8(y) if out_dtype == torch.uint8 else y

    def parts(start: float, end: float) -> PartFn:
        def on_part(done: int, total: int, label: str) -> None:
            on_stage(start + (end - start) * done / max(1, total), label)
        return on_part

    transform = model.global_transform(x)
    on_stage(GLOBAL_SHARE, "global transform")
    if resolve_mode(mode, h, w, working_size) == "exact":
        run_network_rows(model, x, transform, finish, tile, overlap, dtype, parts(GLOBAL_SHARE, 1.0),
                         reserved)
        on_stage(1.0, "network")
    else:
        x_lo = resize(x, long_side_shape(h, w, working_size))
        y_lo = run_network(model, x_lo, transform, tile, overlap, dtype,
                           parts(GLOBAL_SHARE, FAST_NETWORK_SHARE), reserved)
        on_stage(FAST_NETWORK_SHARE, "network at working size")
        transfer(model, x, x_lo, y_lo, transform, finish, DEFAULT_RADIUS, DEFAULT_EPS)
        on_stage(1.0, "transfer to full resolution")
    return out


def _batch_size(model: QAGAN, h: int, w: int, mode: str, working_size: int, dtype: torch.dtype) -> int:
    """How many images of this size go through the network together.

    1 on the CPU, where batching measured no faster (BENCHMARKS.md, 512x512) and
    costs memory; on accelerators, as many as the memory budget holds (up to 8).
    """
    if model.device.type == "cpu" or resolve_mode(mode, h, w, working_size) != "exact":
        return 1
    per_image = BYTES_PER_PIXEL.get(dtype, BYTES_PER_PIXEL[torch.float32]) * h * w
    return max(1, min(MAX_BATCH, memory_budget(model.device) // per_image))


def memory_required(
    model: QAGAN,
    height: int,
    width: int,
    mode: str = "auto",
    tile: int | None = None,
    working_size: int = DEFAULT_WORKING_SIZE,
    precision: str = "auto",
    device: torch.device | None = None,
) -> int:
    """Estimated bytes ``enhance`` needs on ``device`` (default: the model's) for one image of
    ``height`` x ``width``: the model's weights, the image's input and result buffers and one
    network pass (``memory.estimate_bytes``): of the given tile, of the working-size image in
    fast mode, else of the whole image up to ``AUTO_PASS_PIXELS`` (an automatic tile follows
    the memory actually free). What a host frees before the run (ComfyUI's ``free_memory``).
    """
    device = device if device is not None else model.device
    dtype = autocast_dtype(precision, device)
    if resolve_mode(mode, height, width, working_size) == "fast":
        lo_h, lo_w = long_side_shape(height, width, working_size)
        pixels = lo_h * lo_w
    else:
        pixels = height * width
    if tile:
        pixels = min(pixels, tile * tile)
    elif tile is None:
        pixels = min(pixels, AUTO_PASS_PIXELS)
    return estimate_bytes(pixels, height * width, dtype, module_bytes(model))


def enhance(
    images: Images,
    model: QAGAN,
    strength: float = 1.0,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    mode: str = "auto",
    working_size: int = DEFAULT_WORKING_SIZE,
    batch_size: int | None = None,
    precision: str = "auto",
    out_dtype: torch.dtype = torch.float32,
    on_step: StepFn | None = None,
) -> torch.Tensor | list[torch.Tensor]:
    """Enhance RGB images with G_H; each output has its input's size.

    ``images``: ``[3,H,W]``, ``[B,3,H,W]`` or a list of ``[3,H,W]`` of any sizes,
    float in 0..1 or uint8 in 0..255 (converted to float a tile or strip at a
    time, so a very large photo is never held as float); the result has the same
    form, float32 in 0..1, or uint8 with ``out_dtype=torch.uint8`` (rounded as
    ``save_image`` rounds). ``strength`` blends with the input (0 = input,
    1 = full enhancement). ``mode``: ``"auto"``, ``"exact"`` or ``"fast"`` (module
    docstring); ``working_size``: long side of the network pass in fast mode and
    the size above which auto switches to fast. ``tile``: None = from free
    memory, 0 = untiled. ``batch_size``: images of one size per network pass
    (None = 1 on CPU, else from free memory up to 8). ``precision``: ``"auto"`` (bfloat16 on
    CUDA, else float32), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
    ``progress(done, total)`` is called per image. ``on_step(done, total, stage)``
    reports progress inside each image: ``total`` is ``STEP_UNITS`` per image,
    ``done`` never decreases, and it is called after the global transform, after
    each tile (``stage`` ``"tile k/n"``) or each encoder/decoder stage of an untiled
    pass, and after the transfer in fast mode (module docstring). ``should_stop()``
    is polled per batch, per tile and per stage and raises ``Cancelled``.
    """
    if out_dtype not in (torch.float32, torch.uint8):
        raise QAGANError(f"out_dtype must be torch.float32 or torch.uint8, got {out_dtype}")
    if not 0.0 <= float(strength) <= 1.0:
        raise QAGANError(f"strength must be between 0 and 1, got {strength}")
    if working_size < 16:
        raise QAGANError(f"working_size must be at least 16, got {working_size}")
    items, stacked = _as_list(images)
    items = [_checked(x) for x in items]
    if not items:
        return images.clone() if isinstance(images, torch.Tensor) else []
    resolve_mode(mode, 1, 1, working_size)
    prepare_model(model)
    device = model.device
    dtype = autocast_dtype(precision, device)

    def check_stop(done: int) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled(f"enhancement cancelled after {done} of {len(items)} images")

    out: list[torch.Tensor] = []
    reported = [0]  # the last ``done`` given to on_step
    with torch.inference_mode():
        i = 0
        while i < len(items):
            check_stop(i)
            h, w = items[i].shape[-2:]
            limit = batch_size or _batch_size(model, h, w, mode, working_size, dtype)
            j = i + 1
            while (j < len(items) and j - i < limit and items[j].shape == items[i].shape
                   and items[j].dtype == items[i].dtype):
                j += 1
            if j == i + 1:  # no copy of a single (possibly huge) image already on the device
                x = items[i].to(device=device)[None]
            else:
                x = torch.stack([t.to(device=device) for t in items[i:j]])

            def on_stage(fraction: float, stage: str, first: int = i, count: int = j - i) -> None:
                check_stop(first)
                if on_step is not None:
                    units = first * STEP_UNITS + round(count * STEP_UNITS * min(1.0, fraction))
                    reported[0] = max(reported[0], units)  # a retry with smaller tiles never goes back
                    on_step(reported[0], len(items) * STEP_UNITS, stage)

            y = _enhance_batch(x, model, strength, mode, tile, overlap, working_size, dtype, on_stage,
                               out_dtype)
            out.extend(yk.to(items[i + k].device) for k, yk in enumerate(y))
            i = j
            if progress is not None:
                progress(i, len(items))
    if isinstance(images, torch.Tensor) and images.dim() == 3:
        return out[0]
    if stacked:
        return torch.stack(out)
    return out


@torch.inference_mode()
def degrade(
    high_images: Images,
    low_reference: torch.Tensor,
    model: QAGAN,
    reference_max_side: int = 512,
) -> torch.Tensor | list[torch.Tensor]:
    """G_L: render high-quality images with the look of a low-quality reference.

    The reference ``[3,h,w]`` is downscaled to ``reference_max_side`` (its
    statistics are what matters, and attention cost grows with its size).
    """
    low_reference = _checked(low_reference)
    items, stacked = _as_list(high_images)
    model.eval()
    device = model.device
    ref = fit_long_side(low_reference.to(device=device, dtype=torch.float32)[None],
                        reference_max_side, min_side=16)
    out = []
    for x in items:
        x = _checked(x)
        try:
            y = model.degrade_tensor(x.to(device=device, dtype=torch.float32)[None], ref)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            raise QAGANError(
                f"out of memory degrading a {x.shape[2]}x{x.shape[1]} image on {device}: G_L runs on "
                "the whole image, so downscale it first"
            ) from exc
        out.append(y.clamp_(0, 1)[0].to(x.device))
    if isinstance(high_images, torch.Tensor) and high_images.dim() == 3:
        return out[0]
    return torch.stack(out) if stacked else out
