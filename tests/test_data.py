"""Unpaired training folders: sampling, bad files, empty folders."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from helpers import write_photos
from PIL import Image

from qagan_core import DataError
from qagan_core.training import ImageFolder, SampleSpec

SPEC = SampleSpec(load_size=48, crop_size=32, train_size=16)


def test_samples_have_training_size_and_are_seeded(tmp_path: Path) -> None:
    write_photos(tmp_path / "sub" / "deeper", 3, seed=0, dark=False)  # found recursively
    folder = ImageFolder(tmp_path, SPEC)
    assert len(folder) == 3
    a = folder.batch(random.Random(5), 4)
    b = folder.batch(random.Random(5), 4)
    assert a.shape == (4, 3, 16, 16)
    assert (a == b).all()
    assert 0 <= float(a.min()) and float(a.max()) <= 1


def test_small_images_are_upscaled_to_the_crop(tmp_path: Path) -> None:
    Image.new("RGB", (10, 7), (200, 10, 10)).save(tmp_path / "tiny.png")
    folder = ImageFolder(tmp_path, SPEC)
    x = folder.sample(random.Random(0))
    assert x.shape == (3, 16, 16)


def test_bad_files_are_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_photos(tmp_path, 2, seed=0, dark=False)
    (tmp_path / "readme.png").write_text("not an image")
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "full.jpg").unlink()
    folder = ImageFolder(tmp_path, SPEC)
    assert [p.name for p, _ in folder.skipped] == ["readme.png"]
    rng = random.Random(0)
    for _ in range(20):  # the truncated JPEG is only found when decoded
        folder.sample(rng)
    assert sorted(p.name for p, _ in folder.skipped) == ["readme.png", "truncated.jpg"]
    assert len(folder) == 2
    assert "skipping unreadable image" in caplog.text


def test_empty_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no images in folder .*empty"):
        ImageFolder(tmp_path / "empty", SPEC)


def test_folder_without_readable_images(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_text("x")
    (tmp_path / "b.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=r"no readable images .*2 file"):
        ImageFolder(tmp_path, SPEC)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="folder not found"):
        ImageFolder(tmp_path / "nope", SPEC)
