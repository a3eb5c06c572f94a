"""Inference: enhancement, degradation and tiled processing."""

from .enhance import degrade, enhance, enhance_one
from .folder import FolderReport, enhance_folder
from .tiling import tiled_apply

__all__ = ["FolderReport", "degrade", "enhance", "enhance_folder", "enhance_one", "tiled_apply"]
