"""A training step reports its losses without autograd warnings (float() of a tensor needing grad)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from qagan_core import ModelConfig, TrainConfig, Trainer


def test_train_step_raises_no_warning(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for side in ("low", "high"):
        (tmp_path / side).mkdir()
        for i in range(2):
            pixels = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / side / f"{i}.png")
    cfg = TrainConfig(low_dir=str(tmp_path / "low"), high_dir=str(tmp_path / "high"), steps=1,
                      batch_size=1, load_size=16, crop_size=16, train_size=16, encoder_weights="random",
                      device="cpu", model=ModelConfig(global_size=16, d_channels=8))
    trainer = Trainer(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses = trainer.train_step()
    assert all(np.isfinite(v) for v in losses.values())
