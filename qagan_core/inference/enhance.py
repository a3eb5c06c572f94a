"""Enhancement (G_H) and degradation (G_L) of images of any size and number."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..devices import pick_device
from ..errors import Cancelled, QAGANError
from ..model.qagan import QAGAN
from .tiling import tiled_apply

# Above this many pixels an image is processed in tiles (a 2048x2048 VGG-19
# pass needs several GB); callers can force or disable tiling.
DEFAULT_TILE_THRESHOLD = 2048 * 2048
DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128

Images = torch.Tensor | Sequence[torch.Tensor]
ProgressFn = Callable[[int, int], None]


def _as_list(images: Images) -> tuple[list[torch.Tensor], bool]:
    if isinstance(images, torch.Tensor):
        if images.dim() == 3:
            return [images], False
        if images.dim() == 4:
            return list(images), True
        raise QAGANError(f"expected images [3,H,W] or [B,3,H,W], got shape {tuple(images.shape)}")
    return list(images), False


def _check(x: torch.Tensor) -> None:
    if x.dim() != 3 or x.shape[0] != 3:
        raise QAGANError(f"expected an RGB image [3,H,W], got shape {tuple(x.shape)}")
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise QAGANError("cannot process an empty image")


@torch.inference_mode()
def enhance_one(
    x: torch.Tensor,
    model: QAGAN,
    strength: float = 1.0,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    tile_threshold: int = DEFAULT_TILE_THRESHOLD,
    on_tile: ProgressFn | None = None,
) -> torch.Tensor:
    """Enhance one image ``[3,H,W]`` on the model's device; result on the same device as ``x``.

    ``tile``: tile size in pixels; None tiles (at ``DEFAULT_TILE``) only above
    ``tile_threshold`` pixels, 0 never tiles.
    """
    _check(x)
    device = model.device
    xd = x.to(device=device, dtype=torch.float32)[None]
    h, w = xd.shape[-2:]
    transform = model.global_transform(xd)
    if tile is None:
        tile = DEFAULT_TILE if h * w > tile_threshold else 0
    if tile and (h > tile or w > tile):
        y = tiled_apply(lambda t: model.enhance_tensor(t, transform), xd, tile, overlap, on_tile)
    else:
        y = model.enhance_tensor(xd, transform)
    y = y.clamp_(0, 1)
    if strength != 1.0:  # blend with what full strength shows
        y = xd.clamp(0, 1) + float(strength) * (y - xd.clamp(0, 1))
    return y[0].to(x.device)


def enhance(
    images: Images,
    model: QAGAN,
    strength: float = 1.0,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> torch.Tensor | list[torch.Tensor]:
    """Enhance RGB images in 0..1 with G_H; each output has its input's size.

    ``images``: ``[3,H,W]``, ``[B,3,H,W]`` or a list of ``[3,H,W]`` of any sizes;
    the result has the same form. ``strength`` blends with the input (0 = input,
    1 = full enhancement). ``progress(done, total)`` is called per image.
    """
    if not 0.0 <= float(strength) <= 1.0:
        raise QAGANError(f"strength must be between 0 and 1, got {strength}")
    items, stacked = _as_list(images)
    model.eval()
    out = []
    for i, x in enumerate(items):
        if should_stop is not None and should_stop():
            raise Cancelled(f"enhancement cancelled after {i} of {len(items)} images")
        out.append(enhance_one(x, model, strength, tile, overlap))
        if progress is not None:
            progress(i + 1, len(items))
    if isinstance(images, torch.Tensor) and images.dim() == 3:
        return out[0]
    if stacked:
        return torch.stack(out) if out else images.clone()
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
    _check(low_reference)
    items, stacked = _as_list(high_images)
    model.eval()
    device = model.device
    ref = low_reference.to(device=device, dtype=torch.float32)[None]
    rh, rw = ref.shape[-2:]
    scale = min(1.0, reference_max_side / max(rh, rw))
    if scale < 1.0:
        size = (max(16, round(rh * scale)), max(16, round(rw * scale)))
        ref = torch.nn.functional.interpolate(ref, size=size, mode="bilinear", antialias=True,
                                              align_corners=False)
    out = []
    for x in items:
        _check(x)
        y = model.degrade_tensor(x.to(device=device, dtype=torch.float32)[None], ref)
        out.append(y.clamp_(0, 1)[0].to(x.device))
    if isinstance(high_images, torch.Tensor) and high_images.dim() == 3:
        return out[0]
    return torch.stack(out) if stacked else out


def to_device(model: QAGAN, device: str | torch.device | None) -> QAGAN:
    return model.to(pick_device(device))
