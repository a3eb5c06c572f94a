"""The learned degradation's fits one after another, or side by side: the same fits, how much faster.

The default preset fits its degradation at its first step as the mean of ``degradation_fits``
fits (``fit_mean_degradation``). This script fits it on a look's real thumbnails (the trainer's
``FIT_SIZE``, ``FIT_BATCH``, ``FIT_LR`` and ``degradation_updates``), once as that many calls of
``fit_degradation`` in turn (how it was done before 2026-12-07) and once with
``fit_mean_degradation`` (the fits side by side), checks that both give the same degradation bit
for bit, and prints the ratio of the two times (same process, same machine; CPU).

    python benchmarks/fit_speed.py --out benchmarks/out/warm
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qagan_core.pixels import thumbnail
from qagan_core.training.color import FIT_BATCH, FIT_LR, FIT_SIZE
from qagan_core.training.config import TrainConfig
from qagan_core.training.data import ImageFolder, SampleSpec
from qagan_core.training.degradation import fit_degradation, fit_mean_degradation

THUMB = 128  # ModelConfig.global_size: the thumbnails ColorTraining receives


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="a look's task folder (quality.py build)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="timings of each, alternating; the best is kept")
    args = p.parse_args()
    config = TrainConfig()
    spec = SampleSpec()
    low = thumbnail(ImageFolder(args.out / "low", spec).thumbnails(THUMB).float(), FIT_SIZE)
    high = thumbnail(ImageFolder(args.out / "high", spec).thumbnails(THUMB).float(), FIT_SIZE)
    updates, fits = config.degradation_updates, config.degradation_fits
    times: dict[str, list[float]] = {"in turn": [], "side by side": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        g = torch.Generator().manual_seed(args.seed)
        in_turn = torch.stack([fit_degradation(high, low, 0, g, updates, FIT_LR, FIT_BATCH)
                               .mlp(torch.zeros(1, 0)) for _ in range(fits)]).mean(0)
        times["in turn"].append(time.perf_counter() - t)
        t = time.perf_counter()
        side = fit_mean_degradation(high, low, torch.Generator().manual_seed(args.seed), updates, FIT_LR,
                                    FIT_BATCH, fits).mlp(torch.zeros(1, 0))
        times["side by side"].append(time.perf_counter() - t)
    same = torch.equal(in_turn, side)
    a, b = min(times["in turn"]), min(times["side by side"])
    print(f"{fits} fits of {updates} updates, {len(high)} high / {len(low)} low thumbnails at {FIT_SIZE} px, "
          f"batch {FIT_BATCH}, torch threads {torch.get_num_threads()}")
    print(f"in turn {a:.1f} s, side by side {b:.1f} s: {a / b:.2f}x; "
          f"the same degradation bit for bit: {same}")
    if not same:
        raise SystemExit("the fits side by side differ from the fits in turn")


if __name__ == "__main__":
    main()
