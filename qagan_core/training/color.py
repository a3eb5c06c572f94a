"""Colour-distribution training of G_H's global head (an addition to the paper).

The head maps statistics of a whole-photo thumbnail to a colour transform
(``apply_curve``). Here it is trained, at thumbnail size and several times per
QAGAN step ("two-speed"), to make the pooled colours of enhanced low-quality
thumbnails match those of the high-quality folder (``color_distance``, a sliced
Wasserstein distance): a stable, non-adversarial signal that says *what colours
the look has* without needing pairs. The adversarial and cycle losses then
train the U-Net part of G_H (local detail), not the head; see
docs/architecture.md for why (the head trained adversarially overshoots).

The encoder is frozen and the head's input (``GlobalCurveHead.summarize``) has
no parameters, so the inputs of every thumbnail (and its mirror image) are
computed once; a step costs an MLP and a few thousand pixels.
"""

from __future__ import annotations

import torch

from ..checkpoints import optimizer_param_state, optimizer_tensors
from ..model import QAGAN, apply_curve, color_distance, random_directions
from ..pixels import thumbnail

PIXEL_SIZE = 32  # side of the thumbnails whose pixels are compared (sorting is the cost)
DIRECTIONS = 64  # random projections per step
VALIDATION_IMAGES = 32


def head_grad_norm(head: torch.nn.Module) -> float:
    """Norm of the gradient on the global head's parameters (a diagnostic)."""
    grads = [p.grad.detach().float().norm() for p in head.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


class ColorTraining:
    """Trains ``model.g_h.curve`` on thumbnails of the two folders; resumable."""

    def __init__(self, model: QAGAN, low_thumbs: torch.Tensor, high_thumbs: torch.Tensor,
                 lr: float, batch_size: int, seed: int) -> None:
        self.model = model
        self.head = model.g_h.curve
        if self.head is None:
            raise ValueError("colour training needs G_H's global head (global_curve)")
        device = model.device
        self.device = device
        self.batch_size = batch_size
        self.lr = lr
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
        self.optimizer = torch.optim.Adam(self.head.parameters(), lr=lr, betas=(0.9, 0.999))
        self.generator = torch.Generator().manual_seed(seed)
        self.grad_norm = 0.0  # of the last step (a diagnostic)
        self.validation_directions = random_directions(128, torch.Generator().manual_seed(0), device)

    def step(self, lr_factor: float) -> float:
        """One update of the head; returns the colour distance before it."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * lr_factor
        g = self.generator
        n_low, n_high = self.low_pixels.shape[0], self.high_pixels.shape[0]
        low = torch.randint(n_low, (self.batch_size,), generator=g)
        flip = torch.randint(2, (self.batch_size,), generator=g)
        high = torch.randint(n_high, (self.batch_size,), generator=g)
        directions = random_directions(DIRECTIONS, g, self.device)
        d = self.device
        transform = self.head.from_summary(self.low_summary[flip.to(d), low.to(d)])
        out = apply_curve(self.low_pixels[low.to(d)], *transform)
        loss = color_distance(out, self.high_pixels[high.to(d)], directions)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_norm = head_grad_norm(self.head)
        self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def validation(self) -> dict[str, float]:
        """No-reference check of the current G_H on the first low-quality thumbnails.

        ``val_color``: colour distance of its output to the whole high-quality folder
        (fixed projections), the criterion ``select_best`` uses. Diagnostics
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
        return {"color.rng": self.generator.get_state(),
                **optimizer_tensors("color.opt", self.optimizer.state_dict()["state"])}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore from ``state_tensors``; a state saved without colour training starts it fresh."""
        if "color.rng" not in tensors:
            return
        self.generator.set_state(tensors["color.rng"])
        state = optimizer_param_state("color.opt", tensors)
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": state, "param_groups": groups})
