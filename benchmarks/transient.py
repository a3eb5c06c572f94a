"""Step-by-step record of a short product training: where the early G_H transient comes from.

Trains the product recipe (``budget_sizes("cpu")`` + defaults, random encoder) for a fixed
number of steps (the learning rate constant for the first half, as in a budgeted run) and
prints after every step the losses, the no-reference checks of ``ColorTraining.validation``,
the colour distance of the global head alone (G_H without its U-Net residual), and every
``--test-every`` steps the test PSNR of the current G_H at 256 pixels. Used for the diagnosis
in docs/architecture.md ("The early U-Net transient") and BENCHMARKS.md:

    python benchmarks/transient.py cool_matte --steps 24                       # the shipped recipe
    python benchmarks/transient.py cool_matte --steps 24 --set lambda_idt=1    # the identity weight before
    python benchmarks/transient.py cool_matte --steps 24 --set lr_g=2e-5
    python benchmarks/transient.py cool_matte --steps 24 --grad-norms --set lambda_idt=1

``--grad-norms``: the norm of the gradient each generator term (adversarial, the two cycle
terms) puts on G_H's U-Net (not its head). ``--clip N``: clip the generators' gradient norm
to N before each update (an experiment). ``--low-base``: G_L's residual starts from the
learned degradation of its input instead of the input itself (an experiment: does G_L's
early escape cause the transient?). Runs are deterministic: the same command gives the same
figures. Output: one JSON line per step, and ``OUT/results/transient_NAME.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality import current_test_psnr, pairs_at_256, test_pairs
from qagan_core.model import apply_curve, color_distance
from qagan_core.training import TrainConfig, budget_sizes
from qagan_core.training import trainer as trainer_module
from qagan_core.training.trainer import Trainer


class LowBase(torch.nn.Module):
    """G_L whose residual starts from the learned degradation of its input (``--low-base``);
    the identity call (G_L(I_L | I_L)) keeps the plain base."""

    def __init__(self, trainer: Trainer) -> None:
        super().__init__()
        self.trainer = trainer
        self.g_l = trainer.model.g_l

    def forward(self, x: torch.Tensor, feats_h: list, feats_l: list) -> torch.Tensor:
        if feats_h is feats_l:
            return self.g_l(x, feats_h, feats_l)
        mix, bias, knots = self.trainer.color.degradation_transform
        b = x.shape[0]
        base = apply_curve(x.float(), mix.expand(b, -1, -1), bias.expand(b, -1), knots.expand(b, -1, -1))
        return self.g_l(base, feats_h, feats_l)


class GradNorms:
    """Records the gradient norm each generator term puts on G_H's U-Net (``--grad-norms``):
    wraps the trainer module's loss functions and measures before the generator update."""

    def __init__(self, trainer: Trainer, lambda_cc: float) -> None:
        self.unet = [p for n, p in trainer.model.g_h.named_parameters() if not n.startswith("curve.")]
        self.lambda_cc = lambda_cc
        self.terms: dict[str, list[torch.Tensor]] = {"adv": [], "cycle": []}
        self.last: dict[str, float] = {}
        cycle, adversarial = trainer_module.cycle_loss, trainer_module.rahinge_g_loss

        def cycle_term(*args):
            value = cycle(*args)
            self.terms["cycle"].append(value)
            return value

        def adversarial_term(*args):
            value = adversarial(*args)
            self.terms["adv"].append(value)
            return value

        trainer_module.cycle_loss, trainer_module.rahinge_g_loss = cycle_term, adversarial_term
        zero_grad = trainer.opt_g.zero_grad

        def measure_then_zero_grad(set_to_none: bool = True) -> None:
            if self.terms["adv"]:  # the generator's losses of this step (D's come later)
                adv_h, (cc_l, cc_h) = self.terms["adv"][0], self.terms["cycle"]
                self.last = {"grad_adv_h": self._norm(adv_h), "grad_cc_l": self._norm(lambda_cc * cc_l),
                             "grad_cc_h": self._norm(lambda_cc * cc_h)}
            self.terms = {"adv": [], "cycle": []}
            zero_grad(set_to_none=set_to_none)

        trainer.opt_g.zero_grad = measure_then_zero_grad

    def _norm(self, loss: torch.Tensor) -> float:
        grads = torch.autograd.grad(loss, self.unet, retain_graph=True, allow_unused=True)
        return float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)))


def clip_generator_updates(trainer: Trainer, max_norm: float) -> None:
    """Clip the generators' gradient norm to ``max_norm`` before each of their updates (``--clip``)."""
    step = trainer.opt_g.step
    params = [p for group in trainer.opt_g.param_groups for p in group["params"]]

    def clipped_step(*args, **kwargs):
        torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm)
        return step(*args, **kwargs)

    trainer.opt_g.step = clipped_step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("task", help="a benchmark task folder under --root (e.g. cool_matte)")
    p.add_argument("--root", default="benchmarks/out")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="a TrainConfig setting over the product's (repeatable), e.g. lambda_idt=1")
    p.add_argument("--test-every", type=int, default=4)
    p.add_argument("--grad-norms", action="store_true")
    p.add_argument("--clip", type=float, default=0.0)
    p.add_argument("--low-base", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--name", default=None, help="result name (default: from the settings)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.root) / args.task
    settings: dict = {**budget_sizes("cpu"), "low_dir": str(out / "low"), "high_dir": str(out / "high"),
                      "steps": args.steps, "seed": args.seed, "encoder_weights": "random"}
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = json.loads(value)
    trainer = Trainer(TrainConfig(**settings))
    if trainer.color is None:
        raise SystemExit("this record needs the product recipe (colour training of the global head)")
    norms = GradNorms(trainer, trainer.config.lambda_cc) if args.grad_norms else None
    if args.clip:
        clip_generator_updates(trainer, args.clip)
    if args.low_base:
        trainer._g_l = LowBase(trainer)
    small = pairs_at_256(test_pairs(out))
    color = trainer.color

    @torch.no_grad()
    def head_only_color() -> float:
        k = min(32, color.low_pixels.shape[0])
        x = color.low_pixels[:k]
        y = apply_curve(x, *color.head.from_summary(color.low_summary[0, :k])).clamp(0, 1)
        return float(color_distance(y, color.high_pixels, color.validation_directions))

    rows = []
    start = time.perf_counter()
    for _ in range(args.steps):
        losses = trainer.train_step()
        row = {"step": trainer.step, **{k: round(v, 4) for k, v in losses.items()},
               **{k: round(v, 4) for k, v in color.validation().items()},
               "val_color_head": round(head_only_color(), 4)}
        if norms is not None:
            row.update({k: round(v, 4) for k, v in norms.last.items()})
        if trainer.step % args.test_every == 0 or trainer.step == args.steps:
            row["test_psnr_256"] = round(current_test_psnr(trainer, small), 2)
        row["seconds"] = round(time.perf_counter() - start)
        rows.append(row)
        print(json.dumps(row), flush=True)
    name = args.name or "_".join([args.task, f"s{args.seed}", f"{args.steps}steps"]
                                 + [s.replace("=", "") for s in args.set]
                                 + (["gradnorms"] if args.grad_norms else [])
                                 + ([f"clip{args.clip:g}"] if args.clip else [])
                                 + (["lowbase"] if args.low_base else []))
    (out / "results").mkdir(parents=True, exist_ok=True)
    record = {"command": sys.argv[1:], "rows": rows}
    (out / "results" / f"transient_{name}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
