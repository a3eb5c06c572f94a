"""The quality benchmark's defect synthesis and split are deterministic and behave as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.defects import NEUTRAL, VISIBLE_PSNR, Defects, apply_defects, draw_defects, visible_defects
from benchmarks.quality import (
    grayworld_autocontrast,
    make_split,
    parse_args,
    square_crop,
)

NO_DEFECTS = Defects(**NEUTRAL)


def gradient_image(h: int = 24, w: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / (w - 1), yy / (h - 1), 1 - xx / (w - 1)], axis=2)
    return np.round(img * 255) / 255


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_invisible_draw_is_replaced_and_visible_first_draw_kept() -> None:
    """v3: desaturating a grey photo changes nothing, so that draw is replaced by a visible one;
    a draw that is visible on its photo stays the v2 draw (attempt 0)."""
    grey = np.repeat(np.linspace(0.2, 0.8, 32, dtype=np.float32)[None, :, None], 3, 2).repeat(24, 0)
    grey = np.round(grey * 255) / 255
    assert psnr(apply_defects(grey, draw_defects(0, 23)), grey) > 45  # index 23: desaturation only
    d, attempt, out = visible_defects(grey, 0, 23)
    assert attempt > 0 and d == draw_defects(0, 23, attempt)
    assert psnr(out, grey) <= VISIBLE_PSNR
    assert np.array_equal(out, apply_defects(grey, d))
    colourful = gradient_image()
    d, attempt, out = visible_defects(colourful, 0, 1)
    assert psnr(apply_defects(colourful, draw_defects(0, 1)), colourful) <= VISIBLE_PSNR
    assert attempt == 0 and d == draw_defects(0, 1)
    assert visible_defects(colourful, 0, 1)[0] == d  # deterministic


def test_draw_is_deterministic_and_gives_one_to_three_visible_defects() -> None:
    assert draw_defects(0, 7) == draw_defects(0, 7)
    assert draw_defects(0, 7) != draw_defects(0, 8)
    assert draw_defects(0, 7) != draw_defects(1, 7)
    for i in range(50):
        values = draw_defects(3, i).to_dict()
        changed = {k for k, v in values.items() if k != "airlight" and abs(v - NEUTRAL[k]) > 1e-6}
        classes = {"wb_red_gain": "cast", "wb_blue_gain": "cast", "exposure_stops": "exposure",
                   "vignette": "vignette", "gamma": "tone", "haze": "haze", "saturation": "desaturation"}
        assert 1 <= len({classes[k] for k in changed}) <= 3
        assert all(abs(values[k] - NEUTRAL[k]) >= 0.1 for k in changed)


def test_neutral_defects_are_the_identity_on_8bit_images() -> None:
    img = gradient_image()
    out = apply_defects(img, NO_DEFECTS)
    assert np.abs(out - img).max() <= 1.5 / 255  # only gamma-roundtrip rounding


def test_each_defect_moves_the_image_the_documented_way() -> None:
    img = np.full((16, 16, 3), 0.5, dtype=np.float32)
    img[..., 0] = 0.7
    under = apply_defects(img, Defects(**{**NO_DEFECTS.to_dict(), "exposure_stops": -1.0}))
    assert under.mean() < img.mean()
    warm = apply_defects(img, Defects(**{**NO_DEFECTS.to_dict(), "wb_red_gain": 1.3}))
    assert warm[..., 0].mean() > img[..., 0].mean() and abs(warm[..., 1].mean() - 0.5) < 2 / 255
    grey = apply_defects(img, Defects(**{**NO_DEFECTS.to_dict(), "saturation": 0.0}))
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1 / 255
    vignette = apply_defects(img, Defects(**{**NO_DEFECTS.to_dict(), "vignette": 0.5}))
    assert vignette[0, 0].mean() < vignette[8, 8].mean()
    hazy = apply_defects(gradient_image(), Defects(**{**NO_DEFECTS.to_dict(), "haze": 0.4}))
    assert hazy.std() < gradient_image().std()
    out = apply_defects(gradient_image(), draw_defects(0, 1))
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert np.allclose(out * 255, np.round(out * 255), atol=1e-3)


def test_split_is_disjoint_complete_and_deterministic() -> None:
    names = [f"p{i:03d}.jpg" for i in range(30)]
    split = make_split(names, seed=0, n_test=6)
    assert split == make_split(names, seed=0, n_test=6)
    assert split != make_split(names, seed=1, n_test=6)
    sets = [set(split[k]) for k in ("test", "low", "high")]
    assert len(split["test"]) == 6
    assert sets[0].isdisjoint(sets[1]) and sets[0].isdisjoint(sets[2]) and sets[1].isdisjoint(sets[2])
    assert sets[0] | sets[1] | sets[2] == set(names)


def test_square_crop_and_baseline_shapes() -> None:
    img = Image.fromarray((gradient_image(30, 50) * 255).astype(np.uint8))
    crop = square_crop(img, 20)
    assert crop.size == (20, 20)
    assert grayworld_autocontrast(crop).size == (20, 20)


def test_build_writes_a_split(tmp_path: Path) -> None:
    from benchmarks.quality import cmd_build

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.fromarray((gradient_image(40 + i, 60) * 255).astype(np.uint8)).save(photos / f"p{i}.jpg")
    out = tmp_path / "out"
    cmd_build(parse_args(["--out", str(out), "build", "--photos", str(photos), "--n-test", "2"]))
    assert len(list((out / "test" / "input").glob("*.png"))) == 2
    assert len(list((out / "low").glob("*.png"))) + len(list((out / "high").glob("*.png"))) == 4
    with Image.open(next((out / "test" / "target").glob("*.png"))) as target:
        assert target.size == (512, 512)
    with pytest.raises(SystemExit):
        make_split(["a.jpg"], seed=0, n_test=1)


def test_scene_series_are_found_and_leakage_is_reported() -> None:
    from benchmarks.quality import scene_groups, scenes_across_test

    sources = "\n".join([
        "| file | package | original file | license |",
        "|---|---|---|---|",
        "| a.jpg | kphotoalbum (5.9) | demo/grand_canyon_1.jpg | GPL |",
        "| b.jpg | kphotoalbum (5.9) | demo/grand_canyon_3.jpg | GPL |",
        "| c.jpg | skimage (0.19) | data/motorcycle_left.png | BSD |",
        "| d.jpg | wallpapers (1) | One/images/2560x1600.jpg | GPL |",
        "| e.jpg | wallpapers (1) | Two/images/2560x1600.jpg | GPL |",
    ])
    groups = scene_groups(sources)
    assert groups["a.jpg"] == groups["b.jpg"] != groups["c.jpg"]
    assert groups["d.jpg"] != groups["e.jpg"]  # same name, other folder: other photos
    assert scenes_across_test({"test": ["a.jpg"], "low": ["b.jpg"], "high": ["c.jpg"]}, groups) == [
        ["a.jpg", "b.jpg"]]
    assert scenes_across_test({"test": ["a.jpg", "b.jpg"], "low": ["c.jpg"], "high": ["d.jpg"]}, groups) == []


def test_shipped_variant_follows_the_library_defaults() -> None:
    from benchmarks.quality import VARIANTS
    from qagan_core import TrainConfig

    shipped = VARIANTS["shipped"]
    assert ("--lambda-idt" in shipped) == (TrainConfig().lambda_idt > 0)
    if TrainConfig().lambda_idt > 0:
        assert float(shipped[shipped.index("--lambda-idt") + 1]) == TrainConfig().lambda_idt
    assert ("--pixel-stats" in shipped) == TrainConfig().model.curve_pixel_stats
    assert ("--lambda-adv" in shipped) == (TrainConfig().lambda_adv != 1.0)
    if TrainConfig().lambda_adv != 1.0:
        assert float(shipped[shipped.index("--lambda-adv") + 1]) == TrainConfig().lambda_adv
    assert ("--lambda-unet-mean" in shipped) == (TrainConfig().lambda_unet_mean > 0)
    if TrainConfig().lambda_unet_mean > 0:
        assert float(shipped[shipped.index("--lambda-unet-mean") + 1]) == TrainConfig().lambda_unet_mean


@pytest.mark.parametrize("task", ["warm", "cool_matte", "punchy"])
def test_look_task_grades_the_high_folder_and_the_truth_only(tmp_path: Path, task: str) -> None:
    from benchmarks.looks import GRADES
    from benchmarks.quality import cmd_build, to_array

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.fromarray((gradient_image(40 + i, 60) * 255).astype(np.uint8)).save(photos / f"p{i}.png")
    out = tmp_path / "out"
    cmd_build(parse_args(["--out", str(out), "build", "--photos", str(photos), "--n-test", "2",
                          "--task", task]))
    for name in (p.name for p in (out / "low").glob("*.png")):  # low: untouched photos
        assert np.array_equal(to_array(Image.open(out / "low" / name)), to_array(Image.open(photos / name)))
    for name in (p.name for p in (out / "high").glob("*.png")):  # high: the graded photos
        graded = GRADES[task](to_array(Image.open(photos / name)))
        assert np.abs(to_array(Image.open(out / "high" / name)) - graded).max() < 1e-6
    for name in (p.name for p in (out / "test" / "input").glob("*.png")):
        x = to_array(Image.open(out / "test" / "input" / name))
        truth = to_array(Image.open(out / "test" / "target" / name))
        assert np.abs(truth - GRADES[task](x)).max() < 1e-6 and np.abs(truth - x).mean() > 0.01
