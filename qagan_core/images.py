"""Reading and writing photos as float tensors ``[3, H, W]`` in 0..1.

Conventions (documented for users in the README):
- EXIF orientation is applied, so a portrait photo comes out upright.
- Transparency (RGBA, LA, palette with transparency) is composited on white:
  photographers' PNG exports with alpha look as they do in a viewer.
- Grayscale is replicated to three channels; CMYK is converted to RGB.
- 16-bit images keep their precision (scaled by 1/65535).
- 8-bit images can be read compactly, as uint8 (``load_image_compact``).
- Images above ``MAX_PIXELS`` are refused before decoding (decompression bombs).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .errors import DataError
from .files import atomic_write_bytes
from .pixels import row_strips, to_float, to_uint8

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# 178 MP: larger than any camera photo, refuses bombs. Just under where PIL's own check
# (2 x PIL.Image.MAX_IMAGE_PIXELS by default) errors, so PIL's process-wide setting, which
# belongs to the host application, is left alone; PIL's warning below it is silenced locally.
MAX_PIXELS = 178_000_000


def list_images(folder: str | os.PathLike) -> list[Path]:
    """All image files under ``folder`` (recursive), sorted by path."""
    root = Path(folder)
    if not root.exists():
        raise DataError(f"folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"not a folder: {root}")
    files = [
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    return sorted(files)


def _check_size(img: Image.Image, path: Path | str, max_pixels: int) -> None:
    w, h = img.size
    if w * h > max_pixels:
        raise DataError(
            f"image refused: {path} is {w}x{h} = {w * h / 1e6:.0f} MP, above the "
            f"{max_pixels / 1e6:.0f} MP limit (possible decompression bomb)"
        )
    if w == 0 or h == 0:
        raise DataError(f"image has no pixels: {path}")


HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _rgb(img: Image.Image) -> Image.Image:
    """An 8-bit image (or a strip of one) as RGB; transparency composited on white."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode in ("1", "L", "CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img).convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _strips(img: Image.Image) -> Iterator[tuple[int, int, Image.Image]]:
    """``(r0, r1, strip)`` for the strips of rows of ``img``, each cropped when it is reached."""
    w, h = img.size
    for r0, r1 in row_strips(h, w):
        yield r0, r1, img.crop((0, r0, w, r1))


def _high_bit(img: Image.Image) -> torch.Tensor:
    """A 16-bit, 32-bit or float grayscale image as float32 ``[3,H,W]`` in 0..1: a 3-channel
    view of one channel, built strip by strip."""
    w, h = img.size
    out = torch.empty(1, h, w, dtype=torch.float32)
    if img.mode == "F":
        peak = np.max([np.asarray(s, dtype=np.float32).max(initial=0) for _, _, s in _strips(img)])
        for r0, r1, strip in _strips(img):
            arr = np.asarray(strip, dtype=np.float32)
            arr = np.clip(arr / 255.0 if peak > 1.0 else arr, 0, 1)
            out[0, r0:r1] = torch.from_numpy(arr)
        return out.expand(3, -1, -1)
    scale = 65535.0
    if not img.mode.startswith("I;16"):
        peak = max(np.asarray(s, dtype=np.float64).max(initial=0) for _, _, s in _strips(img))
        scale = 65535.0 if peak > 255 else 255.0
    for r0, r1, strip in _strips(img):
        arr = np.clip(np.asarray(strip, dtype=np.float64) / scale, 0.0, 1.0)
        out[0, r0:r1] = torch.from_numpy(arr.astype(np.float32))
    return out.expand(3, -1, -1)


def pil_to_compact(img: Image.Image) -> torch.Tensor:
    """Any PIL image as its compact RGB tensor ``[3,H,W]``: uint8 for 8-bit images, float32 in
    0..1 for 16-bit and float ones; ``pixels.to_float`` gives 0..1. Converted strip by strip."""
    if img.mode in HIGH_BIT_MODES:
        return _high_bit(img)
    w, h = img.size
    out = torch.empty(3, h, w, dtype=torch.uint8)
    for r0, r1, strip in _strips(img):
        out[:, r0:r1] = torch.from_numpy(np.array(_rgb(strip), dtype=np.uint8)).permute(2, 0, 1)
    return out


def open_image(
    path: str | os.PathLike, max_pixels: int = MAX_PIXELS, max_side: int | None = None
) -> Image.Image:
    """Open, size-check and fully decode an image; EXIF rotation applied.

    ``max_side`` lets JPEG decoding skip work (``draft``) when the caller will
    downscale anyway; the result is at least ``max_side`` on its long side.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
            _check_size(img, path, max_pixels)
            if max_side is not None and img.format == "JPEG":
                long_side = max(img.size)
                scale = max(1, long_side // max_side)
                if scale >= 2:
                    img.draft("RGB", (img.size[0] // scale, img.size[1] // scale))
            img.load()
            img = ImageOps.exif_transpose(img)
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise DataError(f"image refused: {path}: {exc} (possible decompression bomb)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc
    return img


def load_image_compact(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Read an image file as its compact tensor (``pil_to_compact``): uint8 ``[3, H, W]`` for
    8-bit photos, so a very large photo is never held as float."""
    return pil_to_compact(open_image(path, max_pixels=max_pixels))


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Read an image file as a float tensor ``[3, H, W]`` in 0..1."""
    return to_float(load_image_compact(path, max_pixels)).contiguous()


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """Any PIL image as a float tensor ``[3, H, W]`` in 0..1."""
    return to_float(pil_to_compact(img)).contiguous()


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """``[3, H, W]`` float in 0..1 (rounded, clamped) or uint8 → 8-bit RGB PIL image."""
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a [3, H, W] tensor, got {tuple(image.shape)}")
    h, w = image.shape[1:]
    pil = Image.new("RGB", (w, h))
    for r0, r1 in row_strips(h, w):
        rows = image[:, r0:r1].detach().cpu()
        rows = rows if rows.dtype == torch.uint8 else to_uint8(rows)
        pil.paste(Image.fromarray(np.ascontiguousarray(rows.permute(1, 2, 0).numpy()), "RGB"), (0, r0))
    return pil


def save_image(image: torch.Tensor, path: str | os.PathLike, quality: int = 95) -> Path:
    """Save ``[3, H, W]`` (float in 0..1, or uint8) atomically; the format follows the extension."""
    import io

    path = Path(path)
    pil = tensor_to_pil(image)
    fmt = {
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".png": "PNG",
        ".webp": "WEBP",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
    }.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"unsupported output format: {path.suffix or '(none)'} in {path}")
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "JPEG":
        kwargs["subsampling"] = 0
    pil.save(buf, format=fmt, **kwargs)
    atomic_write_bytes(path, buf.getbuffer())  # no copy of the encoded file
    return path
