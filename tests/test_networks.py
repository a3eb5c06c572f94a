"""Shapes, sizes and gradient flow of the networks."""

from __future__ import annotations

import torch
from helpers import TINY_MODEL, tiny_config

from qagan_core.encoder import FEATURE_CHANNELS
from qagan_core.model import QAGAN, ModelConfig, MultiScaleDiscriminator, apply_curve, pad_to_multiple
from qagan_core.training import Trainer


def test_encoder_features_and_frozen(random_encoder) -> None:
    x = torch.rand(2, 3, 64, 48)
    feats = random_encoder(x)
    assert [f.shape[1] for f in feats] == list(FEATURE_CHANNELS)
    assert [f.shape[2] for f in feats] == [64, 32, 16, 8, 4]
    assert not any(p.requires_grad for p in random_encoder.parameters())
    random_encoder.train()
    assert not random_encoder.training


def test_generators_keep_size_for_any_input(random_encoder) -> None:
    model = QAGAN(ModelConfig(global_size=32), random_encoder).eval()
    for h, w in ((37, 53), (16, 16), (5, 9)):
        x = torch.rand(1, 3, h, w)
        with torch.no_grad():
            assert model.enhance_tensor(x).shape == x.shape
            assert model.degrade_tensor(x, torch.rand(1, 3, 20, 30)).shape == x.shape


def test_fresh_generator_is_identity(random_encoder) -> None:
    """Zero-initialised residual heads: training starts from y = x (no early colour inversion)."""
    model = QAGAN(ModelConfig(global_size=32), random_encoder).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.enhance_tensor(x), x, atol=1e-6)
        assert torch.allclose(model.degrade_tensor(x, torch.rand(1, 3, 32, 32)), x, atol=1e-6)


def test_pad_to_multiple() -> None:
    x = torch.rand(1, 3, 17, 33)
    y, size = pad_to_multiple(x)
    assert y.shape[-2:] == (32, 48) and size == (17, 33)
    assert torch.equal(y[..., :17, :33], x)


def test_identity_curve() -> None:
    x = torch.rand(2, 3, 8, 8) * 1.2 - 0.1  # also outside 0..1: end slopes continue
    mix = torch.eye(3).expand(2, 3, 3)
    knots = torch.linspace(0, 1, 17).expand(2, 3, 17).contiguous()
    assert torch.allclose(apply_curve(x, mix, torch.zeros(2, 3), knots), x, atol=1e-6)


def test_discriminator_scores_two_scales() -> None:
    d = MultiScaleDiscriminator(8)
    scores = d(torch.rand(2, 3, 64, 64))
    assert [s.shape for s in scores] == [(2, 1, 16, 16), (2, 1, 8, 8)]


def test_gradients_reach_g_and_d_but_not_e(folders, random_encoder) -> None:
    low, high = folders
    trainer = Trainer(tiny_config(low, high, steps=3), encoder=random_encoder)
    trainer.train_step()  # zero-initialised heads: deeper layers get gradients from step 2 on
    trainer.train_step()
    for name, module in (("G_H", trainer.model.g_h), ("G_L", trainer.model.g_l),
                         ("D_H", trainer.d_h), ("D_L", trainer.d_l)):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name
    assert all(p.grad is None for p in random_encoder.parameters())
    assert trainer.config.model == TINY_MODEL
