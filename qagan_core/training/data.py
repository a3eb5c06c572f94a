"""Unpaired training data: two folders of photos, sampled independently.

Each step draws a random low-quality and a random high-quality image per batch
slot (the domains are re-paired at random every step). A sample is the photo
resized so its long side is at most ``load_size`` (upscaled so its short side
reaches ``crop_size`` if smaller), a random ``crop_size`` square, resized to
``train_size``, and a random horizontal flip.

Unreadable files are skipped with a warning and counted; a folder with no
readable image is an error naming it. The trainer draws its batches through
``loader.py`` (``sample_at``: which photo is decided there, per step and slot).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import DataError
from ..images import IMAGE_EXTENSIONS, list_images, open_image, pil_to_tensor
from ..pixels import fit_long_side, resize, scaled_shape, thumbnail

log = logging.getLogger("qagan")


@dataclass
class SampleSpec:
    load_size: int = 512
    crop_size: int = 256
    train_size: int = 128
    flip: bool = True


@dataclass
class ImageFolder:
    """A folder of training photos with a bounded in-memory cache of decoded images."""

    folder: Path
    spec: SampleSpec
    cache_bytes: int = 1 << 30
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    _cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _cached_bytes: int = 0
    _bad: set[int] = field(default_factory=set, repr=False)  # found unreadable by sample_at

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        candidates = list_images(self.folder)
        if not candidates:
            raise DataError(
                f"no images in folder {self.folder} (looked for {', '.join(IMAGE_EXTENSIONS)}, "
                "in subfolders too)"
            )
        for path in candidates:
            try:
                with Image.open(path) as img:
                    img.verify()
                self.files.append(path)
            except Exception as exc:  # not an image, corrupt header/CRC
                self._skip(path, str(exc) or type(exc).__name__)
        self._require_files()

    def __len__(self) -> int:
        return len(self.files)

    def _skip(self, path: Path, reason: str) -> None:
        self.skipped.append((path, reason))
        log.warning("skipping unreadable image %s: %s", path, reason)

    def _require_files(self) -> None:
        if not self.files:
            raise DataError(
                f"no readable images in folder {self.folder} ({len(self.skipped)} file(s) skipped "
                "as unreadable)"
            )

    def _decode(self, index: int) -> np.ndarray:
        if index in self._cache:
            return self._cache[index]
        s = self.spec
        img = open_image(self.files[index], max_side=s.load_size)
        arr = pil_to_tensor(img)
        h, w = arr.shape[1:]
        scale = min(1.0, s.load_size / max(h, w))
        scale = max(scale, s.crop_size / min(h, w))
        if scale != 1.0:
            arr = resize(arr, scaled_shape(h, w, scale, s.crop_size), antialias=scale < 1).clamp(0, 1)
        out = (arr * 255).round().to(torch.uint8).numpy()
        if self._cached_bytes + out.nbytes <= self.cache_bytes:
            self._cache[index] = out
            self._cached_bytes += out.nbytes
        return out

    def _drop(self, index: int, reason: str) -> None:
        path = self.files.pop(index)
        self._cache = {}  # indices shifted
        self._cached_bytes = 0
        self._bad = set()
        self._skip(path, reason)
        self._require_files()

    def thumbnails(self, size: int) -> torch.Tensor:
        """Every photo whole, resized to ``size`` x ``size`` as the global head sees it: ``[N,3,s,s]``."""
        thumbs = []
        index = 0
        while index < len(self.files):
            try:
                arr = self._decode(index)
            except DataError as exc:  # the next file moves to this index
                self._drop(index, str(exc))
                continue
            thumbs.append(thumbnail(torch.from_numpy(arr), size).clamp(0, 1))
            index += 1
        return torch.stack(thumbs)

    def sample(self, rng: random.Random) -> torch.Tensor:
        """One training sample ``[3, train_size, train_size]`` in 0..1, of a photo drawn from ``rng``."""
        while True:
            index = rng.randrange(len(self.files))
            try:
                arr = self._decode(index)
                break
            except DataError as exc:  # truncated file found at decode time
                self._drop(index, str(exc))
        return self._crop(arr, rng)

    def sample_at(self, index: int, rng: random.Random) -> torch.Tensor:
        """The training sample of photo ``index``, its crop and flip drawn from ``rng``.

        An unreadable photo is replaced by the next readable one (in file order) and
        reported; the file list keeps its length, so every process and DataLoader
        worker holding a copy of this folder maps the same index to the same photo.
        """
        n = len(self.files)
        for offset in range(n):
            i = (index + offset) % n
            if i in self._bad:
                continue
            try:
                return self._crop(self._decode(i), rng)
            except DataError as exc:  # truncated file found at decode time
                self._bad.add(i)
                self._skip(self.files[i], str(exc))
        raise DataError(f"no readable images left in folder {self.folder} ({n} file(s) failed "
                        "to decode)")

    def _crop(self, arr: np.ndarray, rng: random.Random) -> torch.Tensor:
        s = self.spec
        _, h, w = arr.shape
        top = rng.randrange(h - s.crop_size + 1)
        left = rng.randrange(w - s.crop_size + 1)
        flip = s.flip and rng.random() < 0.5
        crop = torch.from_numpy(arr[:, top : top + s.crop_size, left : left + s.crop_size].copy())
        x = crop.float() / 255.0
        if s.crop_size != s.train_size:
            x = F.interpolate(x[None], size=(s.train_size, s.train_size), mode="bilinear",
                              antialias=s.train_size < s.crop_size, align_corners=False)[0]
        if flip:
            x = x.flip(-1)
        return x.clamp(0, 1)

    def batch(self, rng: random.Random, size: int) -> torch.Tensor:
        return torch.stack([self.sample(rng) for _ in range(size)])

    def first_image(self, max_side: int = 256) -> torch.Tensor:
        """The first readable image, downscaled: a fixed sample for previews."""
        for path in list(self.files):
            try:
                x = pil_to_tensor(open_image(path, max_side=max_side))
            except DataError:
                continue
            return fit_long_side(x, max_side, min_side=16)
        self._require_files()
        raise DataError(f"no readable images in folder {self.folder}")
