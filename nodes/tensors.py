"""ComfyUI IMAGE tensors ``[B, H, W, C]`` ↔ qagan_core's RGB images ``[3, H, W]``.

Defined behaviour for the inputs ComfyUI can hand a node:
- RGB (C=3): used as is.
- RGBA (C=4): the RGB channels are processed; the alpha channel is passed
  through unchanged, so the output is RGBA too.
- Single-channel (C=1): replicated to RGB; the output is RGB (C=3).
- An empty batch (B=0) gives an empty batch of the same height and width.
- A Python list of IMAGE tensors (images of different sizes) gives a list,
  each image processed at its own size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..qagan_core import QAGANError

Split = tuple[torch.Tensor, torch.Tensor | None]


def split(image: torch.Tensor) -> list[Split]:
    """``[B,H,W,C]`` (or ``[H,W,C]``) → per image (RGB ``[3,H,W]``, alpha ``[1,H,W]`` or None)."""
    if image.dim() == 3:
        image = image[None]
    if image.dim() != 4:
        raise QAGANError(f"expected an IMAGE tensor [B,H,W,C], got shape {tuple(image.shape)}")
    channels = image.shape[-1]
    if channels not in (1, 3, 4):
        raise QAGANError(f"expected 1, 3 or 4 colour channels, got {channels}")
    out: list[Split] = []
    for item in image.float():
        chw = item.permute(2, 0, 1)
        if channels == 1:
            out.append((chw.expand(3, -1, -1).contiguous(), None))
        elif channels == 4:
            out.append((chw[:3].contiguous(), chw[3:].contiguous()))
        else:
            out.append((chw.contiguous(), None))
    return out


def join(items: list[Split]) -> torch.Tensor:
    """Per-image (RGB, alpha) of one size → ``[B,H,W,C]`` on the CPU."""
    return torch.stack([_hwc(rgb, alpha) for rgb, alpha in items])


def _hwc(rgb: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    rgb = rgb.detach().float().cpu()
    if alpha is not None:
        rgb = torch.cat([rgb, alpha.detach().float().cpu()], dim=0)
    return rgb.permute(1, 2, 0).contiguous()


def empty_like(image: torch.Tensor, channels: int) -> torch.Tensor:
    """An empty batch ``[0,H,W,channels]`` matching ``image``'s height and width."""
    return torch.zeros((0, *image.shape[1:3], channels), dtype=torch.float32)


def out_channels(image: torch.Tensor) -> int:
    return 4 if image.shape[-1] == 4 else 3


def map_images(
    images: torch.Tensor | list[torch.Tensor],
    fn: Callable[[list[Split]], list[torch.Tensor]],
) -> torch.Tensor | list[torch.Tensor]:
    """Apply ``fn`` (a list of RGB images → same-size RGB results) to an IMAGE or a list of IMAGEs."""
    if isinstance(images, (list, tuple)):
        return [_map_one(img, fn) for img in images]
    return _map_one(images, fn)


def _map_one(image: torch.Tensor, fn: Callable[[list[Split]], list[torch.Tensor]]) -> torch.Tensor:
    if image.dim() == 4 and image.shape[0] == 0:
        return empty_like(image, out_channels(image))
    items = split(image)
    results = fn(items)
    return join([(y, alpha) for y, (_, alpha) in zip(results, items, strict=True)])


def to_comfy(rgb: torch.Tensor) -> torch.Tensor:
    """One RGB ``[3,H,W]`` → IMAGE ``[1,H,W,3]``."""
    return _hwc(rgb, None)[None]
