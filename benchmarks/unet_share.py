"""What G_H's U-Net adds to a trained model's output, on a benchmark task's test photos.

For each model: the mean test PSNR of its global transform alone (the head: the U-Net's
residual left out), of the whole G_H, and of the whole G_H with the residual computed on the
photo scaled to 1/2 and 1/4 (then upsampled and added to the transform of the full photo):
training crops are 256 px of a 512 px photo resized to 128 (or 64 on a CPU budget), so the
U-Net is trained at 1/2 (or 1/4) of the test photos' scale. Also what of the residual
hurts: G_H with the residual's per-channel mean over the photo removed, and with its low
frequencies removed (the residual minus its 32-px block means, bilinearly upsampled), and
the residual's mean absolute value and absolute per-channel mean, in 8-bit levels.

    python benchmarks/unet_share.py punchy product_cmp_15min_s0 product_cmp_60min_s0 --photos 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.quality import BORDER, DEFAULT_OUT, test_pairs, to_tensor  # noqa: E402
from qagan_core import load_model  # noqa: E402
from qagan_core.metrics import psnr_per_image  # noqa: E402


def on_8_bits(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


@torch.no_grad()
def scores(model, pairs: list, scales: tuple[int, ...] = (2, 4)) -> dict[str, float]:
    """Mean PSNR over ``pairs`` of the head alone, of G_H, and of G_H with the residual at 1/s."""
    rows: dict[str, list[float]] = {}
    for _, x, t in pairs:
        x, t = to_tensor(x)[None], to_tensor(t)
        transform = model.global_transform(x)
        head = model.g_h.pointwise(x, transform)
        whole = model.enhance_tensor(x, transform)
        r = whole - head
        mean = r.mean(dim=(2, 3), keepdim=True)
        low = F.interpolate(F.avg_pool2d(r, 32, ceil_mode=True), size=x.shape[-2:], mode="bilinear",
                            align_corners=False)
        rows.setdefault("|r| (levels)", []).append(255 * float(r.abs().mean()))
        rows.setdefault("|mean r| (levels)", []).append(255 * float(mean.abs().mean()))
        outputs = {"head": head, "G_H": whole, "G_H, residual mean removed": head + r - mean,
                   "G_H, residual low-pass removed": head + r - low}
        for s in scales:
            small = F.interpolate(x, scale_factor=1 / s, mode="bilinear", antialias=True, align_corners=False)
            residual = model.enhance_tensor(small, transform) - model.g_h.pointwise(small, transform)
            outputs[f"G_H, residual at 1/{s}"] = head + F.interpolate(
                residual, size=x.shape[-2:], mode="bilinear", align_corners=False)
        for name, y in outputs.items():
            rows.setdefault(name, []).append(float(psnr_per_image(on_8_bits(y)[0], t, BORDER)[0]))
    return {name: sum(v) / len(v) for name, v in rows.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("task", help="a benchmark task folder under --root (e.g. punchy)")
    p.add_argument("models", nargs="+", help="model names under TASK/models")
    p.add_argument("--root", default=str(DEFAULT_OUT))
    p.add_argument("--photos", type=int, default=20, help="the first N test photos")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.root) / args.task
    pairs = test_pairs(out)[: args.photos]
    for name in args.models:
        model = load_model(out / "models" / f"{name}.safetensors")
        result = scores(model, pairs)
        print(f"{name} ({len(pairs)} photos): " + ", ".join(f"{k} {v:.2f}" for k, v in result.items()),
              flush=True)


if __name__ == "__main__":
    main()
