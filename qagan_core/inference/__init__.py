"""Inference: enhancement (exact, tiled or fast full-resolution), degradation, tiling, folders."""

from .enhance import MODES, STEP_UNITS, degrade, enhance, memory_required, resolve_mode
from .folder import FolderReport, enhance_folder
from .memory import estimate_bytes, module_bytes, out_of_memory_message
from .tiling import tiled_apply

__all__ = [
    "MODES",
    "STEP_UNITS",
    "FolderReport",
    "degrade",
    "enhance",
    "enhance_folder",
    "estimate_bytes",
    "memory_required",
    "module_bytes",
    "out_of_memory_message",
    "resolve_mode",
    "tiled_apply",
]
