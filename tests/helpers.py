"""Helpers shared by the tests: tiny photo folders and tiny training settings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from PIL import Image

from qagan_core.encoder import VGGEncoder
from qagan_core.model import QAGAN, ModelConfig
from qagan_core.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PACK_NAME = "comfyui-qagan"


def load_pack() -> ModuleType:
    """Import the repository root as the package ``comfyui-qagan`` (once)."""
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module


TINY_MODEL = ModelConfig(global_size=32, d_channels=8)


def write_photos(folder: Path, n: int, seed: int, dark: bool) -> list[Path]:
    """Smooth random 'photos' (gradients + blobs), darker ones for the low domain."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        h, w = 40 + 4 * i, 48 + 3 * i
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        base = np.stack([yy, xx, 1 - yy], axis=2) * 0.6 + rng.random(3) * 0.4
        img = np.clip(base * (0.5 if dark else 1.0), 0, 1)
        path = folder / f"img_{i}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray((img * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def tiny_config(low: Path, high: Path, **overrides) -> TrainConfig:
    settings = dict(
        low_dir=str(low), high_dir=str(high), steps=2, batch_size=1, load_size=48,
        crop_size=32, train_size=32, encoder_weights="random", device="cpu", model=TINY_MODEL,
        degradation_updates=40, degradation_fits=2,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def perturbed_model(encoder: VGGEncoder, config: ModelConfig) -> QAGAN:
    """A QAGAN whose generators are nudged off their identity start (seeded), so outputs
    depend on the input's local context; G_H is perturbed first, then G_L."""
    torch.manual_seed(0)
    model = QAGAN(config, encoder).eval()
    with torch.no_grad():
        for p in list(model.g_h.parameters()) + list(model.g_l.parameters()):
            p.add_(0.02 * torch.randn_like(p))
    return model
