"""Losses against values computed by hand."""

from __future__ import annotations

import pytest
import torch

from qagan_core.model import cycle_loss, rahinge_d_loss, rahinge_g_loss


def test_rahinge_discriminator_by_hand() -> None:
    real = [torch.tensor([2.0, 0.0])]  # mean 1
    fake = [torch.tensor([-1.0, 1.0])]  # mean 0
    # real term: max(0, 1-(2-0)) = 0, max(0, 1-(0-0)) = 1 -> mean 0.5
    # fake term: max(0, 1+(-1-1)) = 0, max(0, 1+(1-1)) = 1 -> mean 0.5
    assert float(rahinge_d_loss(real, fake)) == pytest.approx(1.0)


def test_rahinge_generator_by_hand() -> None:
    real = [torch.tensor([2.0, 0.0])]  # mean 1
    fake = [torch.tensor([-1.0, 1.0])]  # mean 0
    # fake should beat real: max(0, 1-(-1-1)) = 3, max(0, 1-(1-1)) = 1 -> 2
    # real should lose:      max(0, 1+(2-0)) = 3, max(0, 1+(0-0)) = 1 -> 2
    assert float(rahinge_g_loss(real, fake)) == pytest.approx(4.0)


def test_rahinge_averages_scales() -> None:
    real = [torch.tensor([2.0, 0.0]), torch.full((4,), 5.0)]
    fake = [torch.tensor([-1.0, 1.0]), torch.zeros(4)]
    # second scale: real beats fake by 5 > 1 -> 0; overall (1 + 0) / 2
    assert float(rahinge_d_loss(real, fake)) == pytest.approx(0.5)


def test_cycle_loss_by_hand() -> None:
    a = [torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 1, 1)]
    b = [torch.ones(1, 2, 2, 2), torch.full((1, 1, 1, 1), 3.0)]
    # layer 1 mse = 1, layer 2 mse = 9 -> mean 5 (eq. 8 with J = 2)
    assert float(cycle_loss(a, b)) == pytest.approx(5.0)
