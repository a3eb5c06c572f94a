"""Unpaired per-photo signal for the global head: learned degradations as pairs (issue 9).

The defect ceiling (``defect_ceiling.py``) shows the head can learn a per-photo
correction when it is given pairs made with the true defects. This prototype
makes the pairs *without* the truth, from the two unpaired folders only:

1. **Degradation model.** A transform of the head's own family (``apply_curve``:
   3x3 mix, bias, tone curve per channel) predicted from a noise vector ``z``
   alone, not from the photo: the defects are assumed independent of the
   content. It is fitted so that the per-photo colour descriptors
   (``descriptor``: per-channel mean, std and quantiles, chroma, opponent
   colours) of degraded high-quality thumbnails have the distribution of the
   low folder's descriptors (sliced Wasserstein over descriptor vectors). The
   high photos supply real contents, so only the defects have to be learned.
2. **Regression.** The head (the product's inputs: random relu5_1 mean and std)
   learns to map degraded thumbnails back to their high-quality originals (L2 on
   32-pixel thumbnails, as the ceiling).

It is then evaluated like the product and the ceiling: the head's transform on
the 20 test photos at 512 pixels (results/degradation_pairs_s<seed>.json;
``--z-dim 0``: results/degradation_pairs_z0_s<seed>.json).

    python benchmarks/degradation_pairs.py --out benchmarks/out/defects --seed 0
    python benchmarks/degradation_pairs.py --out benchmarks/out/warm --z-dim 0 --seed 0
    python benchmarks/quality.py --out benchmarks/out/warm summary degradation_pairs_z0

The degradation and the pairs are the product's (``qagan_core/training/degradation.py``);
with ``--z-dim 0`` this is the product's head objective (``head_objective="pairs"``,
the default since this was measured) without the U-Net and the GAN, and with more
fitting updates. With noise (the default here) it lifts the defect task a little and
costs the looks (BENCHMARKS.md, "What else was tried for the head"). The rows recorded
there were made at commit f116df6, when the script drew its crops with numpy: a rerun
draws others.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.defect_ceiling import GLOBAL_SIZE, PIXEL_SIZE, head_outputs, regress_head, summaries  # noqa: E402
from benchmarks.quality import evaluate, test_pairs, write_result  # noqa: E402
from qagan_core.encoder import resolve_encoder  # noqa: E402
from qagan_core.model.generators import GlobalCurveHead  # noqa: E402
from qagan_core.pixels import thumbnail  # noqa: E402
from qagan_core.training.data import ImageFolder, SampleSpec  # noqa: E402
from qagan_core.training.degradation import degraded_pairs, fit_degradation, fitted_degrader  # noqa: E402

Z_DIM = 8  # noise inputs of the degradation model (--z-dim); 0: one fixed degradation


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "defects"))
    ap.add_argument("--degradation-iters", type=int, default=1500)
    ap.add_argument("--fit-size", type=int, default=PIXEL_SIZE, help="side of the thumbnails it is fitted at")
    ap.add_argument("--fit-lr", type=float, default=1e-3)
    ap.add_argument("--fit-batch", type=int, default=64)
    ap.add_argument("--tag", default="", help="suffix of the result name")
    ap.add_argument("--passes", type=int, default=8, help="degraded versions of every high photo")
    ap.add_argument("--iters", type=int, default=2000, help="regression updates of the head")
    ap.add_argument("--z-dim", type=int, default=Z_DIM, help="noise inputs (even); 0: one fixed degradation")
    ap.add_argument("--pixel-stats", action="store_true",
                    help="the head also sees the thumbnail's pixel statistics")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # the random encoder and the head's initial weights
    out = Path(args.out)
    g = torch.Generator().manual_seed(args.seed)

    low = ImageFolder(out / "low", SampleSpec()).thumbnails(GLOBAL_SIZE)
    high = ImageFolder(out / "high", SampleSpec()).thumbnails(GLOBAL_SIZE)
    small_high, small_low = thumbnail(high, args.fit_size), thumbnail(low, args.fit_size)
    degradation = fit_degradation(small_high, small_low, args.z_dim, g, args.degradation_iters, args.fit_lr,
                                  args.fit_batch)
    encoder = resolve_encoder("random").eval()
    head = GlobalCurveHead(use_pixel_stats=args.pixel_stats)
    x_train, t_train = degraded_pairs(high, fitted_degrader(degradation, args.z_dim), args.passes, g)
    s_train = summaries(head, encoder, x_train)
    px_train, pt_train = thumbnail(x_train, PIXEL_SIZE), thumbnail(t_train, PIXEL_SIZE)
    print(f"{len(x_train)} degraded pairs ({time.perf_counter() - start:.0f} s)", flush=True)

    regress_head(head, s_train, px_train, pt_train, args.iters, g)

    pairs = test_pairs(out)
    name = ("degradation_pairs" + (f"_z{args.z_dim}" if args.z_dim != Z_DIM else "")
            + ("_px" if args.pixel_stats else "") + args.tag)
    result = evaluate(f"{name}_s{args.seed}", head_outputs(head, encoder, pairs), pairs, out)
    result["budget"] = (f"degradation ({args.z_dim} noise inputs) fitted in {args.degradation_iters} "
                        f"updates of {args.fit_batch} at {args.fit_size} px from lr {args.fit_lr:g}, "
                        f"{len(x_train)} pairs, {args.iters} regression updates of the head")
    result["seconds"] = time.perf_counter() - start
    write_result(out, result)


if __name__ == "__main__":
    main()
