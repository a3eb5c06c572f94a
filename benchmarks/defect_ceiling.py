"""The defect task's ceiling for the global head, taught with the truth (issue 9).

Question: how much of the defect benchmark can G_H's global head (``GlobalCurveHead``:
a per-photo 3x3 mix, bias and tone curve per channel, predicted from a thumbnail)
learn *at all* from the photos of the benchmark's training folders, if it were
told the answer? Unpaired training cannot do better than this supervised bound.

The head is trained **supervised**: the benchmark's own defect process
(``benchmarks/defects.py``, visible draws) is applied to thumbnails of the high
folder's photos (a new draw of every photo per pass, random crops and mirrors),
and the head learns to undo it with the clean photo known (L2 on 32-pixel
thumbnails, as the colour training compares pixels). That is more than the
unpaired folders give: the true defect distribution, unlimited draws, the answer
for each. It is then evaluated like the product: on the 20 test pairs at 512
pixels (8-bit output, 4-pixel border), and on fresh draws of 10 held-out high
photos whose contents it never saw.

Inputs of the head (``--inputs``): ``product`` (mean and std of the random
encoder's relu5_1 over the thumbnail, as shipped) or ``pixels`` (plus the
thumbnail's per-channel statistics, ``curve_pixel_stats``). ``--contents N``
trains on the first N of the 35 training contents (the data-size trend).

    python benchmarks/defect_ceiling.py --out benchmarks/out/defects --inputs product --contents 35
    python benchmarks/quality.py --out benchmarks/out/defects summary ceiling_product_35c

Writes ``results/ceiling_<inputs>_<N>c_s<seed>.json`` in the benchmark's format.
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

from benchmarks.defects import visible_defects  # noqa: E402
from benchmarks.quality import evaluate, test_pairs, to_tensor, write_result  # noqa: E402
from qagan_core.encoder import resolve_encoder  # noqa: E402
from qagan_core.metrics import psnr_per_image  # noqa: E402
from qagan_core.model.generators import GlobalCurveHead, apply_curve  # noqa: E402
from qagan_core.pixels import resize, thumbnail  # noqa: E402
from qagan_core.training.data import ImageFolder, SampleSpec  # noqa: E402

GLOBAL_SIZE = 128  # ModelConfig.global_size: the thumbnail the head sees
PIXEL_SIZE = 32  # the thumbnail whose pixels the loss compares
HELD_OUT = 10  # last high photos: contents never trained on
DRAW_SEED = 1000  # defect draws for training start here (the benchmark's photos use seed 0)


def degraded_pairs(thumbs: torch.Tensor, indices: list[int], passes: int, seed: int,
                   rng: np.random.Generator, crops: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``passes`` visible defect draws of every photo in ``indices``: (defective, clean) thumbnails."""
    xs, ts = [], []
    for p in range(passes):
        for i in indices:
            t = thumbs[i]
            if crops and p % 2:
                side = t.shape[-1]
                c = int(side * rng.uniform(0.5, 1.0))
                a, b = rng.integers(0, side - c + 1, 2)
                t = resize(t[None, :, a:a + c, b:b + c], (side, side))[0].clamp(0, 1)
                t = (t * 255).round() / 255
            if rng.random() < 0.5:
                t = t.flip(-1)
            _, _, y = visible_defects(t.permute(1, 2, 0).numpy(), seed + p, i)
            xs.append(torch.from_numpy(y).permute(2, 0, 1))
            ts.append(t)
    return torch.stack(xs), torch.stack(ts)


