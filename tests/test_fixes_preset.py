"""The ``fixes`` preset (issue 9): the global head learns from quantile-transfer pairs
(qagan_core/training/quantiles.py), so it can undo each low photo's own defect."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_MODEL, tiny_config, write_photos
from PIL import Image

from qagan_core import ModelConfig, Trainer, enhance, load_image, read_model_info
from qagan_core.cli import main
from qagan_core.training import TrainConfig, preset_settings

RED, BLUE = (1.3, 1.0, 0.7), (0.7, 1.0, 1.3)


def cast_photos(folder: Path, n: int, seed: int, gains: list[tuple[float, float, float]]) -> list[Path]:
    """``write_photos`` with photo ``i`` multiplied by ``gains[i % len(gains)]`` (a colour cast)."""
    paths = []
    for i, path in enumerate(write_photos(folder, n, seed=seed, dark=False)):
        x = np.asarray(Image.open(path), dtype=np.float32) / 255.0
        y = np.clip(x * np.array(gains[i % len(gains)], np.float32), 0, 1)
        out = path.with_suffix(".png")
        path.unlink()
        Image.fromarray((y * 255).round().astype(np.uint8)).save(out)
        paths.append(out)
    return paths


def red_minus_blue(x: torch.Tensor) -> float:
    return float(x[0].mean() - x[2].mean())


def fixes_config(low: Path, high: Path, **overrides) -> TrainConfig:
    settings = {**preset_settings("fixes"), "model": dataclasses.replace(TINY_MODEL, curve_pixel_stats=True)}
    return tiny_config(low, high, **{**settings, **overrides})


def test_the_fixes_preset_is_the_default_with_quantile_pairs_generic_defects_and_pixel_stats() -> None:
    settings = preset_settings("fixes")
    assert settings["head_objective"] == "quantile_pairs"
    assert settings["head_weight_decay"] == 1.0
    assert settings["head_updates"] == 2128
    assert settings["head_generic_defects"] == 0.5
    assert settings["model"] == dataclasses.replace(ModelConfig(), curve_pixel_stats=True)
    assert set(settings) == {"head_objective", "head_weight_decay", "head_updates", "head_generic_defects",
                             "model"}
    assert TrainConfig().head_weight_decay == 0.0  # the default preset's head is not decayed
    assert TrainConfig().head_updates == 0  # nor limited
    assert TrainConfig().head_generic_defects == 0.0  # a look has no per-photo defects


@pytest.fixture()
def cast_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Low photos each with their own cast, half red and half blue; neutral high photos."""
    low, high = tmp_path / "low", tmp_path / "high"
    cast_photos(low, 12, seed=1, gains=[RED, BLUE])
    write_photos(high, 12, seed=2, dark=False)
    return low, high


def test_quantile_pairs_undo_each_photos_own_cast(cast_folders, random_encoder, tmp_path: Path) -> None:
    """The folders differ on average by nothing, photo by photo by a cast: the head must take a
    red cast off one held-out photo and a blue cast off another (one degradation for every
    photo, as the default preset fits, could only move both the same way). The quantile pairs
    alone (no generic defects, tested apart): on these 12 synthetic photos with casts of 30 %,
    generic defects on half of the pairs take the red cast off less (red - blue -0.02 to -0.07
    against -0.16; BENCHMARKS.md, "Generic defects")."""
    red, blue = (load_image(p) for p in cast_photos(tmp_path / "test", 2, seed=3, gains=[RED, BLUE]))
    trainer = Trainer(fixes_config(*cast_folders, steps=2, color_steps=150, head_generic_defects=0.0),
                      random_encoder)
    trainer.run()
    model = trainer.export_model()
    red_shift = red_minus_blue(enhance(red, model)) - red_minus_blue(red)
    blue_shift = red_minus_blue(enhance(blue, model)) - red_minus_blue(blue)
    assert red_shift < -0.1 and blue_shift > 0.1, (red_shift, blue_shift)


def test_generic_defects_teach_the_head_an_exposure_error_the_folders_do_not_show(
        tmp_path: Path, random_encoder) -> None:
    """Both folders hold the same kind of well-exposed photos, so the quantile transfer has no
    exposure error to teach; with generic defects on half of the pairs the head must brighten an
    under-exposed held-out photo towards its original, and clearly more than without them."""
    low, high = tmp_path / "low", tmp_path / "high"
    write_photos(low, 12, seed=1, dark=False)
    write_photos(high, 12, seed=2, dark=False)
    original = load_image(write_photos(tmp_path / "test", 2, seed=3, dark=False)[1])
    dark = (original * 0.6 * 255).round() / 255
    brightening = {}
    for rate in (0.0, 0.5):
        trainer = Trainer(fixes_config(low, high, steps=2, color_steps=150, head_generic_defects=rate),
                          random_encoder)
        trainer.run()
        brightening[rate] = float(enhance(dark, trainer.export_model()).mean() - dark.mean())
    missing = float(original.mean() - dark.mean())
    assert brightening[0.5] > 0.3 * missing, (brightening, missing)
    assert brightening[0.5] > brightening[0.0] + 0.15 * missing, (brightening, missing)


