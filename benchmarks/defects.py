"""Synthetic but realistic photographic defects for the quality benchmark (issue 5).

Every defective image gets one to three of six defect classes (colour cast,
exposure error, vignetting, tone, haze / low contrast, desaturation), chosen at
random, each at a clearly visible strength drawn uniformly from the ranges in
``DEFECT_RANGES``; the classes not chosen keep their neutral value. Real
photos rarely have every defect at once, and a fixed per-channel stretch
(auto-contrast) helps some of these images (haze, casts) and hurts others, as
on real photos. The draw depends only on ``(seed, index)``: the same photo at
the same position of the split always gets the same defects, on every machine.

v3 (``visible_defects``): a strength that is visible on one photo can be
invisible on another (desaturating a nearly grey photo changes nothing; v2's
``photo_023`` kept 53.5 dB). A draw whose defective photo stays closer than
``VISIBLE_PSNR`` to the original is replaced by the next draw of the same
photo, ``draw_defects(seed, index, attempt)`` for attempt 1, 2, ...; attempt 0
is the v2 draw, so photos whose v2 defects were visible keep them.

Order of operations, chosen to follow a camera pipeline:

1. linear light (sRGB decoded with gamma 2.2): white-balance cast (red and
   blue channel gains), exposure error (a gain in stops; highlights that go
   above 1 clip, as in a real over-exposure), vignetting (gain
   ``1 - v * r^2`` with ``r`` the distance to the centre, 1 at the corners);
2. back to display space (gamma 1/2.2): tone curve ``y = x ** gamma``
   (gamma > 1 darkens mid-tones, < 1 lifts them), low contrast / haze
   ``y = (1 - h) y + h * airlight``, desaturation towards the Rec. 601 luma;
3. clip to 0..1 and quantise to 8 bits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# name -> (low, high), uniform; a value is drawn with its sign/side at random where
# the class has two sides (darker/brighter, warmer/cooler...).
DEFECT_RANGES: dict[str, tuple[float, float]] = {
    "exposure_stops": (0.4, 1.3),  # under (-) or over (+, 0.6 of it) exposure, linear gain 2**stops
    "wb_shift": (0.12, 0.3),  # red gain 1 + s and blue gain 1 - s, or the reverse
    "vignette": (0.25, 0.5),
    "gamma": (1.2, 1.5),  # mid-tones darker (gamma) or lifted (1 / gamma)
    "haze": (0.15, 0.45),
    "airlight": (0.55, 0.9),
    "saturation": (0.4, 0.7),
}
CLASSES = ("cast", "exposure", "vignette", "tone", "haze", "desaturation")
NEUTRAL = {"exposure_stops": 0.0, "wb_red_gain": 1.0, "wb_blue_gain": 1.0, "vignette": 0.0,
           "gamma": 1.0, "haze": 0.0, "airlight": 0.7, "saturation": 1.0}

DISPLAY_GAMMA = 2.2
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Defects:
    exposure_stops: float
    wb_red_gain: float
    wb_blue_gain: float
    vignette: float
    gamma: float
    haze: float
    airlight: float
    saturation: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


VISIBLE_PSNR = 30.0  # dB between defective and original photo: above it, draw again
MAX_ATTEMPTS = 100


def draw_defects(seed: int, index: int, attempt: int = 0) -> Defects:
    """The defects of image ``index`` of a split built with ``seed``; ``attempt``: ``visible_defects``."""
    rng = np.random.default_rng([seed, index] if attempt == 0 else [seed, index, attempt])
    r = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in DEFECT_RANGES.items()}
    sides = rng.random(3) < 0.5
    chosen = set(rng.choice(CLASSES, size=int(rng.integers(1, 4)), replace=False))
    v = dict(NEUTRAL)
    if "cast" in chosen:
        s = r["wb_shift"] if sides[0] else -r["wb_shift"]
        v["wb_red_gain"], v["wb_blue_gain"] = 1.0 + s, 1.0 - s
    if "exposure" in chosen:
        v["exposure_stops"] = -r["exposure_stops"] if sides[1] else 0.6 * r["exposure_stops"]
    if "vignette" in chosen:
        v["vignette"] = r["vignette"]
    if "tone" in chosen:
        v["gamma"] = r["gamma"] if sides[2] else 1.0 / r["gamma"]
    if "haze" in chosen:
        v["haze"], v["airlight"] = r["haze"], r["airlight"]
    if "desaturation" in chosen:
        v["saturation"] = r["saturation"]
    return Defects(**v)


def visible_defects(image: np.ndarray, seed: int, index: int) -> tuple[Defects, int, np.ndarray]:
    """The first draw for ``(seed, index)`` that changes ``image`` visibly (PSNR to it at most
    ``VISIBLE_PSNR``): ``(defects, attempt, defective image)``."""
    original = quantise(image)
    for attempt in range(MAX_ATTEMPTS):
        d = draw_defects(seed, index, attempt)
        y = apply_defects(original, d)
        mse = float(np.mean((y.astype(np.float64) - original) ** 2))
        if mse > 0 and 10.0 * np.log10(1.0 / mse) <= VISIBLE_PSNR:
            return d, attempt, y
    raise ValueError(f"no visible defects for image {index} in {MAX_ATTEMPTS} draws (a flat image?)")


def apply_defects(image: np.ndarray, d: Defects) -> np.ndarray:
    """``image`` float32 ``[H, W, 3]`` in 0..1 -> defective float32 image on the 8-bit grid."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image [H, W, 3], got shape {image.shape}")
    x = np.clip(image.astype(np.float32), 0.0, 1.0) ** DISPLAY_GAMMA
    gains = np.array([d.wb_red_gain, 1.0, d.wb_blue_gain], dtype=np.float32) * 2.0**d.exposure_stops
    x = x * gains
    h, w = x.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((yy - (h - 1) / 2) / ((h - 1) / 2 or 1)) ** 2 + ((xx - (w - 1) / 2) / ((w - 1) / 2 or 1)) ** 2
    x = x * (1.0 - d.vignette * r2 / 2.0)[..., None]  # r2 / 2 is 1 at the corners
    y = np.clip(x, 0.0, 1.0) ** (1.0 / DISPLAY_GAMMA)
    y = y**d.gamma
    y = (1.0 - d.haze) * y + d.haze * d.airlight
    luma = (y @ LUMA)[..., None]
    y = luma + d.saturation * (y - luma)
    return quantise(y)


def quantise(image: np.ndarray) -> np.ndarray:
    """Clip to 0..1 and round to the 8-bit grid (stays float32)."""
    return (np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)
