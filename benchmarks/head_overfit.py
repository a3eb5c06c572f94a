"""Does the global head of the ``fixes`` preset learn the training photos by heart? (issue 9)

The ``fixes`` preset's exported model fell with more budget (BENCHMARKS.md, "The fixes
preset"), and the fall was all in the global head. This trains the head alone as the
product does (``degraded_pairs`` with the quantile degradation, 8 passes, batch 32,
Adam at 1e-3 constant for the first half of the updates, then decaying linearly to
zero), on the high folder less ``--holdout`` photos, and every sixteenth of the run
prints three numbers:

- ``train``: the pair loss (L2 on 32-pixel thumbnails) on the training pairs;
- ``held``: the same on pairs made from the held-out high photos (contents the head
  never saw; no test truth is used);
- ``test``: mean PSNR of the head's outputs on the 20 test photos at 512 pixels.

``--weight-decay`` is the decoupled weight decay (AdamW) of ``head_weight_decay``.
2128 updates are the product's at 133 steps (16 per step), 8512 at 4x:

    python benchmarks/head_overfit.py --out benchmarks/out/defects --updates 8512 --seed 0
    python benchmarks/head_overfit.py --out benchmarks/out/defects --updates 8512 --weight-decay 1 --seed 0

``--objective pairs`` trains the default preset's head instead (pairs made with the one
degradation learned from the two folders, the mean of 8 fits, and no pixel statistics), to see
whether it falls with the update counts of a long GPU run (a look's task):

    python benchmarks/head_overfit.py --out benchmarks/out/warm --objective pairs --updates 34048 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.defect_ceiling import GLOBAL_SIZE, PIXEL_SIZE, summaries  # noqa: E402
from benchmarks.quality import test_pairs, to_tensor  # noqa: E402
from qagan_core.encoder import resolve_encoder  # noqa: E402
from qagan_core.metrics import psnr_per_image  # noqa: E402
from qagan_core.model.generators import GlobalCurveHead, apply_curve  # noqa: E402
from qagan_core.pixels import thumbnail  # noqa: E402
from qagan_core.training.color import FIT_BATCH, FIT_LR, FIT_SIZE  # noqa: E402
from qagan_core.training.config import TrainConfig, lr_factor  # noqa: E402
from qagan_core.training.data import ImageFolder, SampleSpec  # noqa: E402
from qagan_core.training.degradation import degraded_pairs, fit_mean_degradation, fitted_degrader  # noqa: E402
from qagan_core.training.quantiles import QuantileDegradation  # noqa: E402

# The product's for a folder of 45 photos (color.py: PAIRS, MAX_PASSES) when these logs were made;
# quantile pairs take 16 since the generic defects.
PASSES = 8
BATCH, LR = 32, 1e-3  # color.py: PAIR_BATCH, TrainConfig.lr_color


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "defects"))
    ap.add_argument("--updates", type=int, default=8512)
    ap.add_argument("--holdout", type=int, default=9, help="high photos kept out of the training pairs")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--objective", choices=("quantile_pairs", "pairs"), default="quantile_pairs",
                    help="the fixes preset's head (default) or the default preset's")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)  # the random encoder and the head's initial weights
    out = Path(args.out)
    low = ImageFolder(out / "low", SampleSpec()).thumbnails(GLOBAL_SIZE).float()
    high = ImageFolder(out / "high", SampleSpec()).thumbnails(GLOBAL_SIZE).float()
    order = torch.randperm(len(high), generator=torch.Generator().manual_seed(args.seed + 5))
    held, train = high[order[:args.holdout]], high[order[args.holdout:]]
    encoder = resolve_encoder("random").eval()
    quantiles = args.objective == "quantile_pairs"
    head = GlobalCurveHead(use_pixel_stats=quantiles)
    if quantiles:
        degrade = QuantileDegradation(high, low).sample
    else:  # as color.py fits it (TrainConfig's degradation_updates and degradation_fits)
        cfg = TrainConfig()
        fitted = fit_mean_degradation(thumbnail(high, FIT_SIZE), thumbnail(low, FIT_SIZE),
                                      torch.Generator().manual_seed(args.seed), cfg.degradation_updates,
                                      FIT_LR, FIT_BATCH, cfg.degradation_fits)
        degrade = fitted_degrader(fitted, 0)

    def pairs(photos: torch.Tensor, seed: int) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(seed)
        degraded, original = degraded_pairs(photos, degrade, PASSES, g)
        return (summaries(head, encoder, degraded), thumbnail(degraded, PIXEL_SIZE),
                thumbnail(original, PIXEL_SIZE))

    training, held_out = pairs(train, args.seed + 1), pairs(held, args.seed + 7)
    tests = [(to_tensor(x)[None], to_tensor(t)[None]) for _, x, t in test_pairs(out)]
    test_summaries = torch.cat([summaries(head, encoder, thumbnail(x, GLOBAL_SIZE)) for x, _ in tests])

    @torch.no_grad()
    def pair_loss(summary: torch.Tensor, degraded: torch.Tensor, original: torch.Tensor) -> float:
        return float((apply_curve(degraded, *head.from_summary(summary)) - original).pow(2).mean())

    @torch.no_grad()
    def test_psnr() -> float:
        scores = []
        for i, (x, t) in enumerate(tests):
            y = apply_curve(x, *head.from_summary(test_summaries[i:i + 1])).clamp(0, 1)
            scores.append(float(psnr_per_image((y * 255).round() / 255, t)[0]))
        return float(np.mean(scores))

    optimizer = torch.optim.AdamW(head.parameters(), lr=LR, weight_decay=args.weight_decay)
    g = torch.Generator().manual_seed(args.seed)
    start, every = time.perf_counter(), max(1, args.updates // 16)
    for update in range(args.updates + 1):
        if update % every == 0 or update == args.updates:
            print(f"update {update} train {pair_loss(*training):.5f} held {pair_loss(*held_out):.5f} "
                  f"test {test_psnr():.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
        if update == args.updates:
            break
        for group in optimizer.param_groups:
            group["lr"] = LR * lr_factor(update, args.updates)
        pick = torch.randint(len(training[0]), (BATCH,), generator=g)
        summary, degraded, original = (t[pick] for t in training)
        loss = (apply_curve(degraded, *head.from_summary(summary)) - original).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
