"""Losses (paper §3.3): relativistic average hinge (eqs. 6-7) and VGG cycle loss (eq. 8).

Each discriminator returns several score maps (one per scale). The averages
E[D(.)] in eqs. 6-7 are taken over the batch and all positions of a map; the
loss of a discriminator is the mean over its scales. Under torchrun the
trainer passes ``mean`` = the mean over every process's batch, so the
relativistic averages are those of the global batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Mean = Callable[[torch.Tensor], torch.Tensor]


def _rahinge(good: torch.Tensor, bad: torch.Tensor, mean: Mean = torch.mean) -> torch.Tensor:
    """E[max(0, 1 - (good - E bad))] + E[max(0, 1 + (bad - E good))]."""
    return F.relu(1.0 - (good - mean(bad))).mean() + F.relu(1.0 + (bad - mean(good))).mean()


def rahinge_d_loss(real: list[torch.Tensor], fake: list[torch.Tensor],
                   mean: Mean = torch.mean) -> torch.Tensor:
    """Eqs. 6/7, the discriminator's side: real should score above fake."""
    return torch.stack([_rahinge(r, f, mean) for r, f in zip(real, fake, strict=True)]).mean()


def rahinge_g_loss(real: list[torch.Tensor], fake: list[torch.Tensor],
                   mean: Mean = torch.mean) -> torch.Tensor:
    """Eqs. 6/7 with the roles swapped, the generator's side: fake should score above real."""
    return torch.stack([_rahinge(f, r, mean) for r, f in zip(real, fake, strict=True)]).mean()


def cycle_loss(feats: list[torch.Tensor], feats_rec: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 8 for one direction: (1/J) sum_j mean squared error of phi_j(I) and phi_j(I^)."""
    return torch.stack([F.mse_loss(b, a) for a, b in zip(feats, feats_rec, strict=True)]).mean()


def color_distance(x: torch.Tensor, y: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Sliced Wasserstein-1 distance between the RGB pixels of two image batches.

    Not in the paper (an addition, see docs/architecture.md): ``x`` [B,3,h,w]
    and ``y`` [B',3,h',w'] are pooled into two clouds of RGB points, projected
    on the unit ``directions`` [3,P], and the sorted projections compared: 0
    when the two batches have the same colour distribution, whatever the
    images' content. ``y`` is resampled to ``x``'s number of points by quantile.
    """
    px = (directions.t() @ x.float().transpose(0, 1).reshape(3, -1)).sort(1).values  # [P, N]
    py = (directions.t() @ y.float().transpose(0, 1).reshape(3, -1)).sort(1).values
    if py.shape[1] != px.shape[1]:
        idx = torch.linspace(0, py.shape[1] - 1, px.shape[1], device=py.device).round().long()
        py = py[:, idx]
    return (px - py).abs().mean()


def random_directions(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` random unit vectors in RGB space, ``[3, n]``."""
    d = torch.randn(3, n, generator=generator).to(device)
    return d / d.norm(dim=0, keepdim=True)
