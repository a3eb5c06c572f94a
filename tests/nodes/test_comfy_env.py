"""nodes/comfy_env.py: its plain fallbacks without ComfyUI, and the fake ComfyUI the other node
tests use (installed for one test, gone after it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import PACK_NAME
from fake_comfy import InterruptProcessingException, install

COMFY_MODULES = ("folder_paths", "comfy", "comfy.utils", "comfy.model_management", "server")


def env() -> ModuleType:
    return sys.modules[f"{PACK_NAME}.nodes.comfy_env"]


@pytest.mark.skipif(importlib.util.find_spec("folder_paths") is not None, reason="ComfyUI is importable")
def test_without_comfyui_the_fallbacks_are_plain(pack, tmp_path: Path, monkeypatch) -> None:
    assert not any(name in sys.modules for name in COMFY_MODULES)
    comfy_env = env()
    monkeypatch.setattr(comfy_env, "STANDALONE_BASE", tmp_path)
    assert comfy_env.device() == torch.device("cpu") == comfy_env.offload_device()
    assert not comfy_env.interrupted() and not comfy_env.low_vram()
    assert isinstance(comfy_env.interrupt_error(), sys.modules[f"{PACK_NAME}.qagan_core"].Cancelled)
    assert not comfy_env.is_interrupt_error(InterruptProcessingException())
    bar = comfy_env.progress_bar(3)
    bar.update_absolute(1, 3, None)
    bar.update(1)
    comfy_env.show_text("1", "shown nowhere")
    comfy_env.free_memory(1, torch.device("cpu"))
    comfy_env.empty_cache()
    assert comfy_env.input_dir() == tmp_path / "input" and comfy_env.output_dir() == tmp_path / "output"
    models = tmp_path / "models" / "qagan"
    assert comfy_env.model_dir() == models and comfy_env.model_names() == []
    (models / "sub").mkdir(parents=True)
    (models / "sub" / "look.safetensors").write_bytes(b"")
    (models / "vgg19.safetensors").write_bytes(b"")
    assert comfy_env.model_names() == ["sub/look.safetensors"]
    assert comfy_env.model_path("sub/look.safetensors") == models / "sub" / "look.safetensors"
    with pytest.raises(FileNotFoundError):
        comfy_env.model_path("missing.safetensors")


def test_the_fake_comfyui_is_used_while_installed_and_gone_after(pack, tmp_path: Path) -> None:
    comfy_env = env()
    with pytest.MonkeyPatch.context() as mp:
        fake = install(tmp_path, mp)
        fake.mm.torch_device = torch.device("cpu", 0)
        assert comfy_env.device() == torch.device("cpu", 0)
        assert comfy_env.model_dir() == tmp_path / "models" / "qagan"
        assert fake.folder_paths.folder_names_and_paths["qagan"][1] == {".safetensors"}
        fake.press_cancel()
        assert comfy_env.interrupted()
        error = comfy_env.interrupt_error()
        assert isinstance(error, InterruptProcessingException) and comfy_env.is_interrupt_error(error)
        assert not comfy_env.interrupted()  # consumed
        comfy_env.progress_bar(4).update_absolute(9, 4, None)
        comfy_env.show_text("5", "hello")
        comfy_env.show_text(None, "no node")
        assert fake.progress == [(4, 4, None)] and fake.texts == [("5", "hello")]
    assert not any(name in sys.modules for name in COMFY_MODULES)
