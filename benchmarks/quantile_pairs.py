"""Unpaired pairs for the global head by quantile transfer (issue 9; a prototype).

``degradation_pairs.py`` fits a degradation of the head's own family to the two
folders and regresses its inverse. This prototype makes the degradation without
fitting: it moves the *quantiles* of a high-quality photo by the difference between
the folders, per channel of an opponent colour space (luma, r - g, b - (r + g) / 2;
casts and saturation live in the last two):

    q_k(u) = Q_H(u) + [mean_L(u) - mean_H(u)] + s(u) [Q_k(u) - mean_L(u)]

``Q_H`` is the quantile function of the pooled high folder, ``mean_L`` and ``mean_H``
the means over photos of each folder's per-photo quantile functions, ``Q_k`` that of
low photo ``k`` (drawn per pair) and ``u`` one of ``LEVELS`` levels. A value ``v`` of
a high photo becomes ``q_k(Q_H^-1(v))`` (linear between levels; ``q_k`` made
non-decreasing), then back to RGB, clipped and rounded to 8 bits.

- ``--shrink 0``: one degradation for every photo, the folders' mean difference: a
  look (the high folder's grade) undone on real contents. ``--pooled`` takes the
  difference between the folders' pooled quantile functions instead, ``Q_L(u) - Q_H(u)``
  (histogram matching of the pooled folders: exact for a tone curve when both folders
  hold the same kind of contents; the mean of per-photo quantiles is not).
- ``--shrink 0.2`` (any number): that share at every level.
- ``--shrink deconvolved`` (the default): ``s(u) = sqrt(max(0, var_L(u) - var_H(u)) /
  var_L(u))``, with the variances taken over photos: the share of the low photos'
  spread that the high photos' spread does not explain. Contents vary in both folders;
  what is left is taken for per-photo defects and drawn from real low photos.
  ``--chance-shares`` prints it beside the share two random halves of one folder give.

The head (the product's inputs; ``--pixel-stats`` adds the thumbnail's own statistics)
then learns by regression to map degraded thumbnails back, as in
``degradation_pairs.py``, and is evaluated like the product on the 20 test photos at
512 pixels (``results/quantile_pairs[_shrink0][_px]_s<seed>.json``). The result also
records ``folder_distance``: how far the head's outputs for the low folder are from the
high folder (no truth needed; a candidate rule for choosing the shrink):

    python benchmarks/quantile_pairs.py --out benchmarks/out/defects --pixel-stats --seed 0
    python benchmarks/quantile_pairs.py --out benchmarks/out/warm --shrink 0 --seed 0

``--generic 0.5`` gives half of the pairs a ``generic_defect`` after the transfer, as the
``fixes`` preset does (BENCHMARKS.md, "Generic defects"):

    python benchmarks/quantile_pairs.py --out benchmarks/out/defects --pixel-stats --generic 0.5 --seed 0
    python benchmarks/quality.py --out benchmarks/out/defects summary quantile_pairs_px

``--log-floor 3e-4`` regresses the head by each pair's log(MSE + 3e-4), minus its PSNR, instead
of the L2 (BENCHMARKS.md, "The head regressed by each pair's PSNR"; not kept).

``--on-originals`` also enhances the test photos' originals with the trained head and scores
each output against the photo itself (``results/<name>_originals.json``): what the head does to
photos that need no fix (BENCHMARKS.md, "What brightens the leaf").
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
from qagan_core.model.generators import GlobalCurveHead, apply_curve  # noqa: E402
from qagan_core.pixels import resize, thumbnail  # noqa: E402
from qagan_core.training.data import ImageFolder, SampleSpec  # noqa: E402
from qagan_core.training.degradation import descriptor, sliced_distance  # noqa: E402
from qagan_core.training.quantiles import QuantileDegradation, deconvolved_share, generic_defect  # noqa: E402


def chance_shares(q: torch.Tensor, splits: int, g: torch.Generator) -> torch.Tensor:
    """The deconvolved share between two random halves of one folder (``[N,3,L]``), per channel,
    averaged over levels and ``splits`` splits: what the share is when no photo differs from the
    others in kind."""
    shares = []
    for _ in range(splits):
        order = torch.randperm(len(q), generator=g)
        half = len(q) // 2
        shares.append(deconvolved_share(q[order[:half]], q[order[half:]]).mean(1))
    return torch.stack(shares).mean(0)


def quantile_pairs(high: torch.Tensor, degradation: QuantileDegradation, n_low: int, passes: int,
                   g: torch.Generator, clean: float = 0.0, generic: float = 0.0, generic_scale: float = 1.0,
                   generic_only: bool = False, min_crop: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``passes`` (degraded, original) versions of every high thumbnail: odd passes a random
    square crop (``min_crop`` to all of the side) resized back, half of them mirrored, each
    degraded by a random low photo's degradation, or (a share ``clean`` of them) left as it is;
    a share ``generic`` of them then gets a ``generic_defect`` (of strength ``generic_scale``),
    and ``generic_only`` leaves out the quantile transfer."""
    xs, ts = [], []
    side = high.shape[-1]
    for p in range(passes):
        for img in high:
            t = img
            if p % 2:
                c = int(side * (min_crop + (1 - min_crop) * float(torch.rand((), generator=g))))
                a, b = (int(v) for v in torch.randint(0, side - c + 1, (2,), generator=g))
                t = resize(t[None, :, a:a + c, b:b + c], (side, side))[0].clamp(0, 1)
            if float(torch.rand((), generator=g)) < 0.5:
                t = t.flip(-1)
            t = (t * 255).round() / 255
            k = int(torch.randint(n_low, (), generator=g))
            if clean and float(torch.rand((), generator=g)) < clean:
                x = t
            else:
                x = t if generic_only else degradation(t, k)
                if generic and float(torch.rand((), generator=g)) < generic:
                    x = generic_defect(x, g, generic_scale)
            xs.append(x)
            ts.append(t)
    return torch.stack(xs), torch.stack(ts)


