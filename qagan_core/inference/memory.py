"""Memory-bounded inference: tile size from available memory, retry on out-of-memory.

The network's working memory grows linearly with the pixels it sees at once:
VGG-19's relu1_1 and conv1_2 maps alone are 2 x 64 float32 values per pixel,
and G_H's last decoder stage concatenates 128 more channels. Measured peak
resident memory of one ``enhance_tensor`` call on CPU (float32, inference
mode) is about 1.8-2.3 kB per pixel; ``BYTES_PER_PIXEL`` adds a margin.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TypeVar

import torch

from ..devices import is_out_of_memory
from ..errors import QAGANError
from .tiling import ALIGN, MIN_TILE, round_down

BYTES_PER_PIXEL = {torch.float32: 2600, torch.float16: 1500, torch.bfloat16: 1500}
# Share of the free memory a tile may use, and hard caps (bytes) on a pass plus the image's
# full-size buffers, so that a machine with lots of free memory still runs a bounded tile. On
# the CPU, 2 GiB keeps the whole command under 3 GB for photos up to images.MAX_PIXELS
# (BENCHMARKS.md, "Reliability: peak memory") and still runs 1024x768 untiled.
MEMORY_FRACTION = {"cuda": 0.6, "cpu": 0.4}
MEMORY_CAP = {"cuda": 24 * 2**30, "cpu": 2**31}
MAX_TILE = 2048
FALLBACK_AVAILABLE = 4 * 2**30
# Pixels of the network pass assumed by ``estimate_bytes`` when the tile is automatic: the pass
# then follows the memory actually free, so a host need not free room for a whole large photo.
AUTO_PASS_PIXELS = 1024 * 1024

T = TypeVar("T")



def available_memory(device: torch.device) -> int:
    """Free memory in bytes on ``device``: CUDA's free device memory, else free RAM."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return FALLBACK_AVAILABLE


def tile_for_memory(budget_bytes: int, dtype: torch.dtype = torch.float32) -> int:
    """Largest square tile (multiple of 16, ``MIN_TILE``..``MAX_TILE``) whose pass fits ``budget_bytes``."""
    per_pixel = BYTES_PER_PIXEL.get(dtype, BYTES_PER_PIXEL[torch.float32])
    side = math.isqrt(max(0, int(budget_bytes)) // per_pixel)
    return max(MIN_TILE, min(MAX_TILE, round_down(side, ALIGN)))


def memory_budget(device: torch.device, available: int | None = None, reserved: int = 0) -> int:
    """Bytes one network pass may use on ``device`` (``available`` is injectable for tests).

    ``reserved``: bytes the image's full-size buffers (input, result) already take
    on the device; they count against the cap, which bounds the two together.
    """
    kind = "cuda" if device.type == "cuda" else "cpu"
    if available is None:
        available = available_memory(device)
    return int(max(0, min(available * MEMORY_FRACTION[kind], MEMORY_CAP[kind] - reserved)))


def module_bytes(module: torch.nn.Module) -> int:
    """Bytes of a module's parameters and buffers (its weights on the device)."""
    return sum(t.nbytes for t in module.state_dict().values())


def estimate_bytes(
    pass_pixels: int,
    image_pixels: int = 0,
    dtype: torch.dtype = torch.float32,
    weights: int = 0,
    image_bytes_per_pixel: int = 3 * (4 + 4),
) -> int:
    """Device memory an enhancement needs: ``weights`` (``module_bytes`` of the model), one
    network pass of ``pass_pixels`` (``BYTES_PER_PIXEL``) and the image's full-size input and
    result buffers (``image_pixels``, float32 in and out by default)."""
    per_pixel = BYTES_PER_PIXEL.get(dtype, BYTES_PER_PIXEL[torch.float32])
    return int(weights + pass_pixels * per_pixel + image_pixels * image_bytes_per_pixel)


def out_of_memory_message(what: str, device: torch.device | str | None = None) -> str:
    """The one message for an out-of-memory failure: what failed, and what to do."""
    where = f" on {device}" if device is not None else ""
    return (f"out of memory {what}{where}; free memory on the device (other models, other "
            "programs), set the mode to fast or a smaller tile size, or run on the CPU")


def free_cached_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_with_oom_retry(
    fn: Callable[[int], T],
    tile: int,
    min_tile: int = MIN_TILE,
    on_retry: Callable[[int, int], None] | None = None,
) -> T:
    """``fn(tile)``; on out-of-memory, retry with the tile halved (multiple of 16) down to ``min_tile``.

    ``on_retry(old_tile, new_tile)`` is called before each retry. Raises
    ``QAGANError`` when even ``min_tile`` does not fit.
    """
    while True:
        try:
            return fn(tile)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            smaller = max(min_tile, round_down(tile // 2, ALIGN))
            if smaller >= tile:
                raise QAGANError(out_of_memory_message(f"even with {tile}-pixel tiles")) from exc
        # Outside the except block, so the failed attempt's tensors are released first.
        free_cached_memory()
        if on_retry is not None:
            on_retry(tile, smaller)
        tile = smaller
