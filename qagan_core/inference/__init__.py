"""Inference: enhancement (exact, tiled or fast full-resolution), degradation, tiling, folders."""

from .enhance import MODES, degrade, enhance, resolve_mode
from .folder import FolderReport, enhance_folder
from .tiling import tiled_apply

__all__ = [
    "MODES",
    "FolderReport",
    "degrade",
    "enhance",
    "enhance_folder",
    "resolve_mode",
    "tiled_apply",
]
