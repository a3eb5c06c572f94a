"""Fixtures for the ComfyUI node tests (run without ComfyUI).

The repository root is imported as a package named ``comfyui-qagan`` (a name with
a hyphen, as a clone into ComfyUI/custom_nodes might be called), which proves the
pack only uses relative imports. ComfyUI itself is a fake (fake_comfy.py, installed into
``sys.modules`` for each test that asks for ``comfy_env`` or ``comfyui``), so the tests run the
pack's ComfyUI code path; its folders are plain folders under a temporary directory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import torch
from fake_comfy import FakeComfyUI, install
from helpers import PACK_NAME, ROOT, load_pack  # noqa: F401 - re-exported to the node tests


@pytest.fixture(scope="session")
def pack() -> ModuleType:
    return load_pack()


@pytest.fixture
def comfyui(tmp_path: Path) -> Iterator[FakeComfyUI]:
    """A fake ComfyUI in ``sys.modules`` for this test (its own MonkeyPatch, so a test's
    ``monkeypatch.undo()`` leaves it in place); what it recorded."""
    with pytest.MonkeyPatch.context() as mp:
        yield install(tmp_path / "comfy", mp)


@pytest.fixture
def comfy_env(pack: ModuleType, comfyui: FakeComfyUI) -> ModuleType:
    """The pack's comfy_env module, talking to the fake ComfyUI."""
    return sys.modules[f"{PACK_NAME}.nodes.comfy_env"]


def write_photos(folder: Path, count: int, size: tuple[int, int] = (40, 48), seed: int = 0) -> list[Path]:
    """Small deterministic photos (smooth gradients plus noise) as PNG files."""
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    g = torch.Generator().manual_seed(seed)
    h, w = size
    paths = []
    for i in range(count):
        ramp = torch.linspace(0, 1, w).expand(h, w)
        blue = torch.full((h, w), 0.3 + 0.1 * i)
        base = torch.stack([ramp, ramp.flip(-1), blue])
        img = (0.7 * base + 0.3 * torch.rand(3, h, w, generator=g)).clamp(0, 1)
        paths.append(core.save_image(img, folder / f"photo_{i:02d}.png"))
    return paths


@pytest.fixture
def comfy_dirs(comfy_env: ModuleType, pack: ModuleType) -> SimpleNamespace:
    """input/qagan_low, input/qagan_high (3 photos each), two single photos, empty models/qagan."""
    inp = comfy_env.input_dir()
    write_photos(inp / "qagan_low", 3, seed=1)
    write_photos(inp / "qagan_high", 3, seed=2)
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    g = torch.Generator().manual_seed(3)
    core.save_image(torch.rand(3, 32, 40, generator=g), inp / "qagan_example.png")
    core.save_image(torch.rand(3, 32, 40, generator=g), inp / "qagan_reference.png")
    comfy_env.model_dir().mkdir(parents=True, exist_ok=True)
    comfy_env.output_dir().mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(input=inp, output=comfy_env.output_dir(), models=comfy_env.model_dir())


@pytest.fixture(scope="session")
def tiny_model(pack: ModuleType):
    """An untrained model with the random encoder; G_H's output layer nudged so it is not the identity."""
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    torch.manual_seed(0)
    model = core.QAGAN(core.ModelConfig(), core.resolve_encoder("random")).eval()
    with torch.no_grad():
        for p in model.g_h.parameters():
            p.add_(0.01 * torch.randn(p.shape))
    return model


@pytest.fixture
def saved_model(comfy_dirs: SimpleNamespace, tiny_model) -> str:
    core = sys.modules[f"{PACK_NAME}.qagan_core"]
    core.save_model(tiny_model, comfy_dirs.models / "my_look.safetensors")
    return "my_look.safetensors"