@torch.no_grad()
def folder_distance(head: GlobalCurveHead, encoder: torch.nn.Module, low: torch.Tensor,
                    high: torch.Tensor) -> float:
    """How far the head's outputs for the low folder are from the high folder, without any truth:
    the sliced distance between their per-photo colour descriptors (``descriptor``; every
    statistic scaled by its spread over both folders, 1,024 fixed directions)."""
    out = apply_curve(thumbnail(low, PIXEL_SIZE), *head.from_summary(summaries(head, encoder, low)))
    a, b = descriptor(out.clamp(0, 1)), descriptor(thumbnail(high, PIXEL_SIZE))
    scale = torch.cat([descriptor(thumbnail(low, PIXEL_SIZE)), b]).std(0) + 1e-3
    d = torch.randn(a.shape[1], 1024, generator=torch.Generator().manual_seed(0))
    return float(sliced_distance(a / scale, b / scale, d / d.norm(dim=0, keepdim=True)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "defects"))
    ap.add_argument("--shrink", default="deconvolved", help="'deconvolved' or one share for every level")
    ap.add_argument("--pooled", action="store_true",
                    help="the folders' difference between their pooled quantile functions")
    ap.add_argument("--chance-shares", action="store_true",
                    help="print the deconvolved share and the one two halves of one folder give; no training")
    ap.add_argument("--clean", type=float, default=0.0,
                    help="share of the pairs left undegraded (clean photo in, the same out)")
    ap.add_argument("--generic", type=float, default=0.0,
                    help="share of the pairs that also get a generic defect (the fixes preset: 0.5)")
    ap.add_argument("--generic-scale", type=float, default=1.0, help="strength of the generic defects")
    ap.add_argument("--generic-only", action="store_true",
                    help="generic defects without the quantile transfer")
    ap.add_argument("--min-crop", type=float, default=0.5,
                    help="smallest crop of the odd passes, a share of the side (close-ups)")
    ap.add_argument("--passes", type=int, default=16, help="degraded versions of every high photo")
    ap.add_argument("--iters", type=int, default=2000, help="regression updates of the head")
    ap.add_argument("--pixel-stats", action="store_true",
                    help="the head also sees the thumbnail's pixel statistics")
    ap.add_argument("--log-floor", type=float, default=0.0,
                    help="regress by each pair's log(MSE + this) (minus its PSNR) instead of the L2")
    ap.add_argument("--on-originals", action="store_true",
                    help="also enhance the test photos' originals (the photo itself is the truth): "
                         "what the head does to photos that need no fix, result '<name>_originals'")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.shrink != "deconvolved":
        try:
            share = float(args.shrink)
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:
            ap.error("--shrink must be 'deconvolved' or a number from 0 to 1")
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # the random encoder and the head's initial weights
    g = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)

    low = ImageFolder(out / "low", SampleSpec()).thumbnails(GLOBAL_SIZE)
    high = ImageFolder(out / "high", SampleSpec()).thumbnails(GLOBAL_SIZE)
    degradation = QuantileDegradation(high, low, args.shrink, args.pooled)
    if args.chance_shares:
        h, lo = degradation.q_high, degradation.q_low
        print(f"deconvolved share, low against high folder: {deconvolved_share(lo, h).mean(1).tolist()}; "
              f"between halves of the high folder: {chance_shares(h, 20, g).tolist()}, "
              f"of the low folder: {chance_shares(lo, 20, g).tolist()} (per channel, 20 splits)")
        return
    encoder = resolve_encoder("random").eval()
    head = GlobalCurveHead(use_pixel_stats=args.pixel_stats)
    x_train, t_train = quantile_pairs(high, degradation, len(low), args.passes, g, args.clean,
                                      args.generic, args.generic_scale, args.generic_only,
                                      args.min_crop)
    s_train = summaries(head, encoder, x_train)
    print(f"{len(x_train)} degraded pairs, shrink per channel {degradation.shrink.mean(1).tolist()} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    regress_head(head, s_train, thumbnail(x_train, PIXEL_SIZE), thumbnail(t_train, PIXEL_SIZE), args.iters, g,
                 log_floor=args.log_floor)

    distance = folder_distance(head, encoder, low, high)
    pairs = test_pairs(out)
    name = ("quantile_pairs" + ("" if args.shrink == "deconvolved" else f"_shrink{args.shrink}")
            + ("_pooled" if args.pooled else "") + (f"_clean{args.clean:g}" if args.clean else "")
            + (f"_generic{args.generic:g}" + ("" if args.generic_scale == 1 else f"x{args.generic_scale:g}")
               + ("only" if args.generic_only else "") if args.generic else "")
            + (f"_passes{args.passes}" if args.passes != 16 else "")
            + (f"_crop{args.min_crop:g}" if args.min_crop != 0.5 else "")
            + (f"_log{args.log_floor:g}" if args.log_floor else "")
            + (f"_iters{args.iters}" if args.iters != 2000 else "")
            + ("_px" if args.pixel_stats else "") + f"_s{args.seed}")
    result = evaluate(name, head_outputs(head, encoder, pairs), pairs, out)
    result["budget"] = (f"quantile-transfer degradation (shrink {args.shrink}"
                        f"{', pooled difference' if args.pooled else ''}"
                        f"{f', {args.clean:g} of the pairs clean' if args.clean else ''}), "
                        f"{len(x_train)} pairs, "
                        f"{args.iters} regression updates of the head"
                        f"{f' (log MSE, floor {args.log_floor:g})' if args.log_floor else ''}")
    result["folder_distance"] = distance
    result["seconds"] = time.perf_counter() - start
    write_result(out, result)
    if args.on_originals:
        originals = [(n, t, t) for n, _, t in pairs]
        result = evaluate(f"{name}_originals", head_outputs(head, encoder, originals), originals, out)
        result["budget"] = "the same head on the test photos' originals (truth: the photo itself)"
        write_result(out, result)


if __name__ == "__main__":
    main()
