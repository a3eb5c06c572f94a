"""Multi-scale discriminator (paper §3.2, last paragraph).

A PatchGAN-style conv stack that scores from an intermediate layer (small
receptive field, guides details) and from the final layer (large receptive
field, global consistency). Spectral normalisation on every conv keeps the
relativistic hinge game stable without normalisation layers, which would mix
statistics of real and fake batches.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import spectral_norm


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, channels: int = 64, use_spectral_norm: bool = True) -> None:
        super().__init__()

        def conv(in_ch: int, out_ch: int, k: int, s: int, p: int) -> nn.Module:
            layer = nn.Conv2d(in_ch, out_ch, k, s, p)
            return spectral_norm(layer) if use_spectral_norm else layer

        c = channels
        act = nn.LeakyReLU(0.2, inplace=True)
        self.low = nn.Sequential(conv(3, c, 4, 2, 1), act, conv(c, 2 * c, 4, 2, 1), act)
        self.mid_head = conv(2 * c, 1, 3, 1, 1)
        self.high = nn.Sequential(
            conv(2 * c, 4 * c, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            conv(4 * c, 8 * c, 3, 1, 1),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.final_head = conv(8 * c, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Score maps ``[intermediate, final]`` for images in 0..1."""
        h = self.low(x * 2.0 - 1.0)
        return [self.mid_head(h), self.final_head(self.high(h))]
