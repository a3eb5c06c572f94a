"""Training of G_H's global head apart from the GAN (an addition to the paper).

The head maps statistics of a whole-photo thumbnail to a colour transform
(``apply_curve``). It is trained at thumbnail size, several times per QAGAN
step ("two-speed"), by one of two objectives (``TrainConfig.head_objective``):

- ``pairs`` (the default): regression on pairs made from the high-quality
  folder with a learned degradation (``degradation.py``): degraded thumbnail in,
  its original as the target (L2 on 32-pixel thumbnails). The degradation is
  fitted once, at the first step, on the two folders' thumbnails.
- ``quantile_pairs`` (the ``fixes`` preset): the same regression on pairs made
  by quantile transfer (``quantiles.py``): each degraded version takes a share of
  one low photo's own defects, for a low folder whose photos each have their own.
- ``colors``: the pooled colours of enhanced low-quality thumbnails are pulled
  to those of the high-quality folder (``color_distance``, a sliced Wasserstein
  distance).

Both are stable, non-adversarial signals that need no paired photos. The
adversarial and cycle losses then train the U-Net part of G_H (local detail),
not the head; see docs/architecture.md for why (the head trained adversarially
overshoots) and BENCHMARKS.md for the two objectives measured.

The encoder is frozen and the head's input (``GlobalCurveHead.summarize``) has
no parameters, so the inputs of every thumbnail (and its mirror image, or every
degraded pair) are computed once; a step costs an MLP and a few thousand pixels.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..checkpoints import load_weights, optimizer_param_state, optimizer_tensors
from ..model import QAGAN, apply_curve, color_distance, random_directions
from ..model.generators import GlobalCurveHead
from ..pixels import thumbnail
from .config import PAIR_OBJECTIVES, TrainConfig
from .degradation import degrade, degraded_pairs, fit_mean_degradation, fitted_degrader, new_degradation
from .quantiles import QuantileDegradation

PIXEL_SIZE = 32  # side of the thumbnails whose pixels are compared (sorting is the cost)
DIRECTIONS = 64  # random projections per step of the colour term
VALIDATION_IMAGES = 32
PAIR_BATCH = 32  # pairs per regression update
# Degraded pairs aimed at, per pair objective: passes over the high folder, 1 to its MAX_PASSES.
# Quantile pairs draw a low photo (and, in the fixes preset, a generic defect) for each pair:
# twice the draws (BENCHMARKS.md, "Generic defects": 8 passes 0.7 dB below 16, head alone).
PAIRS = {"pairs": 384, "quantile_pairs": 768}
MAX_PASSES = {"pairs": 8, "quantile_pairs": 16}
FIT_SIZE, FIT_BATCH, FIT_LR = 16, 32, 1e-2  # fitting the one degradation of "pairs" (BENCHMARKS.md)


def head_grad_norm(head: torch.nn.Module) -> float:
    """Norm of the gradient on the global head's parameters (a diagnostic)."""
    grads = [p.grad.detach().float().norm() for p in head.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


class ColorTraining:
    """Trains ``model.g_h.curve`` on thumbnails of the two folders; resumable."""

    def __init__(self, model: QAGAN, low_thumbs: torch.Tensor, high_thumbs: torch.Tensor,
                 config: TrainConfig) -> None:
        self.model = model
        self.head = model.g_h.curve
        if self.head is None:
            raise ValueError("colour training needs G_H's global head (global_curve)")
        device = model.device
        self.device = device
        self.objective = config.head_objective
        self.batch_size = config.color_batch
        self.lr = config.lr_color
        self.seed = config.seed
        self.fit_updates = config.degradation_updates
        self.fits = config.degradation_fits
        self.generic_rate = config.head_generic_defects
        with torch.no_grad():
            summaries = []
            for flip in (False, True):
                parts = []
                for chunk in low_thumbs.split(16):
                    x = chunk.to(device)
                    x = x.flip(-1) if flip else x
                    parts.append(self.head.summarize(model.encoder(x)[4], x))
                summaries.append(torch.cat(parts))
            self.low_summary = torch.stack(summaries)  # [2, N, D]: as is, mirrored
            self.low_pixels = thumbnail(low_thumbs, PIXEL_SIZE).to(device)
            self.high_pixels = thumbnail(high_thumbs, PIXEL_SIZE).to(device)
        # For the pairs, at the first step (then released).
        pairs = self.objective in PAIR_OBJECTIVES
        self.low_thumbs = low_thumbs if pairs else None
        self.high_thumbs = high_thumbs if pairs else None
        self.degradation: GlobalCurveHead | None = None  # "pairs": fitted at the first step, or restored
        self.quantiles: QuantileDegradation | None = None  # "quantile_pairs": made at the first step
        self.degrade_generator = torch.Generator().manual_seed(self.seed + 2)  # low photos drawn by degrade
        self.pairs: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.degradation_transform: tuple[torch.Tensor, ...] = ()  # the degradation's, on the device
        self.optimizer = torch.optim.AdamW(self.head.parameters(), lr=self.lr, betas=(0.9, 0.999),
                                           weight_decay=config.head_weight_decay)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.grad_norm = 0.0  # of the last step (a diagnostic)
        self.validation_directions = random_directions(128, torch.Generator().manual_seed(0), device)

    def step(self, lr_factor: float) -> float:
        """One update of the head; returns its loss before the update."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * lr_factor
        loss = self._pair_loss() if self.objective in PAIR_OBJECTIVES else self._color_loss()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm = head_grad_norm(self.head)
        self.optimizer.step()
        return float(loss.detach())

    def _color_loss(self) -> torch.Tensor:
        g, d = self.generator, self.device
        n_low, n_high = self.low_pixels.shape[0], self.high_pixels.shape[0]
        low = torch.randint(n_low, (self.batch_size,), generator=g)
        flip = torch.randint(2, (self.batch_size,), generator=g)
        high = torch.randint(n_high, (self.batch_size,), generator=g)
        directions = random_directions(DIRECTIONS, g, d)
        transform = self.head.from_summary(self.low_summary[flip.to(d), low.to(d)])
        out = apply_curve(self.low_pixels[low.to(d)], *transform)
        return color_distance(out, self.high_pixels[high.to(d)], directions)

    def prepare(self) -> None:
        """Make the degradation (unless restored) and the pairs (pair objectives; once)."""
        if self.objective in PAIR_OBJECTIVES and self.pairs is None:
            self.pairs = self._make_pairs()
            if self.quantiles is not None:
                self.quantiles.to(self.device)
            else:
                transform = self.degradation.from_summary(torch.zeros(1, 0))
                self.degradation_transform = tuple(t.to(self.device) for t in transform)
            self.low_thumbs = self.high_thumbs = None  # tens of MB per hundred photos

    def degrade(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B,3,H,W]`` with the degradation, 8-bit (after ``prepare``); with quantile
        pairs each photo gets the degradation of a low photo drawn at random."""
        if self.quantiles is not None:
            return self.quantiles.sample(x, self.degrade_generator)
        mix, bias, knots = self.degradation_transform
        b = x.shape[0]
        return degrade(x, (mix.expand(b, -1, -1), bias.expand(b, -1), knots.expand(b, -1, -1)))

    def _pair_loss(self) -> torch.Tensor:
        self.prepare()
        summary, degraded, original = self.pairs
        pick = torch.randint(summary.shape[0], (PAIR_BATCH,), generator=self.generator).to(self.device)
        out = apply_curve(degraded[pick], *self.head.from_summary(summary[pick]))
        return (out - original[pick]).pow(2).mean()

    def _make_pairs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Make the degradation (fit it, unless restored, for "pairs") and degrade the high
        thumbnails: (head inputs, degraded and original pixels), all on the device.

        Drawn from their own generators seeded like the run, so a resumed run (which
        restores a fitted degradation; the quantiles are made again from the same
        photos) makes the same pairs."""
        high, low = self.high_thumbs.float(), self.low_thumbs.float()
        if self.objective == "quantile_pairs":
            self.quantiles = QuantileDegradation(high, low, generic_rate=self.generic_rate)
            degrade_batch = self.quantiles.sample
        else:
            if self.degradation is None:
                fit = torch.Generator().manual_seed(self.seed)
                self.degradation = fit_mean_degradation(thumbnail(high, FIT_SIZE), thumbnail(low, FIT_SIZE),
                                                        fit, self.fit_updates, FIT_LR, FIT_BATCH, self.fits)
            degrade_batch = fitted_degrader(self.degradation, 0)
        g = torch.Generator().manual_seed(self.seed + 1)
        passes = max(1, min(MAX_PASSES[self.objective], math.ceil(PAIRS[self.objective] / len(high))))
        degraded, original = degraded_pairs(high, degrade_batch, passes, g)
        parts = []
        with torch.no_grad():
            for chunk in degraded.split(16):
                x = chunk.to(self.device)
                parts.append(self.head.summarize(self.model.encoder(x)[4], x))
        return (torch.cat(parts), thumbnail(degraded, PIXEL_SIZE).to(self.device),
                thumbnail(original, PIXEL_SIZE).to(self.device))

    @torch.no_grad()
    def validation(self) -> dict[str, float]:
        """No-reference check of the current G_H on the first low-quality thumbnails.

        ``val_color``: colour distance of its output to the whole high-quality folder
        (fixed projections), the criterion of export "best". Diagnostics
        (docs/architecture.md): ``val_delta`` mean |output - input|; ``val_mean_gap``
        mean |channel mean of the outputs - that of the high folder|; ``val_sat``
        mean chroma of the outputs / that of the high folder.
        """
        g_h = self.model.g_h
        was_training = g_h.training
        g_h.eval()
        k = min(VALIDATION_IMAGES, self.low_pixels.shape[0])
        x = self.low_pixels[:k]
        transform = self.head.from_summary(self.low_summary[0, :k])
        y = g_h(x, self.model.encoder(x), transform).clamp(0, 1)
        g_h.train(was_training)
        directions = self.validation_directions

        def chroma(t: torch.Tensor) -> float:
            return float((t.amax(1) - t.amin(1)).mean())

        high = self.high_pixels
        return {
            "val_color": float(color_distance(y, high, directions)),
            "val_delta": float((y - x).abs().mean()),
            "val_mean_gap": float((y.mean((0, 2, 3)) - high.mean((0, 2, 3))).abs().mean()),
            "val_sat": chroma(y) / max(chroma(high), 1e-6),
        }

    def state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {"color.rng": self.generator.get_state(),
                   **optimizer_tensors("color.opt", self.optimizer.state_dict()["state"])}
        if self.objective == "quantile_pairs":  # the draws of ``degrade``
            tensors["color.degrade_rng"] = self.degrade_generator.get_state()
        if self.degradation is not None:
            tensors.update({f"color.degradation.{k}": v for k, v in self.degradation.state_dict().items()})
        return tensors

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], path: Path) -> None:
        """Restore from ``state_tensors`` (read from ``path``); a state saved without colour
        training starts it fresh, one saved before the degradation was fitted fits it."""
        if "color.rng" not in tensors:
            return
        self.generator.set_state(tensors["color.rng"])
        if "color.degrade_rng" in tensors:
            self.degrade_generator.set_state(tensors["color.degrade_rng"])
        state = optimizer_param_state("color.opt", tensors)
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": state, "param_groups": groups})
        prefix = "color.degradation."
        fitted = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if fitted and self.objective == "pairs":
            degradation = new_degradation(0)
            load_weights(degradation, fitted, "the learned degradation", path)
            self.degradation = degradation.requires_grad_(False)
            self.pairs = None
