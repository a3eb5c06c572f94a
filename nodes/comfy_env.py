"""The one place that talks to ComfyUI (folder_paths, comfy.utils, comfy.model_management).

Inside ComfyUI every function here uses ComfyUI's own module. Without ComfyUI
(tests, CI, plain Python) plain stand-ins are used: folders under a base folder
chosen with ``use_standalone(base)``, the CPU as device, a progress bar that
records its updates, and an interrupt flag set with ``request_interrupt()``.
ComfyUI modules are imported lazily so importing the pack stays cheap.
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


class _Standalone:
    """Stand-in state used when ComfyUI is not importable."""

    base = Path(tempfile.gettempdir()) / "qagan_comfy_standalone"
    forced = False
    interrupted = False
    progress: list[tuple[int, int, Any]] = []  # noqa: RUF012 - shared on purpose (tests read it)
    texts: list[tuple[str | None, str]] = []  # noqa: RUF012 - shared on purpose (tests read it)


def _module(name: str) -> ModuleType | None:
    """A ComfyUI module, or None when running without ComfyUI."""
    if _Standalone.forced:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def use_standalone(base: str | os.PathLike) -> None:
    """Use plain folders under ``base`` (input/, output/, models/qagan/) instead of ComfyUI's."""
    _Standalone.base = Path(base)
    _Standalone.forced = True
    _Standalone.interrupted = False
    _Standalone.progress = []
    _Standalone.texts = []


def in_comfyui() -> bool:
    return _module("folder_paths") is not None


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
        folder = _Standalone.base / "models" / MODEL_FOLDER
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
    return Path(fp.get_input_directory()) if fp is not None else _Standalone.base / "input"


def output_dir() -> Path:
    fp = _module("folder_paths")
    return Path(fp.get_output_directory()) if fp is not None else _Standalone.base / "output"


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
    return mm.processing_interrupted() if mm is not None else _Standalone.interrupted


def request_interrupt(value: bool = True) -> None:
    """Stand-in for ComfyUI's Cancel button (tests)."""
    mm = _module("comfy.model_management")
    if mm is not None:
        mm.interrupt_current_processing(value)
    else:
        _Standalone.interrupted = value


def interrupt_error() -> BaseException:
    """The exception that tells the host the run was cancelled."""
    mm = _module("comfy.model_management")
    if mm is not None:
        mm.interrupt_current_processing(False)
        return mm.InterruptProcessingException()
    _Standalone.interrupted = False
    return Cancelled("cancelled by the user")


def is_interrupt_error(exc: BaseException) -> bool:
    mm = _module("comfy.model_management")
    return mm is not None and isinstance(exc, mm.InterruptProcessingException)


class _RecordingProgressBar:
    """Stand-in for comfy.utils.ProgressBar: records (value, total, preview)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.current = 0

    def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
        if total is not None:
            self.total = total
        self.current = min(value, self.total)
        _Standalone.progress.append((self.current, self.total, preview))

    def update(self, value: int) -> None:
        self.update_absolute(self.current + value)


def progress_bar(total: int) -> Any:
    """comfy.utils.ProgressBar(total), or a recording stand-in."""
    utils = _module("comfy.utils")
    return utils.ProgressBar(total) if utils is not None else _RecordingProgressBar(total)


def show_text(node_id: str | None, text: str) -> None:
    """Text shown on the node in ComfyUI's UI (the server's progress-text message); recorded
    by the stand-in (``recorded_texts``)."""
    server = _module("server")
    if server is not None and node_id is not None:
        server.PromptServer.instance.send_progress_text(text, node_id)
    else:
        _Standalone.texts.append((node_id, text))


def recorded_texts() -> list[tuple[str | None, str]]:
    """(node id, text) shown by ``show_text`` since ``use_standalone`` (tests)."""
    return _Standalone.texts


def recorded_progress() -> list[tuple[int, int, Any]]:
    """Updates of stand-in progress bars since ``use_standalone`` (tests)."""
    return _Standalone.progress
