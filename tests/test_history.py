"""The discriminators' history buffer of generated images."""

from __future__ import annotations

import random

import torch

from qagan_core.training.history import ImageHistory


def test_size_zero_passes_the_batch_through() -> None:
    batch = torch.rand(3, 3, 4, 4)
    assert torch.equal(ImageHistory(0).query(batch, random.Random(0)), batch)


def test_fills_then_mixes_old_and_new_images() -> None:
    history = ImageHistory(4)
    rng = random.Random(0)
    first = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2)
    assert torch.equal(history.query(first, rng), first)  # filling: shown as they are
    assert len(history.images) == 4
    shown_old = 0
    for step in range(1, 21):
        new = torch.full((4, 3, 2, 2), 100.0 + step)
        shown = history.query(new, rng)
        assert shown.shape == new.shape
        shown_old += int((shown[:, 0, 0, 0] < 100 + step).sum())
        assert len(history.images) == 4
    assert 20 < shown_old < 60  # about half of the 80 images came from the buffer


def test_state_round_trip_and_new_size_clears() -> None:
    history = ImageHistory(2)
    history.query(torch.rand(2, 3, 4, 4), random.Random(0))
    other = ImageHistory(2)
    other.load(history.state(), torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(history.images, other.images, strict=True))
    shown = other.query(torch.rand(1, 3, 8, 8), random.Random(0))  # resumed at another size
    assert shown.shape == (1, 3, 8, 8) and other.images[0].shape == (3, 8, 8)
