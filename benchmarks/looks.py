"""Global colour grades for the look benchmark (issue 9): a photographer's "look".

The look tasks ask a model trained on untouched photos (low folder) and on
*other* photos carrying one grade (high folder) to give held-out untouched
photos that grade; the truth is the grade applied to them. Each grade is a
fixed global function of the pixel colour, in display space (0..1 floats,
``[H, W, 3]``), clipped and quantised to 8 bits like a saved photo:

- ``warm``: warmer white balance and a lifted black (reds up, blues down),
  slightly richer colour;
- ``cool_matte``: faded, flat, cool: blacks lifted to 0.10, whites down to 0.88,
  a blue tint in the shadows, colour reduced by a quarter;
- ``punchy``: a strong S-curve on every channel and 35 % more colour.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.defects import LUMA, quantise


def _saturate(y: np.ndarray, factor: float) -> np.ndarray:
    luma = (y @ LUMA)[..., None]
    return luma + factor * (y - luma)


def warm(x: np.ndarray) -> np.ndarray:
    y = np.stack([x[..., 0] ** 0.8, x[..., 1] ** 0.95, 0.9 * x[..., 2] ** 1.25], axis=-1)
    y = 0.03 + 0.97 * y
    return quantise(_saturate(y, 1.1))


def cool_matte(x: np.ndarray) -> np.ndarray:
    y = _saturate(x, 0.75)
    y = 0.10 + 0.78 * y
    y = y * np.array([0.93, 1.0, 1.07], dtype=np.float32) + np.array([0.0, 0.01, 0.03], dtype=np.float32)
    return quantise(y)


def punchy(x: np.ndarray) -> np.ndarray:
    a = 3.0
    y = (np.tanh(a * (x - 0.5)) / np.tanh(a / 2) + 1.0) / 2.0
    return quantise(_saturate(y, 1.35))


GRADES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "warm": warm,
    "cool_matte": cool_matte,
    "punchy": punchy,
}
