"""Do the low photos vary more than the high ones? A permutation test (issue 9, diagnosis).

The ``fixes`` preset draws per-photo degradations from the part of the low folder's
spread that the high folder's spread does not explain (``qagan_core/training/quantiles.py``).
This asks whether there is such a part at all. Each photo is described by its
quantile functions (the preset's: 64-pixel thumbnail, opponent channels, 65 levels);
the deviations from each folder's mean are projected on the ``rank`` leading principal
directions of both folders together, and the test statistic is the largest ratio of the
low folder's variance to the high folder's along any direction of that space (the top
generalised eigenvalue). Its null distribution comes from ``--perms`` random splits of
the pooled photos into two folders of the same sizes: a ratio inside that distribution
means the low photos' defects are not told apart from the variety of their contents by
any second-order statistic of the quantile functions.

``--extra-stops S`` is a positive control: every low thumbnail also gets an exposure
error drawn uniformly from -S to S stops (a gain in linear light, sRGB taken as gamma
2.2, clipped), to show the test finds per-photo defects when they are strong enough:

    python benchmarks/share_permutation.py --out benchmarks/out/defects
    python benchmarks/share_permutation.py --out benchmarks/out/defects --extra-stops 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.defect_ceiling import GLOBAL_SIZE  # noqa: E402
from qagan_core.training.data import ImageFolder, SampleSpec  # noqa: E402
from qagan_core.training.quantiles import QuantileDegradation  # noqa: E402


def variance_ratios(q_low: torch.Tensor, q_high: torch.Tensor, rank: int) -> torch.Tensor:
    """Generalised eigenvalues (ascending) of the low folder's covariance against the high
    folder's, in the ``rank`` leading principal directions of both folders' deviations from
    their own means (quantile functions ``[N,3,L]``)."""
    xl = (q_low - q_low.mean(0)).flatten(1).double()
    xh = (q_high - q_high.mean(0)).flatten(1).double()
    basis = torch.linalg.svd(torch.cat([xl, xh]), full_matrices=False).Vh[:rank].T
    zl, zh = xl @ basis, xh @ basis
    cov_low, cov_high = zl.T @ zl / (len(zl) - 1), zh.T @ zh / (len(zh) - 1)
    e, v = torch.linalg.eigh(cov_high)
    whiten = v @ torch.diag(e.clamp_min(1e-12).rsqrt()) @ v.T
    return torch.linalg.eigvalsh(whiten @ cov_low @ whiten)


def with_exposure_errors(x: torch.Tensor, stops: float, g: torch.Generator) -> torch.Tensor:
    """Photos ``[N,3,h,w]`` each with a gain of ``U(-stops, stops)`` stops in linear light."""
    gains = 2.0 ** ((torch.rand(len(x), generator=g) * 2 - 1) * stops)
    return ((x.clamp(0, 1) ** 2.2) * gains.view(-1, 1, 1, 1)).clamp(0, 1) ** (1 / 2.2)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "defects"))
    ap.add_argument("--ranks", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--perms", type=int, default=500)
    ap.add_argument("--extra-stops", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    g = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)
    low = ImageFolder(out / "low", SampleSpec()).thumbnails(GLOBAL_SIZE).float()
    high = ImageFolder(out / "high", SampleSpec()).thumbnails(GLOBAL_SIZE).float()
    if args.extra_stops:
        low = with_exposure_errors(low, args.extra_stops, g)
    preset = QuantileDegradation(high, low)  # the fixes preset's per-photo quantile functions
    q_low, q_high = preset.q_low, preset.q_high
    pooled = torch.cat([q_low, q_high])
    extra = f", low photos with exposure errors up to {args.extra_stops:g} stops" if args.extra_stops else ""
    print(f"{out.name}: {len(q_low)} low, {len(q_high)} high photos{extra}")
    for rank in args.ranks:
        real = variance_ratios(q_low, q_high, rank)
        null = []
        for _ in range(args.perms):
            order = torch.randperm(len(pooled), generator=g)
            a, b = pooled[order[:len(q_low)]], pooled[order[len(q_low):]]
            null.append(float(variance_ratios(a, b, rank)[-1]))
        null_t = torch.tensor(null)
        p = float((null_t >= real[-1]).float().mean())
        print(f"rank {rank}: largest low/high variance ratio {float(real[-1]):.2f} "
              f"(random splits: median {float(null_t.median()):.2f}, 95th percentile "
              f"{float(null_t.quantile(0.95)):.2f}; p = {p:.3f}); all ratios "
              + " ".join(f"{v:.2f}" for v in real.tolist()))


if __name__ == "__main__":
    main()
