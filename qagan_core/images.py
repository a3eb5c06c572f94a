"""Reading and writing photos as float tensors ``[3, H, W]`` in 0..1.

Conventions (documented for users in the README):
- EXIF orientation is applied, so a portrait photo comes out upright.
- Transparency (RGBA, LA, palette with transparency) is composited on white:
  photographers' PNG exports with alpha look as they do in a viewer.
- Grayscale is replicated to three channels; CMYK is converted to RGB.
- 16-bit images keep their precision (scaled by 1/65535).
- Images above ``MAX_PIXELS`` are refused before decoding (decompression bombs).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from .errors import DataError
from .files import atomic_write_bytes

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


def _to_array(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to float32 RGB ``[H, W, 3]`` in 0..1."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if arr.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
        arr = np.clip(arr / scale, 0.0, 1.0)
        return np.repeat(arr[..., None], 3, axis=2).astype(np.float32)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        if arr.max(initial=0) > 1.0:
            arr = arr / 255.0
        return np.repeat(np.clip(arr, 0, 1)[..., None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode in ("1", "L", "CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode in ("LA", "La", "PA"):
        img = img.convert("RGBA")
    elif mode == "RGBa":
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img).convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.float32) / 255.0


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


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Read an image file as a float tensor ``[3, H, W]`` in 0..1."""
    return pil_to_tensor(open_image(path, max_pixels=max_pixels))


def fit_long_side(x: torch.Tensor, max_side: int, min_side: int = 1) -> torch.Tensor:
    """``x`` (``[3,H,W]`` or ``[B,3,H,W]``) downscaled, antialiased, so its long side is at
    most ``max_side`` (each side at least ``min_side``); ``x`` itself when it already fits."""
    h, w = x.shape[-2:]
    scale = max_side / max(h, w)
    if scale >= 1:
        return x
    size = (max(min_side, round(h * scale)), max(min_side, round(w * scale)))
    batch = x if x.dim() == 4 else x[None]
    y = F.interpolate(batch.float(), size=size, mode="bilinear", antialias=True,
                      align_corners=False).clamp(0, 1)
    return y if x.dim() == 4 else y[0]


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    arr = _to_array(img)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """``[3, H, W]`` float in 0..1 → 8-bit RGB PIL image (rounded, clamped)."""
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a [3, H, W] tensor, got {tuple(image.shape)}")
    arr = (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).cpu().numpy(), "RGB")


def save_image(image: torch.Tensor, path: str | os.PathLike, quality: int = 95) -> Path:
    """Save ``[3, H, W]`` in 0..1 atomically; the format follows the extension."""
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
    atomic_write_bytes(path, buf.getvalue())
    return path
