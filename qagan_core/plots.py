"""A loss-curve picture of a training history, drawn with Pillow only."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

# (label, history keys summed, colour)
CURVES = (
    ("generator", ("loss_g",), (200, 40, 40)),
    ("discriminators", ("loss_d_h", "loss_d_l"), (40, 90, 200)),
    ("cycle", ("cycle",), (40, 150, 60)),
)


def _series(history: Sequence[dict[str, float]], keys: tuple[str, ...]) -> list[float]:
    return [float(sum(h.get(k, 0.0) for k in keys)) for h in history]


def loss_curve_image(
    history: Sequence[dict[str, float]], width: int = 640, height: int = 360
) -> torch.Tensor:
    """The training losses per step as an RGB image ``[3, height, width]`` in 0..1."""
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    if width < 32 or height < 32:
        raise ValueError(f"a loss curve needs at least 32x32 pixels, got {width}x{height}")
    left, right = min(56, width // 4), width - min(12, width // 16) - 1
    top, bottom = min(28, height // 6), height - min(28, height // 6) - 1
    draw.rectangle((left, top, right, bottom), outline=(0, 0, 0))
    series = [(label, _series(history, keys), colour) for label, keys, colour in CURVES]
    values = [v for _, s, _ in series for v in s if math.isfinite(v)]
    if not values:
        draw.text((left + 10, (top + bottom) // 2), "no training steps yet", fill=(0, 0, 0))
    else:
        lo, hi = min(values), max(values)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        n = len(history)

        def xy(i: int, v: float) -> tuple[float, float]:
            x = left + (right - left) * (i / max(1, n - 1))
            y = bottom - (bottom - top) * ((v - lo) / (hi - lo))
            return x, y

        for label_i, (label, s, colour) in enumerate(series):
            points = [xy(i, v) for i, v in enumerate(s) if math.isfinite(v)]
            if len(points) == 1:
                x, y = points[0]
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
            elif points:
                draw.line(points, fill=colour, width=2)
            draw.text((left + 8 + 130 * label_i, 8), label, fill=colour)
        draw.text((4, top), f"{hi:.3g}", fill=(0, 0, 0))
        draw.text((4, bottom - 10), f"{lo:.3g}", fill=(0, 0, 0))
        first = int(history[0].get("step", 1))
        last = int(history[-1].get("step", n))
        draw.text((left, bottom + 6), f"step {first}", fill=(0, 0, 0))
        draw.text((right - 70, bottom + 6), f"step {last}", fill=(0, 0, 0))
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()
