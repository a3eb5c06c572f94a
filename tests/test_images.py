"""Reading every kind of photo a user may have; refusing what cannot be read safely."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qagan_core import DataError, load_image, save_image


def test_grayscale_is_replicated(tmp_path: Path) -> None:
    Image.new("L", (5, 4), 100).save(tmp_path / "g.png")
    x = load_image(tmp_path / "g.png")
    assert x.shape == (3, 4, 5)
    assert torch.allclose(x, torch.full_like(x, 100 / 255))


def test_palette_image(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4))
    img.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    img.save(tmp_path / "p.png")
    x = load_image(tmp_path / "p.png")
    assert torch.allclose(x[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    arr = np.zeros((2, 2, 4), np.uint8)
    arr[..., 0] = 255  # red
    arr[0, 0, 3] = 0  # transparent -> white
    arr[0, 1, 3] = 255  # opaque -> red
    arr[1, :, 3] = 128  # half -> pink
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    assert torch.allclose(x[:, 0, 0], torch.ones(3))
    assert torch.allclose(x[:, 0, 1], torch.tensor([1.0, 0.0, 0.0]))
    assert x[1, 1, 0] == pytest.approx(127 / 255, abs=2 / 255)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (6, 6), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    x = load_image(tmp_path / "c.jpg")
    assert x.shape == (3, 6, 6)
    assert x[0].mean() > 0.9 and x[1].mean() < 0.1  # red


def test_16bit_keeps_precision(tmp_path: Path) -> None:
    arr = np.full((3, 3), 1000, dtype=np.uint16)
    arr[0, 0] = 65535
    Image.fromarray(arr).save(tmp_path / "d.png")
    x = load_image(tmp_path / "d.png")
    assert x[0, 1, 1] == pytest.approx(1000 / 65535, abs=1e-6)
    assert x[0, 0, 0] == pytest.approx(1.0)


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (8, 4), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (3, 8, 4)


def _png_header_only(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    _png_header_only(tmp_path / "bomb.png", 40000, 40000)  # 1600 MP claimed, a few bytes on disk
    with pytest.raises(DataError, match="refused"):
        load_image(tmp_path / "bomb.png")


def test_truncated_and_non_images_are_clear_errors(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.jpg").write_text("shopping list")
    for name in ("cut.jpg", "notes.jpg", "missing.png"):
        with pytest.raises(DataError, match=name):
            load_image(tmp_path / name)


def test_save_round_trip_and_atomic(tmp_path: Path) -> None:
    x = torch.rand(3, 7, 9)
    save_image(x, tmp_path / "o.png")
    assert torch.allclose(load_image(tmp_path / "o.png"), x, atol=0.5 / 255 + 1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]  # no temporary left behind
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "o.png").stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(DataError, match="unsupported"):
        save_image(x, tmp_path / "o.xyz")


def test_importing_the_pack_leaves_pils_bomb_limit_alone() -> None:
    """The host's (and every other node's) protection against decompression bombs stays on."""
    import subprocess
    import sys

    code = ("import PIL.Image as I; before = I.MAX_IMAGE_PIXELS; import qagan_core; "
            "from qagan_core.images import MAX_PIXELS; "
            "assert I.MAX_IMAGE_PIXELS == before is not None, I.MAX_IMAGE_PIXELS; "
            "assert MAX_PIXELS < 2 * before")
    subprocess.run([sys.executable, "-c", code], check=True)
