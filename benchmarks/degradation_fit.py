"""How much the learned degradation of a look depends on the seed and the fit's length.

The shipped recipe fits one degradation (the mean of several fits, ``z_dim`` 0) at its first
step, seeded like the run, and the global head learns to undo it. For a look the ideal
degradation is the inverse of the grade: it maps every test truth (the graded photo) onto its
test input (the untouched photo). This script fits the degradation as the trainer does (the two
folders' 128-pixel thumbnails, ``FIT_SIZE``, ``FIT_BATCH``, ``FIT_LR``, the mean of ``--fits``
fits: ``fit_mean_degradation``) for each seed and number of updates, and prints the PSNR of the
degraded test truths to the test inputs at 64 pixels: how close the fit comes to the inverse
grade, and how far apart the seeds land. CPU, seconds per fit.

    python benchmarks/degradation_fit.py --out benchmarks/out/warm --updates 200,400,800,1600 --fits 1
    python benchmarks/degradation_fit.py --out benchmarks/out/warm --fits 8   # the shipped fit
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality import test_pairs, to_tensor
from qagan_core.metrics import psnr
from qagan_core.pixels import thumbnail
from qagan_core.training.color import FIT_BATCH, FIT_LR, FIT_SIZE
from qagan_core.training.config import TrainConfig
from qagan_core.training.data import ImageFolder, SampleSpec
from qagan_core.training.degradation import degrade, fit_mean_degradation

THUMB = 128  # ModelConfig.global_size: the thumbnails ColorTraining receives


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="a look's task folder (quality.py build)")
    p.add_argument("--updates", default="200", help="comma-separated numbers of fitting updates")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--fits", type=int, default=TrainConfig.degradation_fits,
                   help="fits averaged into one degradation (1: a single fit)")
    args = p.parse_args()
    torch.set_num_threads(1)
    spec = SampleSpec()
    low = thumbnail(ImageFolder(args.out / "low", spec).thumbnails(THUMB), FIT_SIZE)
    high = thumbnail(ImageFolder(args.out / "high", spec).thumbnails(THUMB).float(), FIT_SIZE)
    pairs = test_pairs(args.out)
    inputs = torch.stack([thumbnail(to_tensor(x), 64) for _, x, _ in pairs]).clamp(0, 1)
    truths = torch.stack([thumbnail(to_tensor(t), 64) for _, _, t in pairs]).clamp(0, 1)
    print(f"{args.out.name}: test truths to inputs at 64 px {psnr(truths, inputs):.2f} dB "
          "(no degradation)")
    n = len(truths)
    for updates in (int(u) for u in args.updates.split(",")):
        start = time.perf_counter()
        scores = []
        for seed in (int(s) for s in args.seeds.split(",")):
            degradation = fit_mean_degradation(high, low, torch.Generator().manual_seed(seed), updates,
                                               FIT_LR, FIT_BATCH, args.fits)
            mix, bias, knots = degradation.from_summary(torch.zeros(1, 0))
            degraded = degrade(truths, (mix.expand(n, -1, -1), bias.expand(n, -1), knots.expand(n, -1, -1)))
            scores.append(psnr(degraded, inputs))
        print(f"updates {updates}, {args.fits} fits: seeds " + " / ".join(f"{s:.2f}" for s in scores)
              + f" dB, mean {sum(scores) / len(scores):.2f}, spread {max(scores) - min(scores):.2f}"
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
