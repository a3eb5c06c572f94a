"""Enhance's progress inside one image, and its use of ComfyUI's model management (the fake
ComfyUI of fake_comfy.py: no ComfyUI needed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace

import pytest
import torch
from conftest import PACK_NAME
from fake_comfy import InterruptProcessingException

TORCH_DEVICE = torch.device("cpu", 0)  # stands for the GPU: a device the model is moved to and back
OFFLOAD_DEVICE = torch.device("cpu")


def images(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def enhance_node(pack: ModuleType):
    return pack.NODE_CLASS_MAPPINGS["QAGANEnhance"]()


# ------------------------------------------------------------------ progress
@pytest.mark.parametrize("tile_size", [0, 64])  # automatic (untiled here), tiled
def test_enhancing_one_image_reports_progress_during_it(pack, comfyui, tiny_model, tile_size) -> None:
    x = images(1, 96, 160)
    enhance_node(pack).enhance(x, tiny_model, 1.0, "exact", tile_size)
    updates = [(value, total) for value, total, _ in comfyui.progress]
    assert len(updates) > 1, updates
    total = updates[-1][1]
    values = [v for v, _ in updates]
    assert values == sorted(values) and values[-1] == total
    assert sum(0 < v < total for v in values) >= 3  # the bar moves while the one image runs


def test_batch_progress_reaches_each_image(pack, comfyui, tiny_model) -> None:
    enhance_node(pack).enhance(images(2, 20, 28), tiny_model, 1.0)
    updates = [(value, total) for value, total, _ in comfyui.progress]
    total = updates[-1][1]
    assert (total // 2, total) in updates and updates[-1] == (total, total)


# --------------------------------------------------------- model management
@pytest.fixture
def managed(comfyui, tiny_model, monkeypatch) -> Iterator[SimpleNamespace]:
    """The fake model management (its device ``TORCH_DEVICE``), the model's moves
    (``("to", device)``) and its forward passes (``("forward",)``) recorded in its list of events."""
    events = comfyui.events
    mm = comfyui.mm
    mm.torch_device, mm.offload_device = TORCH_DEVICE, OFFLOAD_DEVICE
    original_to = torch.nn.Module.to

    def to(self, *args, **kwargs):
        device = kwargs.get("device", args[0] if args else None)
        if self is tiny_model and isinstance(device, (str, torch.device)):
            events.append(("to", torch.device(device)))
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", to)
    hooks: list = []

    def on_forward(action=None) -> None:
        """Record each pass of G_H's first decoder block and run ``action`` there (mid-run)."""
        def hook(*_args) -> None:
            events.append(("forward",))
            if action is not None:
                action()
        hooks.append(tiny_model.g_h.dec4.register_forward_hook(hook))

    yield SimpleNamespace(mm=mm, events=events, on_forward=on_forward)
    for handle in hooks:
        handle.remove()


def _moves(events: list) -> list[torch.device]:
    return [e[1] for e in events if e[0] == "to"]


def _check_freed_then_returned(events: list) -> None:
    kinds = [e[0] for e in events]
    assert "forward" in kinds, events
    first_forward = kinds.index("forward")
    free = kinds.index("free_memory")
    load = events.index(("to", TORCH_DEVICE))
    assert free < load < first_forward  # room made, then the model moved, then the run
    assert events[free][2] == TORCH_DEVICE and events[free][1] > 0
    assert _moves(events)[-1] == OFFLOAD_DEVICE  # back on the offload device at the end
    assert events.index(("to", OFFLOAD_DEVICE)) > max(i for i, k in enumerate(kinds) if k == "forward")


def test_enhance_frees_memory_and_returns_the_model_to_the_offload_device(
        pack, managed, tiny_model) -> None:
    managed.on_forward()
    (y,) = enhance_node(pack).enhance(images(1, 40, 48), tiny_model, 1.0)
    assert y.shape == (1, 40, 48, 3)
    _check_freed_then_returned(managed.events)
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    weights = core.inference.module_bytes(tiny_model)
    assert managed.events[0][1] > weights  # the estimate covers the weights and the image


def test_model_returns_to_the_offload_device_after_an_error_mid_run(pack, managed, tiny_model) -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    managed.on_forward(fail)
    with pytest.raises(RuntimeError, match="boom"):
        enhance_node(pack).enhance(images(1, 40, 48), tiny_model, 1.0)
    _check_freed_then_returned(managed.events)


def test_model_returns_to_the_offload_device_after_cancel_mid_run(pack, managed, tiny_model) -> None:
    managed.on_forward(lambda: managed.mm.interrupt_current_processing(True))  # Cancel pressed
    with pytest.raises(InterruptProcessingException):
        enhance_node(pack).enhance(images(1, 40, 48), tiny_model, 1.0)
    _check_freed_then_returned(managed.events)
    assert not managed.mm.interrupted  # the request is consumed, as ComfyUI does


def test_out_of_memory_empties_the_cache_and_says_why(pack, managed, tiny_model) -> None:
    def oom() -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    managed.on_forward(oom)
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    with pytest.raises(core.QAGANError, match="out of memory") as info:
        enhance_node(pack).enhance(images(1, 40, 48), tiny_model, 1.0)
    assert "free memory on the device" in str(info.value) and "set the mode to fast" in str(info.value)
    _check_freed_then_returned(managed.events)
    last_move = max(i for i, e in enumerate(managed.events) if e[0] == "to")
    assert ("soft_empty_cache",) in managed.events[last_move:]


def test_novram_empties_the_cache_after_each_run(pack, managed, tiny_model) -> None:
    managed.mm.vram_state = SimpleNamespace(name="NO_VRAM")
    managed.on_forward()
    enhance_node(pack).enhance(images(1, 24, 24), tiny_model, 1.0)
    _check_freed_then_returned(managed.events)
    assert managed.events[-1] == ("soft_empty_cache",)


@pytest.mark.parametrize("node_name", ["QAGANDegrade", "QAGANEnhanceFolder"])
def test_other_model_nodes_return_the_model_too(pack, managed, tiny_model, comfy_dirs, node_name) -> None:
    node = pack.NODE_CLASS_MAPPINGS[node_name]()
    if node_name == "QAGANDegrade":
        node.degrade(images(1, 24, 32), images(1, 24, 24, seed=1), tiny_model)
    else:
        node.enhance_folder(tiny_model, "qagan_low", "out", 1.0)
    assert managed.events[0][0] == "free_memory"
    assert _moves(managed.events)[0] == TORCH_DEVICE and _moves(managed.events)[-1] == OFFLOAD_DEVICE