def test_the_heads_weight_decay_pulls_its_weights_to_zero(cast_folders, random_encoder) -> None:
    """Same run with and without the decay: the decayed head ends with smaller weights."""
    norms = []
    for decay in (0.0, 1.0):
        trainer = Trainer(fixes_config(*cast_folders, steps=1, color_steps=40, head_weight_decay=decay),
                          random_encoder)
        trainer.train_step()
        norms.append(sum(float(p.norm()) for p in trainer.color.head.parameters()))
    assert norms[1] < 0.99 * norms[0], norms


def test_a_head_with_an_update_budget_ends_as_a_run_of_that_length_and_then_stays(
        cast_folders, random_encoder) -> None:
    """6 steps with a budget of 3 steps' head updates: the head ends exactly as in a run of 3
    steps (same updates, its learning rate decayed over them: halved at the third) and does not
    move after them, while the rest of G_H trains on."""
    short = Trainer(fixes_config(*cast_folders, steps=3, color_steps=2, head_updates=0), random_encoder)
    for _ in range(3):
        short.train_step()
    long = Trainer(fixes_config(*cast_folders, steps=6, color_steps=2, head_updates=6), random_encoder)
    for _ in range(3):
        long.train_step()
    head_after_budget = {k: v.clone() for k, v in long.color.head.state_dict().items()}
    unet_after_budget = {k: v.clone() for k, v in long.model.g_h.state_dict().items()
                         if not k.startswith("curve.")}
    for _ in range(3):
        losses = long.train_step()
    assert losses["color"] == 0.0
    for name, value in long.color.head.state_dict().items():
        assert torch.equal(value, short.color.head.state_dict()[name]), name
        assert torch.equal(value, head_after_budget[name]), name
    assert any(not torch.equal(v, unet_after_budget[k]) for k, v in long.model.g_h.state_dict().items()
               if not k.startswith("curve.")), "the rest of G_H stopped too"


def test_the_identity_term_gets_crops_with_the_low_photos_own_defects(cast_folders, random_encoder) -> None:
    trainer = Trainer(fixes_config(*cast_folders, steps=1, color_steps=1), random_encoder)
    trainer.train_step()
    crops = torch.full((16, 3, 8, 8), 0.5)
    out = trainer.color.degrade(crops)
    assert torch.equal(out, (out * 255).round() / 255)  # 8-bit, as photos are
    shifts = out[:, 0].mean((1, 2)) - out[:, 2].mean((1, 2))
    assert float(shifts.max()) > 0.1 and float(shifts.min()) < -0.1, shifts  # red and blue casts drawn


def test_a_resumed_run_makes_the_same_pairs_and_draws(cast_folders, random_encoder, tmp_path: Path) -> None:
    trainer = Trainer(fixes_config(*cast_folders, steps=3, color_steps=1), random_encoder)
    trainer.train_step()
    path = trainer.save_state(tmp_path / "s.state.safetensors")
    resumed = Trainer.resume(path, encoder=random_encoder)
    resumed.train_step()
    trainer.train_step()
    for mine, theirs in zip(trainer.color.pairs, resumed.color.pairs, strict=True):
        assert torch.equal(mine, theirs)
    crops = torch.rand(4, 3, 8, 8)
    assert torch.equal(trainer.color.degrade(crops), resumed.color.degrade(crops))


def test_the_cli_trains_with_the_fixes_preset(cast_folders, tmp_path: Path) -> None:
    low, high = cast_folders
    out = tmp_path / "m.safetensors"
    assert main(["train", "--low", str(low), "--high", str(high), "--out", str(out), "--steps", "1",
                 "--preset", "fixes", "--encoder", "random", "--batch-size", "1", "--load-size", "48",
                 "--crop-size", "32", "--train-size", "32", "--device", "cpu",
                 "--generic-defects", "0.25"]) == 0
    info = read_model_info(out)
    assert info["training"]["head_objective"] == "quantile_pairs"
    assert info["training"]["head_generic_defects"] == 0.25
    assert info["config"]["curve_pixel_stats"] is True


def test_a_folder_of_one_photo_trains(tmp_path: Path, random_encoder) -> None:
    """One photo has no spread between photos: the share is 0, not a NaN that would stop training."""
    low, high = tmp_path / "low", tmp_path / "high"
    cast_photos(low, 1, seed=1, gains=[RED])
    write_photos(high, 3, seed=2, dark=False)
    trainer = Trainer(fixes_config(low, high, steps=1, color_steps=2), random_encoder)
    losses = trainer.train_step()
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert torch.count_nonzero(trainer.color.quantiles.shrink) == 0
