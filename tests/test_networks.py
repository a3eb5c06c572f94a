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


def test_pixel_stats_of_known_images() -> None:
    from qagan_core.model.generators import PIXEL_QUANTILES, PIXEL_STATS, pixel_stats

    grey = torch.full((1, 3, 16, 16), 0.5)
    assert pixel_stats(grey).shape == (1, PIXEL_STATS)
    assert torch.allclose(pixel_stats(grey), torch.zeros(1, PIXEL_STATS))
    # a horizontal ramp 0..1 in red only: mean 0.5, std 1/sqrt(12), quantile q = q
    ramp = torch.zeros(1, 3, 4, 1001)
    ramp[:, 0] = torch.linspace(0, 1, 1001)
    red = pixel_stats(ramp).view(3, -1)[0]
    expected = torch.tensor([0.0, 12**-0.5, *(q - 0.5 for q in PIXEL_QUANTILES)])
    assert torch.allclose(red, expected, atol=1e-3)


def test_curve_head_with_pixel_stats_starts_as_identity_and_sees_exposure(random_encoder) -> None:
    config = ModelConfig(global_size=32, curve_pixel_stats=True)
    model = QAGAN(config, random_encoder).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.enhance_tensor(x), x, atol=1e-6)
        head = model.g_h.curve
        torch.manual_seed(0)
        for p in head.mlp.parameters():
            p.add_(0.1 * torch.randn_like(p))
        # with the VGG statistics silenced, the head still tells a dark image from a bright one
        relu5 = torch.zeros(2, 512, 2, 2)
        thumbs = torch.stack([torch.full((3, 32, 32), 0.1), torch.full((3, 32, 32), 0.9)])
        _mix, bias, knots = head(relu5, thumbs)
    assert not torch.allclose(bias[0], bias[1], atol=1e-4)
    assert not torch.allclose(knots[0], knots[1], atol=1e-4)


def test_model_files_without_the_pixel_stats_option_keep_the_old_head() -> None:
    """Files written before ``curve_pixel_stats`` existed load with it off, whatever the default."""
    old = {k: v for k, v in ModelConfig().to_dict().items() if k != "curve_pixel_stats"}
    assert ModelConfig.from_dict(old).curve_pixel_stats is False
    assert ModelConfig.from_dict({**old, "curve_pixel_stats": True}).curve_pixel_stats is True
