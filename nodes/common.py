"""Shared pieces of the node adapters: category, choices, safe folder and file names."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..qagan_core import DataError, QAGANError, list_encoder_files
from ..qagan_core.images import IMAGE_EXTENSIONS
from . import comfy_env

CATEGORY = "image/enhance/QAGAN"
MODEL_TYPE = "QAGAN_MODEL"

ENCODER_PRETRAINED = "pretrained VGG-19 (torchvision standard weights)"
ENCODER_RANDOM = "random (for testing only - poor results)"
MAX_FOLDER_DEPTH = 3
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


# ------------------------------------------------------------------ encoder
def encoder_choices() -> list[str]:
    """Pretrained weights, weight files placed in models/qagan, or the random test encoder."""
    return [ENCODER_PRETRAINED, *list_encoder_files(comfy_env.model_dir()), ENCODER_RANDOM]


def encoder_weights(choice: str) -> str:
    """The ``encoder_weights`` value qagan_core understands for a combo choice."""
    if choice == ENCODER_PRETRAINED:
        return "pretrained"
    if choice == ENCODER_RANDOM:
        return "random"
    if choice not in list_encoder_files(comfy_env.model_dir()):
        raise QAGANError(
            f"encoder weights file {choice!r} not found: put it into {comfy_env.model_dir()}"
        )
    return str(comfy_env.model_dir() / choice)


# ------------------------------------------------------------------ folders
def _has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.rglob("*"))


def input_subfolders() -> list[str]:
    """Subfolders of ComfyUI's input directory (up to a few levels) that hold photos (below
    them too), as relative paths: ComfyUI's own folders of other things are left out."""
    root = comfy_env.input_dir()
    found: list[str] = []
    if not root.is_dir():
        return found
    for current, dirs, _files in os.walk(root):
        rel = Path(current).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if len(rel.parts) >= MAX_FOLDER_DEPTH:
            dirs[:] = []
        if rel.parts and _has_images(Path(current)):
            found.append(rel.as_posix())
    return sorted(found)


def _inside(root: Path, rel: str, what: str) -> Path:
    if not rel or os.path.isabs(rel) or rel.startswith(("/", "\\")):
        raise DataError(f"{what} must be a folder name relative to {root}, got {rel!r}")
    root = root.resolve()
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise DataError(f"{what} {rel!r} is outside {root}; only folders inside it are accepted")
    return path


def input_folder(rel: str) -> Path:
    """A subfolder of ComfyUI's input directory; anything outside it is refused."""
    path = _inside(comfy_env.input_dir(), rel, "input folder")
    if not path.is_dir():
        raise DataError(f"input folder not found: {rel!r} in {comfy_env.input_dir()}")
    return path


def output_folder(rel: str) -> Path:
    """A (possibly new) subfolder of ComfyUI's output directory."""
    return _inside(comfy_env.output_dir(), rel, "output folder")


def model_file_name(name: str) -> str:
    """A plain file name for models/qagan, with the .safetensors extension added."""
    name = name.strip()
    if name.endswith(".safetensors"):
        name = name[: -len(".safetensors")]
    if not _NAME_RE.match(name) or ".." in name:
        raise QAGANError(
            f"invalid model name {name!r}: use letters, digits, spaces, '.', '_' or '-' "
            "(no folders)"
        )
    return name + ".safetensors"


# ----------------------------------------------------------------- enhance
def enhance_options(mode: str, tile: int) -> dict[str, Any]:
    """Keyword arguments for ``qagan_core.enhance`` from the node's mode and tile widgets.

    A tile size of 0 means automatic (chosen from free memory), i.e. no ``tile`` argument.
    """
    options: dict[str, Any] = {"mode": mode}
    if tile > 0:
        options["tile"] = int(tile)
    return options


def tooltip_input(kind: Any, tooltip: str, **extra: Any) -> tuple:
    """An INPUT_TYPES entry with its tooltip."""
    return (kind, {"tooltip": tooltip, **extra})
