"""Inference: enhancement, degradation and tiled processing."""

from .enhance import degrade, enhance, enhance_one
from .tiling import tiled_apply

__all__ = ["degrade", "enhance", "enhance_one", "tiled_apply"]
