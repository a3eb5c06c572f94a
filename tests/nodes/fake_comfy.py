"""A fake ComfyUI for the node tests: the parts of ``folder_paths``, ``comfy.utils``,
``comfy.model_management`` and ``server`` the pack uses (nodes/comfy_env.py), written after
ComfyUI 0.8.0's own, which record what the pack asks of them.

``install(base)`` puts the fake modules into ``sys.modules`` (undone by the caller's
``MonkeyPatch``), so the pack runs its ComfyUI code path; ComfyUI's folders are plain folders
under ``base`` (input/, output/, models/).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import torch


class InterruptProcessingException(Exception):
    """comfy.model_management.InterruptProcessingException."""


class FakeModelManagement(ModuleType):
    """comfy.model_management: the device, the offload device and the VRAM state are settable;
    ``free_memory`` and ``soft_empty_cache`` calls are recorded in ``events``; Cancel is
    ``interrupt_current_processing(True)``, as ComfyUI's /interrupt route does."""

    InterruptProcessingException = InterruptProcessingException

    def __init__(self, events: list) -> None:
        super().__init__("comfy.model_management")
        self.events = events
        self.torch_device = torch.device("cpu")
        self.offload_device = torch.device("cpu")
        self.vram_state = SimpleNamespace(name="NORMAL_VRAM")
        self.interrupted = False

    def get_torch_device(self) -> torch.device:
        return self.torch_device

    def unet_offload_device(self) -> torch.device:
        return self.offload_device

    def free_memory(self, memory_required: int, device: torch.device, keep_loaded=()) -> list:
        self.events.append(("free_memory", memory_required, device))
        return []

    def soft_empty_cache(self, force: bool = False) -> None:
        self.events.append(("soft_empty_cache",))

    def processing_interrupted(self) -> bool:
        return self.interrupted

    def interrupt_current_processing(self, value: bool = True) -> None:
        self.interrupted = value


class FakeUtils(ModuleType):
    """comfy.utils: ``ProgressBar`` records each update as (value, total, preview) in ``progress``
    (ComfyUI's bar without a hook: it does not raise on Cancel)."""

    def __init__(self, progress: list) -> None:
        super().__init__("comfy.utils")
        records = progress

        class ProgressBar:
            def __init__(self, total: int, node_id: str | None = None) -> None:
                self.total = total
                self.current = 0
                self.node_id = node_id

            def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
                if total is not None:
                    self.total = total
                self.current = min(value, self.total)
                records.append((self.current, self.total, preview))

            def update(self, value: int) -> None:
                self.update_absolute(self.current + value)

        self.ProgressBar = ProgressBar


class FakeFolderPaths(ModuleType):
    """folder_paths: folders under ``base``; the look-ups behave as ComfyUI 0.8.0's do (no cache)."""

    def __init__(self, base: Path) -> None:
        super().__init__("folder_paths")
        self.base_path = str(base)
        self.models_dir = str(base / "models")
        self.folder_names_and_paths: dict[str, tuple[list[str], set[str]]] = {}

    def get_input_directory(self) -> str:
        return os.path.join(self.base_path, "input")

    def get_output_directory(self) -> str:
        return os.path.join(self.base_path, "output")

    def get_folder_paths(self, folder_name: str) -> list[str]:
        return self.folder_names_and_paths[folder_name][0][:]

    def get_filename_list(self, folder_name: str) -> list[str]:
        folders, extensions = self.folder_names_and_paths[folder_name]
        names: set[str] = set()
        for folder in folders:
            for dirpath, dirs, files in os.walk(folder, followlinks=True):
                dirs[:] = [d for d in dirs if d != ".git"]
                for file_name in files:
                    rel = os.path.relpath(os.path.join(dirpath, file_name), folder)
                    if not extensions or os.path.splitext(file_name)[1].lower() in extensions:
                        names.add(rel)
        return sorted(names)

    def get_full_path(self, folder_name: str, filename: str) -> str | None:
        if folder_name not in self.folder_names_and_paths:
            return None
        filename = os.path.relpath(os.path.join("/", filename), "/")
        for folder in self.folder_names_and_paths[folder_name][0]:
            full_path = os.path.join(folder, filename)
            if os.path.isfile(full_path):
                return full_path
        return None

    def get_full_path_or_raise(self, folder_name: str, filename: str) -> str:
        full_path = self.get_full_path(folder_name, filename)
        if full_path is None:
            raise FileNotFoundError(f"Model in folder '{folder_name}' with filename '{filename}' not found.")
        return full_path


class FakeServer(ModuleType):
    """server: ``PromptServer.instance.send_progress_text`` records (node id, text) in ``texts``."""

    def __init__(self, texts: list) -> None:
        super().__init__("server")

        class PromptServer:
            def send_progress_text(self, text: str, node_id: str, sid: str | None = None) -> None:
                texts.append((node_id, text))

        PromptServer.instance = PromptServer()
        self.PromptServer = PromptServer


class FakeComfyUI(SimpleNamespace):
    """The fake modules and what they recorded: ``progress`` (value, total, preview) of every
    progress bar, ``texts`` (node id, text) shown on nodes, ``events`` of the model management."""

    progress: list[tuple[int, int, Any]]
    texts: list[tuple[str, str]]
    events: list
    mm: FakeModelManagement
    folder_paths: FakeFolderPaths

    def press_cancel(self) -> None:
        """ComfyUI's Cancel button."""
        self.mm.interrupt_current_processing(True)


def install(base: Path, monkeypatch: pytest.MonkeyPatch) -> FakeComfyUI:
    """Put a fresh fake ComfyUI into ``sys.modules`` with ``monkeypatch`` (undone with it)."""
    fake = FakeComfyUI(progress=[], texts=[], events=[])
    fake.mm = FakeModelManagement(fake.events)
    fake.folder_paths = FakeFolderPaths(base)
    comfy = ModuleType("comfy")
    comfy.__path__ = []  # a package
    comfy.model_management = fake.mm
    comfy.utils = FakeUtils(fake.progress)
    for name, module in {"comfy": comfy, "comfy.model_management": fake.mm, "comfy.utils": comfy.utils,
                         "folder_paths": fake.folder_paths, "server": FakeServer(fake.texts)}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return fake
