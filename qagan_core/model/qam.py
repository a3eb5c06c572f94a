"""Quality Attention Module (paper §3.1, eqs. 1-5).

Softmax direction. Eq. 1 writes the normaliser over i (positions of f_H), but
eq. 2 then needs, for every position i of f_H, a weighted sum of phi(f_L) over
the positions j of f_L. We normalise over j (the positions of f_L, the keys):
each output position is then a convex combination of low-quality features,
its scale does not grow with the image size, f_H and f_L may have different
sizes, and the module is exactly the non-local block [26] the paper builds on,
with the query from f_H and key/value from f_L.

Output projection. theta, v and phi map C -> C/8, so the attended features
(C/8 channels) are projected back to C by a 1x1 conv. With ``residual`` the
projection is zero-initialised and added to f_H (non-local style), so at
initialisation QAM(f_H, f_L) = AdaIN(f_H, f_L); without it f~_H = W e (eq. 2).
"""

from __future__ import annotations

import torch
from torch import nn


def channel_stats(f: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean (eq. 3) and std (eq. 4, population, +eps under the root)."""
    mean = f.mean(dim=(2, 3), keepdim=True)
    var = f.var(dim=(2, 3), keepdim=True, unbiased=False)
    return mean, torch.sqrt(var + eps)


def adain(content: torch.Tensor, style: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq. 5: give ``content`` the per-channel mean/std of ``style``."""
    mu_c, sigma_c = channel_stats(content, eps)
    mu_s, sigma_s = channel_stats(style, eps)
    return sigma_s * (content - mu_c) / sigma_c + mu_s


class QualityAttention(nn.Module):
    """QAM(f_H, f_L) -> f^_H with the content of f_H and the statistics of f_L."""

    def __init__(
        self,
        channels: int,
        reduction: int = 8,
        residual: bool = True,
        eps: float = 1e-5,
        query_chunk: int = 4096,
    ) -> None:
        super().__init__()
        inner = max(1, channels // reduction)
        self.theta = nn.Conv2d(channels, inner, 1)
        self.v = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Conv2d(channels, inner, 1)
        self.project = nn.Conv2d(inner, channels, 1)
        self.residual = residual
        self.eps = eps
        self.query_chunk = query_chunk
        if residual:
            nn.init.zeros_(self.project.weight)
            nn.init.zeros_(self.project.bias)

    def attend(self, f_h: torch.Tensor, f_l: torch.Tensor) -> torch.Tensor:
        """Eqs. 1-2: e_i = sum_j softmax_j(theta_i . v_j) phi_j, shaped like theta(f_H)."""
        b, _, h, w = f_h.shape
        query = self.theta(f_h).flatten(2)  # [B, c, S_H]
        key = self.v(f_l).flatten(2)  # [B, c, S_L]
        value = self.phi(f_l).flatten(2)  # [B, c, S_L]
        out = []
        # Chunking the queries bounds memory at chunk x S_L; the result is identical.
        for start in range(0, query.shape[2], self.query_chunk):
            q = query[:, :, start : start + self.query_chunk]
            weights = torch.softmax(torch.einsum("bci,bcj->bij", q, key), dim=-1)
            out.append(torch.einsum("bij,bcj->bci", weights, value))
        return torch.cat(out, dim=2).reshape(b, -1, h, w)

    def forward(self, f_h: torch.Tensor, f_l: torch.Tensor) -> torch.Tensor:
        f_tilde = self.project(self.attend(f_h, f_l))
        if self.residual:
            f_tilde = f_h + f_tilde
        return adain(f_tilde, f_l, self.eps)