@torch.no_grad()
def summaries(head: GlobalCurveHead, encoder: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head's input vectors for thumbnails ``x`` [N,3,128,128] (encoder in chunks)."""
    return torch.cat([head.summarize(encoder(c)[4], c) for c in x.split(32)])


@torch.no_grad()
def head_outputs(head: GlobalCurveHead, encoder: torch.nn.Module,
                 pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The head's transform applied to every test input at full size (as the product does)."""
    outputs = {}
    for name, x, _ in pairs:
        xt = to_tensor(x)[None]
        transform = head.from_summary(summaries(head, encoder, thumbnail(xt, GLOBAL_SIZE)))
        outputs[name] = apply_curve(xt, *transform).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    return outputs


def regress_head(head: GlobalCurveHead, s_train: torch.Tensor, x_px: torch.Tensor, t_px: torch.Tensor,
                 iters: int, g: torch.Generator, lr: float = 1e-3, batch: int = 32,
                 log_floor: float = 0.0) -> None:
    """Teach ``head`` to map thumbnails ``x_px`` (head inputs ``s_train``) to ``t_px`` by L2:
    ``iters`` Adam updates of ``batch`` pairs, the learning rate decaying from ``lr`` along a cosine.
    With ``log_floor`` > 0 the loss is each pair's log(MSE + log_floor) instead, averaged: minus
    the mean PSNR of the pairs (floored), the benchmark's own measure."""
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    for it in range(iters):
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + np.cos(np.pi * it / iters))
        b = torch.randint(len(x_px), (batch,), generator=g)
        err = (apply_curve(x_px[b], *head.from_summary(s_train[b])) - t_px[b]).pow(2)
        loss = (err.mean((1, 2, 3)) + log_floor).log().mean() if log_floor > 0 else err.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def gain(y: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    y = (y.clamp(0, 1) * 255).round() / 255
    return psnr_per_image(y, t) - psnr_per_image(x, t)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "defects"))
    ap.add_argument("--inputs", choices=("product", "pixels"), default="product")
    ap.add_argument("--contents", type=int, default=35, help="training photos (of the first 35 high)")
    ap.add_argument("--passes", type=int, default=16, help="defect draws of every training photo")
    ap.add_argument("--iters", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    start = time.perf_counter()

    high = ImageFolder(out / "high", SampleSpec()).thumbnails(GLOBAL_SIZE)
    high = (high * 255).round() / 255
    n_train = len(high) - HELD_OUT
    if not 1 <= args.contents <= n_train:
        raise SystemExit(f"--contents must be 1..{n_train}")
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    encoder = resolve_encoder("random").eval()
    head = GlobalCurveHead(use_pixel_stats=args.inputs == "pixels")
    x_train, t_train = degraded_pairs(high, list(range(args.contents)), args.passes, DRAW_SEED, rng, True)
    x_held, t_held = degraded_pairs(high, list(range(n_train, len(high))), 4, DRAW_SEED + 500, rng, False)
    s_train, s_held = summaries(head, encoder, x_train), summaries(head, encoder, x_held)
    px_train, pt_train = thumbnail(x_train, PIXEL_SIZE), thumbnail(t_train, PIXEL_SIZE)
    print(f"{len(x_train)} training pairs of {args.contents} photos, {len(x_held)} held-out "
          f"({time.perf_counter() - start:.0f} s)", flush=True)

    optimizer = torch.optim.Adam(head.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(args.seed)
    for it in range(args.iters):
        for group in optimizer.param_groups:  # cosine decay
            group["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * it / args.iters))
        b = torch.randint(len(x_train), (args.batch,), generator=g)
        loss = (apply_curve(px_train[b], *head.from_summary(s_train[b])) - pt_train[b]).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (it + 1) % 1000 == 0:
            with torch.no_grad():
                held = gain(apply_curve(x_held, *head.from_summary(s_held)), x_held, t_held)
            print(f"it {it + 1}: loss {float(loss.detach()):.5f}, "
                  f"held-out contents {float(held.mean()):+.2f} dB "
                  f"({int((held > 0).sum())}/{len(held)} improved)", flush=True)

    pairs = test_pairs(out)
    outputs = head_outputs(head, encoder, pairs)
    with torch.no_grad():
        held = gain(apply_curve(x_held, *head.from_summary(s_held)), x_held, t_held)
    name = f"ceiling_{args.inputs}_{args.contents}c_s{args.seed}"
    result = evaluate(name, outputs, pairs, out)
    result["budget"] = (f"supervised with the true defects of {args.contents} high photos x {args.passes} "
                        f"draws, {args.iters} updates; held-out contents {float(held.mean()):+.2f} dB "
                        f"({int((held > 0).sum())}/{len(held)} improved)")
    result["held_out_gain"] = float(held.mean())
    result["seconds"] = time.perf_counter() - start
    write_result(out, result)


if __name__ == "__main__":
    main()
