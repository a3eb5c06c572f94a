"""QAGAN Evaluate: PSNR and SSIM against a reference."""

from __future__ import annotations

import torch

from ..qagan_core import QAGANError, psnr, ssim
from . import tensors
from .common import CATEGORY


class QAGANEvaluate:
    DESCRIPTION = (
        "Compare images with reference images: PSNR (dB) and SSIM, averaged over the batch. "
        "Sizes must match; a reference batch of 1 is compared with every image. Alpha is ignored, "
        "grayscale is compared as RGB."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("FLOAT", "FLOAT", "STRING")
    RETURN_NAMES = ("psnr", "ssim", "report")
    OUTPUT_TOOLTIPS = ("Mean PSNR in dB.", "Mean SSIM (0..1).", "The values as readable text.")
    FUNCTION = "evaluate"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The images to judge (e.g. enhanced photos)."}),
                "reference": (
                    "IMAGE", {"tooltip": "The ground-truth images, same size (batch 1 or the same batch)."}
                ),
            }
        }

    def evaluate(self, image: torch.Tensor, reference: torch.Tensor) -> tuple[float, float, str]:
        if isinstance(image, (list, tuple)) or isinstance(reference, (list, tuple)):
            raise QAGANError("QAGAN Evaluate takes one IMAGE batch and one reference batch, not lists")
        images = [x for x, _ in tensors.split(image)]
        refs = [x for x, _ in tensors.split(reference)]
        if not images or not refs:
            raise QAGANError("cannot evaluate an empty batch")
        if len(refs) not in (1, len(images)):
            raise QAGANError(
                f"reference batch has {len(refs)} images for {len(images)}: use 1 or {len(images)}"
            )
        if len(refs) == 1:
            refs = refs * len(images)
        if images[0].shape != refs[0].shape:
            raise QAGANError(
                f"image is {images[0].shape[2]}x{images[0].shape[1]} but the reference is "
                f"{refs[0].shape[2]}x{refs[0].shape[1]}: they must have the same size"
            )
        a, b = torch.stack(images), torch.stack(refs)
        p, s = psnr(a, b), ssim(a, b)
        mean_of = f" (mean of {len(images)} images)" if len(images) > 1 else ""
        lines = [f"PSNR {p:.2f} dB, SSIM {s:.4f}{mean_of}"]
        if len(images) > 1:
            for i in range(len(images)):
                lines.append(f"  image {i + 1}: PSNR {psnr(a[i], b[i]):.2f} dB, SSIM {ssim(a[i], b[i]):.4f}")
        return (p, s, "\n".join(lines))
