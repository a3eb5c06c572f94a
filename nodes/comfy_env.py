"""The one place that talks to ComfyUI (folder_paths, comfy.utils, comfy.model_management, server).

Inside ComfyUI every function here uses ComfyUI's own module. Without ComfyUI
(plain Python) plain fallbacks are used: folders under ``STANDALONE_BASE``
(input/, output/, models/qagan/ in the temporary folder), the CPU as device, no
Cancel, a progress bar and node texts that show nothing. ComfyUI modules are
imported lazily so importing the pack stays cheap. (The node tests install a
fake ComfyUI, tests/nodes/fake_comfy.py, so they run the ComfyUI code path.)
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from ..qagan_core import Cancelled, is_encoder_file_name

MODEL_FOLDER = "qagan"
MODEL_EXTENSIONS = {".safetensors"}
STANDALONE_BASE = Path(tempfile.gettempdir()) / "qagan_comfy_standalone"


def _module(name: str) -> ModuleType | None:
    """A ComfyUI module, or None when running without ComfyUI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# ------------------------------------------------------------------ folders
def register_model_folder() -> None:
    """Register models/qagan with ``.safetensors`` as its only extension (cheap; at import)."""
    fp = _module("folder_paths")
    if fp is None:
        return
    if MODEL_FOLDER in fp.folder_names_and_paths:
        paths, _ = fp.folder_names_and_paths[MODEL_FOLDER]
    else:
        paths = [os.path.join(fp.models_dir, MODEL_FOLDER)]
    fp.folder_names_and_paths[MODEL_FOLDER] = (paths, set(MODEL_EXTENSIONS))


def model_dir() -> Path:
    """The folder models are written to (the first registered models/qagan folder)."""
    fp = _module("folder_paths")
    if fp is None:
        folder = STANDALONE_BASE / "models" / MODEL_FOLDER
    else:
        register_model_folder()
        folder = Path(fp.get_folder_paths(MODEL_FOLDER)[0])
    return folder


def model_names() -> list[str]:
    """Model and training-state files in models/qagan (encoder weight files left out)."""
    fp = _module("folder_paths")
    if fp is None:
        folder = model_dir()
        names = (
            sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.safetensors"))
            if folder.is_dir() else []
        )
    else:
        register_model_folder()
        names = list(fp.get_filename_list(MODEL_FOLDER))
    return [n for n in names if not is_encoder_file_name(Path(n).name)]


def model_path(name: str) -> Path:
    """The full path of a file listed by ``model_names``."""
    fp = _module("folder_paths")
    if fp is None:
        path = model_dir() / name
        if not path.is_file():
            raise FileNotFoundError(f"model file not found in models/{MODEL_FOLDER}: {name}")
        return path
    register_model_folder()
    return Path(fp.get_full_path_or_raise(MODEL_FOLDER, name))


def input_dir() -> Path:
    fp = _module("folder_paths")
    return Path(fp.get_input_directory()) if fp is not None else STANDALONE_BASE / "input"


def output_dir() -> Path:
    fp = _module("folder_paths")
    return Path(fp.get_output_directory()) if fp is not None else STANDALONE_BASE / "output"


# ------------------------------------------------------------- execution
def device() -> torch.device:
    """The device ComfyUI chose (CPU without ComfyUI)."""
    mm = _module("comfy.model_management")
    return mm.get_torch_device() if mm is not None else torch.device("cpu")


def offload_device() -> torch.device:
    """Where models wait between runs: ComfyUI's offload device (the CPU, or the GPU itself with
    ``--highvram`` / ``--gpu-only``); the CPU without ComfyUI."""
    mm = _module("comfy.model_management")
    return mm.unet_offload_device() if mm is not None else torch.device("cpu")


def free_memory(required: int, device: torch.device) -> None:
    """Ask ComfyUI to unload other models until ``required`` bytes are free on ``device``."""
    mm = _module("comfy.model_management")
    if mm is not None:
        mm.free_memory(required, device)


def low_vram() -> bool:
    """Whether ComfyUI runs with ``--lowvram`` or ``--novram`` (False without ComfyUI)."""
    mm = _module("comfy.model_management")
    state = getattr(mm, "vram_state", None) if mm is not None else None
    return getattr(state, "name", "") in ("LOW_VRAM", "NO_VRAM")


def empty_cache() -> None:
    """Give the device memory cached by PyTorch back (ComfyUI's ``soft_empty_cache``)."""
    mm = _module("comfy.model_management")
    if mm is not None:
        mm.soft_empty_cache()
    elif torch.cuda.is_available():
        torch.cuda.empty_cache()


def interrupted() -> bool:
    """Whether the user pressed Cancel (does not clear the request)."""
    mm = _module("comfy.model_management")
    return mm.processing_interrupted() if mm is not None else False


def interrupt_error() -> BaseException:
    """The exception that tells the host the run was cancelled."""
    mm = _module("comfy.model_management")
    if mm is not None:
        mm.interrupt_current_processing(False)
        return mm.InterruptProcessingException()
    return Cancelled("cancelled by the user")


def is_interrupt_error(exc: BaseException) -> bool:
    mm = _module("comfy.model_management")
    return mm is not None and isinstance(exc, mm.InterruptProcessingException)


class _NullProgressBar:
    """Stand-in for comfy.utils.ProgressBar without ComfyUI: shows nothing."""

    def __init__(self, total: int) -> None:
        self.total = total

    def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
        pass

    def update(self, value: int) -> None:
        pass


def progress_bar(total: int) -> Any:
    """comfy.utils.ProgressBar(total), or one that shows nothing without ComfyUI."""
    utils = _module("comfy.utils")
    return utils.ProgressBar(total) if utils is not None else _NullProgressBar(total)


def show_text(node_id: str | None, text: str) -> None:
    """Text shown on the node in ComfyUI's UI (the server's progress-text message); nothing
    without ComfyUI or without a node id."""
    server = _module("server")
    if server is not None and node_id is not None:
        server.PromptServer.instance.send_progress_text(text, node_id)
