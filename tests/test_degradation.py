"""The global head's default objective (issue 9): a degradation learned from the two
folders (qagan_core/training/degradation.py) makes training pairs; the fitted
degradation is part of the training state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import tiny_config, write_photos
from safetensors import safe_open
from safetensors.torch import save_file

from qagan_core import ModelFileError
from qagan_core.model import apply_curve
from qagan_core.training import Trainer
from qagan_core.training import color as color_module
from qagan_core.training.degradation import (
    degraded_pairs,
    descriptor,
    fit_degradation,
    fit_mean_degradation,
    fitted_degrader,
)


def smooth_thumbnails(n: int, seed: int, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def test_the_fitted_degradation_gives_high_photos_the_low_folders_statistics() -> None:
    high = smooth_thumbnails(24, seed=1)
    low = smooth_thumbnails(24, seed=2) * torch.tensor([0.5, 0.6, 0.8]).view(1, 3, 1, 1)  # dark, blue
    degradation = fit_degradation(high, low, 0, torch.Generator().manual_seed(0), 150, 1e-2, 16)
    with torch.no_grad():
        degraded = apply_curve(high, *degradation.from_summary(torch.zeros(len(high), 0)))
    gap_before = (high.mean((0, 2, 3)) - low.mean((0, 2, 3))).abs()
    gap_after = (degraded.mean((0, 2, 3)) - low.mean((0, 2, 3))).abs()
    assert float(gap_before.max()) > 0.1 and float(gap_after.max()) < 0.03, (gap_before, gap_after)
    assert not any(p.requires_grad for p in degradation.parameters())


def test_the_trained_degradation_is_the_mean_of_several_fits() -> None:
    """Single short fits scatter with their seed; training uses the mean of several."""
    high = smooth_thumbnails(12, seed=1)
    low = smooth_thumbnails(12, seed=2) * torch.tensor([0.6, 0.7, 0.9]).view(1, 3, 1, 1)
    g = torch.Generator().manual_seed(0)
    fits = [fit_degradation(high, low, 0, g, 30, 1e-2, 8).mlp(torch.zeros(1, 0)) for _ in range(3)]
    assert not torch.allclose(fits[0], fits[1])  # each fit has its own start and draws
    mean = fit_mean_degradation(high, low, torch.Generator().manual_seed(0), 30, 1e-2, 8, fits=3)
    with torch.no_grad():
        # the fits run side by side (fit_mean_degradation) and are the same fits, bit for bit
        assert torch.equal(mean.mlp(torch.zeros(1, 0)), torch.stack(fits).mean(0))
    assert not any(p.requires_grad for p in mean.parameters())


def test_pairs_are_the_high_photos_and_their_degraded_versions() -> None:
    high = smooth_thumbnails(3, seed=1)
    degradation = fit_degradation(high, high * 0.5, 0, torch.Generator().manual_seed(0), 60, 1e-2, 3)
    g = torch.Generator().manual_seed(0)
    degraded, original = degraded_pairs(high, fitted_degrader(degradation, 0), 4, g)
    assert degraded.shape == original.shape == (12, 3, 16, 16)
    assert torch.equal(original[:3], high) and torch.equal(original[6:9], high.flip(-1))
    assert torch.equal(degraded, (degraded * 255).round() / 255)  # 8-bit, as photos are
    assert float(degraded.mean()) < float(original.mean()) - 0.1  # darker, like the low folder
    assert descriptor(degraded).shape == (12, 42)


def test_the_head_learns_to_undo_the_folders_difference(tmp_path: Path, random_encoder) -> None:
    """Low photos are the high ones' kind darkened: the head alone must learn to brighten."""
    write_photos(tmp_path / "low", 6, seed=1, dark=True)
    write_photos(tmp_path / "high", 6, seed=2, dark=False)
    config = tiny_config(tmp_path / "low", tmp_path / "high", steps=1, color_steps=150)
    trainer = Trainer(config, random_encoder)
    color = trainer.color
    color.step(1.0)
    before = float(color._pair_loss().detach())
    for _ in range(150):
        color.step(1.0)
    summary, degraded, _ = color.pairs
    with torch.no_grad():
        restored = apply_curve(degraded, *trainer.model.g_h.curve.from_summary(summary))
    assert float(color._pair_loss().detach()) < 0.3 * before
    assert float(restored.mean()) > float(degraded.mean()) + 0.1


def test_a_resumed_run_keeps_its_degradation(folders, random_encoder, tmp_path: Path, monkeypatch) -> None:
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=2, color_steps=2), random_encoder)
    trainer.train_step()
    path = trainer.save_state(tmp_path / "s.state.safetensors")

    def refit(*args, **kwargs):
        raise AssertionError("a resumed run must not fit its degradation again")

    monkeypatch.setattr(color_module, "fit_mean_degradation", refit)
    resumed = Trainer.resume(path, encoder=random_encoder)
    resumed.train_step()
    for key, value in trainer.color.degradation.state_dict().items():
        assert torch.equal(resumed.color.degradation.state_dict()[key], value)


def test_a_damaged_degradation_is_refused_on_resume(folders, random_encoder, tmp_path: Path) -> None:
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=2, color_steps=1), random_encoder)
    trainer.train_step()
    path = trainer.save_state(tmp_path / "s.state.safetensors")
    with safe_open(str(path), framework="pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        meta = dict(fh.metadata())
    key = next(k for k in tensors if k.startswith("color.degradation."))
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    bad = tmp_path / "bad.state.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(ModelFileError, match="damaged: the learned degradation"):
        Trainer.resume(bad, encoder=random_encoder)


def test_the_identity_term_asks_g_h_to_undo_the_degradation(folders, random_encoder) -> None:
    """With the pairs objective G_H's identity term gets high crops degraded like the low folder
    (dark here): at the start G_H is near the identity, so that term is the degradation's size."""
    low, high = folders
    identity = {}
    for degraded in (True, False):
        trainer = Trainer(tiny_config(low, high, steps=1, color_steps=1, lambda_idt=1.0,
                                      degraded_identity=degraded), random_encoder)
        identity[degraded] = trainer.train_step()["identity"]
    crops = torch.rand(2, 3, 8, 8)
    out = trainer.color.degrade(crops)
    assert torch.equal(out, (out * 255).round() / 255) and float(out.mean()) < float(crops.mean()) - 0.1
    assert identity[True] > identity[False] + 0.1, identity
