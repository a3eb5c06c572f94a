"""A history buffer of generated images for the discriminators (Shrivastava et al. 2017).

Each generated image of a batch is either shown to D as it is or, once the
buffer is full and with probability 1/2, swapped for a random older one, as in
CycleGAN. The buffer is part of the training state, so resuming is exact.
"""

from __future__ import annotations

import random

import torch


class ImageHistory:
    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """The images D sees in place of ``batch`` (detached); updates the buffer."""
        batch = batch.detach()
        if self.size == 0:
            return batch
        if self.images and self.images[0].shape != batch.shape[1:]:
            self.images = []  # resumed with another training size
        out = []
        for image in batch:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif rng.random() < 0.5:
                i = rng.randrange(self.size)
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state(self) -> torch.Tensor | None:
        return torch.stack(self.images).cpu() if self.images else None

    def load(self, images: torch.Tensor | None, device: torch.device) -> None:
        self.images = [] if images is None else [im.to(device) for im in images]
