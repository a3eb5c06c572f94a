"""The QAGAN model as used for enhancement and degradation: E, G_H and G_L together."""

from __future__ import annotations

import torch
from torch import nn

from ..encoder import VGGEncoder
from ..pixels import thumbnail
from .config import ModelConfig
from .generators import GeneratorH, GeneratorL, crop_to, pad_to_multiple

Transform = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class QAGAN(nn.Module):
    """Frozen encoder plus the two generators, with size handling.

    ``info`` holds the metadata a saved model carries (training settings, data
    sizes, encoder identity).
    """

    def __init__(self, config: ModelConfig, encoder: VGGEncoder, info: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.g_h = GeneratorH(config)
        self.g_l = GeneratorL(config)
        self.info: dict = dict(info or {})

    @property
    def device(self) -> torch.device:
        return next(self.g_h.parameters()).device

    def global_transform(
        self, x: torch.Tensor, feats: list[torch.Tensor] | None = None
    ) -> Transform | None:
        """G_H's per-image colour transform, from a fixed-size thumbnail of ``x`` (float or uint8).

        The thumbnail makes it independent of resolution and tiling; ``feats``
        (= E(x)) are reused when ``x`` already has the thumbnail size.
        """
        if not self.config.global_curve:
            return None
        s = self.config.global_size
        if feats is not None and tuple(x.shape[-2:]) == (s, s):
            thumb, relu5 = x, feats[4]
        else:
            thumb = thumbnail(x, s)
            relu5 = self.encoder(thumb)[4]
        return self.g_h.global_transform(relu5, thumb)

    def enhance_tensor(self, x: torch.Tensor, transform: Transform | None = None) -> torch.Tensor:
        """G_H on a batch ``[B,3,H,W]`` of any size; unclamped output of the same size.

        Pass ``transform`` (from ``global_transform`` of the whole image) when
        ``x`` is a tile of a larger image.
        """
        if transform is None:
            transform = self.global_transform(x)
        xp, size = pad_to_multiple(x)
        y = self.g_h(xp, self.encoder(xp), transform)
        return crop_to(y, size)

    def degrade_tensor(self, x_h: torch.Tensor, x_l_ref: torch.Tensor) -> torch.Tensor:
        """G_L: ``x_h`` in the style of the low-quality reference ``x_l_ref`` (any sizes)."""
        xp, size = pad_to_multiple(x_h)
        refp, _ = pad_to_multiple(x_l_ref)
        if refp.shape[0] != xp.shape[0]:
            refp = refp.expand(xp.shape[0], -1, -1, -1)
        y = self.g_l(xp, self.encoder(xp), self.encoder(refp))
        return crop_to(y, size)
