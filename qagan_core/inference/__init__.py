"""Inference: enhancement (exact, tiled or fast full-resolution), degradation, tiling."""

from .enhance import MODES, degrade, enhance, enhance_one, resolve_mode
from .tiling import tiled_apply

__all__ = ["MODES", "degrade", "enhance", "enhance_one", "resolve_mode", "tiled_apply"]
